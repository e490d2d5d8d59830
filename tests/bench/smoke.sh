#!/usr/bin/env bash
# Benchmark `cargo xtask smoke` after a one-line edit of daemon/daemon.go against the compile alone
# (`hack/make.sh binary` via plain `docker exec` in the same warm dev container), same run, on
# Debian's moby 20.10.24. Target: smoke <= 1.15 x compile + 3 s. Medians of RUNS (default 3).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cache=${MOBY_XTASK_TEST_CACHE:-$HOME/.cache/moby-xtask-tests}
image=moby-xtask-test/dev:bookworm-20.10-v2
runs=${RUNS:-3}

tree=$("$root/tests/fixtures/moby-source.sh" bookworm "$cache")
"$root/tests/fixtures/dev-image.sh" "$image" "$tree" "$cache/image-work"
(cd "$root" && cargo build -q -p xtask)
xtask="$root/target/debug/xtask"

work=$(mktemp -d /tmp/moby-xtask-bench.XXXXXX)
fork="$work/fork"
cleanup() {
    docker ps -aq --filter "label=dev.moby-xtask.fork=$fork" | xargs -r docker rm -fv >/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
cp -a "$tree/engine" "$fork"
printf 'bundles/\nautogen/\ndockerversion/version_autogen*.go\n' >"$fork/.gitignore"
git -C "$fork" init -q
git -C "$fork" add -A
git -C "$fork" -c user.name=b -c user.email=b@example.com commit -q -m import

echo "warming up (dev container, Go cache, first smoke)..." >&2
"$xtask" --fork "$fork" --image "$image" smoke >/dev/null
ctr=$(docker ps -q --filter "label=dev.moby-xtask.fork=$fork")
src=$(docker inspect -f '{{.Config.WorkingDir}}' "$ctr")

edit() { echo "var _ = \"bench edit $RANDOM$RANDOM\"" >>"$fork/daemon/daemon.go"; }
compile() {
    local commit
    commit="$(git -C "$fork" rev-parse --short HEAD)-unsupported"
    docker exec -w "$src" -e DOCKER_GITCOMMIT="$commit" "$ctr" hack/make.sh binary >/dev/null 2>&1
}
smoke() { "$xtask" --fork "$fork" --image "$image" smoke >/dev/null; }
secs() { local t0 t1; t0=$(date +%s.%N); "$@"; t1=$(date +%s.%N); awk "BEGIN {print $t1 - $t0}"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

s=() c=()
for ((i = 0; i < runs; i++)); do
    edit; c+=("$(secs compile)")
    edit; s+=("$(secs smoke)")
done
S=$(printf '%s\n' "${s[@]}" | median) C=$(printf '%s\n' "${c[@]}" | median)
printf 'after a one-line edit: smoke %.2f s, compile alone %.2f s: smoke = %.2fx compile (%.2f s over); target <= 1.15x + 3 s = %.2f s\n' \
    "$S" "$C" "$(awk "BEGIN {print $S / $C}")" "$(awk "BEGIN {print $S - $C}")" "$(awk "BEGIN {print 1.15 * $C + 3}")"
