#!/usr/bin/env bash
# Benchmark the synced source on an engine that does not share this machine's files: a "remote"
# engine (tests/fixtures/remote-engine.sh: Debian's dockerd in a container, TLS on 127.0.0.1),
# against the plain docker CLI doing the same work on that engine, same run:
#   first sync of a tree     `cargo xtask shell -- true` with no manifest (every file sent) vs
#                            `git ls-files | tar | docker cp - <ctr>:<src>` (the same files)
#   no-change sync           `cargo xtask shell -- true` vs `docker exec <ctr> true`
#   one-file edit + binary   `cargo xtask binary` (sync, build, bundles back) vs `docker cp` of the
#                            edited file + `docker exec <ctr> hack/make.sh binary`
# Prints medians, differences and ratios.
#   tests/bench/remote.sh                 (the 20.10.24 fork)
#   SYNC_TREE=/path/to/moby/checkout tests/bench/remote.sh   (first/no-change sync of that tree too,
#                                          e.g. an upstream HEAD clone: ~13k files)
# Needs root (debootstrap for the first image) and a Docker daemon; uses the e2e tier's cache.
. "$(dirname "$0")/common.sh"
runs=${RUNS:-3}
make_fork

remote="moby-xtask-bench-remote-$$"
# The remote engine (and all it holds) goes with its container, on the local engine.
extra_cleanup="env -u DOCKER_HOST -u DOCKER_TLS_VERIFY -u DOCKER_CERT_PATH docker rm -fv $remote"
ports=$("$root/tests/fixtures/remote-engine.sh" "$image" "$remote" "$work/remote")
tls=${ports%% *}
export DOCKER_HOST="tcp://127.0.0.1:$tls" DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH="$work/remote"
echo "loading the dev image into the remote engine..." >&2
env -u DOCKER_HOST -u DOCKER_TLS_VERIFY -u DOCKER_CERT_PATH docker save "$image" | docker load -q >/dev/null

sync_case() { # sync_case <fork>
    local f=$1 ctr src xs=() ds=() ns=() es=()
    xt() { "$xtask" --fork "$f" --image "$image" shell -- true; }
    echo "warming up on $f (volume, dev container)..." >&2
    xt >/dev/null 2>&1
    ctr=$(docker ps -q --filter "label=dev.moby-xtask.fork=$f" --filter label=dev.moby-xtask.role=dev)
    src=$(docker inspect -f '{{.Config.WorkingDir}}' "$ctr")
    local files
    files=$(git -C "$f" ls-files | wc -l)
    full() { rm -f "$HOME"/.cache/moby-xtask/sync/*/moby-xtask-src-"$(basename "$f")"-*; xt; }
    cp_all() { (cd "$f" && git ls-files -z | tar --null -T - -c) | docker cp - "$ctr:$src"; }
    for ((i = 0; i < runs; i++)); do
        xs+=("$(secs full)")
        ds+=("$(secs cp_all)")
        ns+=("$(secs xt)")
        es+=("$(secs docker exec "$ctr" true)")
    done
    local x d n e
    x=$(printf '%s\n' "${xs[@]}" | median) d=$(printf '%s\n' "${ds[@]}" | median)
    n=$(printf '%s\n' "${ns[@]}" | median) e=$(printf '%s\n' "${es[@]}" | median)
    printf 'first sync (%s files)   xtask %6.2fs   docker cp %6.2fs   ratio %.2fx\n' "$files" "$x" "$d" "$(ratio "$x" "$d")"
    printf 'no-change shell         xtask %6.2fs   docker exec %6.2fs   overhead %.2fs\n' "$n" "$e" "$(awk "BEGIN {print $n - $e}")"
}

sync_case "$fork"
if [ -n "${SYNC_TREE:-}" ]; then
    head_fork="$work/head"
    git clone -q "$SYNC_TREE" "$head_fork"
    sync_case "$head_fork"
fi

xb() { "$xtask" --fork "$fork" --image "$image" binary; }
echo "warming up the build (Go caches on the engine)..." >&2
xb >/dev/null 2>&1
ctr=$(docker ps -q --filter "label=dev.moby-xtask.fork=$fork" --filter label=dev.moby-xtask.role=dev)
src=$(docker inspect -f '{{.Config.WorkingDir}}' "$ctr")
edit() { echo "var _ = \"bench edit $RANDOM$RANDOM\"" >>"$fork/daemon/daemon.go"; }
dx() {
    local commit
    commit=$(git -C "$fork" rev-parse --short HEAD)-unsupported
    docker cp "$fork/daemon/daemon.go" "$ctr:$src/daemon/daemon.go" &&
        docker exec -w "$src" -e DOCKER_GITCOMMIT="$commit" "$ctr" hack/make.sh binary
}
xs=() ds=()
for ((i = 0; i < runs; i++)); do
    edit
    xs+=("$(secs xb)")
    edit
    ds+=("$(secs dx)")
done
x=$(printf '%s\n' "${xs[@]}" | median) d=$(printf '%s\n' "${ds[@]}" | median)
printf 'edit + binary           xtask %6.2fs   docker cp+exec %6.2fs   overhead %.2fs (%.2fx)\n' \
    "$x" "$d" "$(awk "BEGIN {print $x - $d}")" "$(ratio "$x" "$d")"
