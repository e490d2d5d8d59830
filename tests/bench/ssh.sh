#!/usr/bin/env bash
# Benchmark an engine reached over ssh (tests/fixtures/remote-engine.sh: Debian's dockerd in a
# container, sshd on 127.0.0.1, a key made here), same run, medians of RUNS (default 9):
#   per API call   `cargo xtask -v doctor`'s Engine API calls after the first (one pooled
#                  `docker system dial-stdio` carries them) vs one `docker -H ssh://… version`
#   shell -- true  `cargo xtask shell -- true` (synced source, nothing changed) vs
#                  `docker -H ssh://… exec <ctr> true`, the docker CLI over the same ssh
#   SYNC_TREE=/path/to/moby/checkout: the same no-change comparison on that tree too (an upstream
#                  HEAD clone: ~13k files), the overhead printed (target <= 0.1 s)
# Needs root (debootstrap for the first image) and a Docker daemon; uses the e2e tier's cache.
. "$(dirname "$0")/common.sh"
runs=${RUNS:-9}
make_fork

remote="moby-xtask-bench-ssh-$$"
extra_cleanup="env -u DOCKER_HOST docker rm -fv $remote"
ports=$("$root/tests/fixtures/remote-engine.sh" "$image" "$remote" "$work/remote")
port=${ports##* }
tls=${ports%% *}
echo "loading the dev image into the remote engine..." >&2
docker save "$image" | DOCKER_HOST="tcp://127.0.0.1:$tls" DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH="$work/remote" docker load -q >/dev/null
# ssh with the key made here, no host key prompt: a wrapper first on PATH (ssh reads the
# passwd entry's ~/.ssh, not $HOME).
mkdir -p "$work/bin"
printf 'Host 127.0.0.1\n  IdentityFile %s/remote/id_ed25519\n  IdentitiesOnly yes\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n' "$work" >"$work/ssh_config"
printf '#!/bin/sh\nexec /usr/bin/ssh -F %s "$@"\n' "$work/ssh_config" >"$work/bin/ssh"
chmod +x "$work/bin/ssh"
export PATH="$work/bin:$PATH" DOCKER_HOST="ssh://root@127.0.0.1:$port"

# Per call: the API calls of `doctor` (RUNS times) after the connection's set-up, but for `/info`
# and `/version`, whose time is mostly the engine's own work (as long over TLS).
calls=$(for ((i = 0; i < runs; i++)); do "$xtask" -v --fork "$fork" --image "$image" doctor 2>&1; done | grep -E '^ +Engine .*ms\)$' || true)
first=$(echo "$calls" | grep ' connect ' | sed -E 's/.*\(([0-9.]+) ms\)$/\1/' | median)
later=$(echo "$calls" | grep -v -e ' connect ' -e 'info, version' | sed -E 's/.*\(([0-9.]+) ms\)$/\1/' | median)
n=$(echo "$calls" | grep -v -e ' connect ' -e 'info, version' | grep -c . || true)
dv=()
for ((i = 0; i < runs; i++)); do dv+=("$(secs docker version)"); done
DV=$(printf '%s\n' "${dv[@]}" | median)
printf 'ssh per API call: xtask connect (ping, version) %.1f ms, then median of %s later calls %.2f ms (target <= 5 ms); docker -H ssh:// version %.1f ms\n' \
    "$first" "$n" "$later" "$(awk "BEGIN {print $DV * 1000}")"

noop_case() { # noop_case <fork>
    local f=$1 xs=() ds=()
    xt() { "$xtask" --fork "$f" --image "$image" shell -- true; }
    echo "warming up on $f (volume, dev container, first sync)..." >&2
    xt >/dev/null 2>&1
    local ctr files
    ctr=$(docker ps -q --filter "label=dev.moby-xtask.fork=$f" --filter label=dev.moby-xtask.role=dev)
    files=$(git -C "$f" ls-files | wc -l)
    de() { docker exec "$ctr" true; }
    for ((i = 0; i < runs; i++)); do
        xs+=("$(secs xt)") ds+=("$(secs de)")
    done
    local x d
    x=$(printf '%s\n' "${xs[@]}" | median) d=$(printf '%s\n' "${ds[@]}" | median)
    printf 'ssh no-change shell -- true (%s files): xtask %.3f s, docker exec over ssh %.3f s, overhead %.3f s (%.2fx)\n' \
        "$files" "$x" "$d" "$(awk "BEGIN {print $x - $d}")" "$(ratio "$x" "$d")"
}
noop_case "$fork"
if [ -n "${SYNC_TREE:-}" ]; then
    git clone -q "$SYNC_TREE" "$work/head"
    noop_case "$work/head"
    # Remove the HEAD clone's containers on the engine too (cleanup knows only $fork).
    docker ps -aq --filter "label=dev.moby-xtask.fork=$work/head" | xargs -r docker rm -fv >/dev/null
fi
