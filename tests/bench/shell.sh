#!/usr/bin/env bash
# Benchmark warm `cargo xtask shell -- true` (dev container already running) against
# `docker exec <ctr> true` (target <= 1.3x) and against the make equivalent, a cached `docker build`
# of the dev image's Dockerfile with the fork as context plus `docker run --rm … true` (target: xtask
# >= 5x faster). cargo's own start-up is reported apart. Same run, medians of RUNS (default 10).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cache=${MOBY_XTASK_TEST_CACHE:-$HOME/.cache/moby-xtask-tests}
image=moby-xtask-test/dev:bookworm-20.10-v2
runs=${RUNS:-10}

tree=$("$root/tests/fixtures/moby-source.sh" bookworm "$cache")
"$root/tests/fixtures/dev-image.sh" "$image" "$tree" "$cache/image-work"
(cd "$root" && cargo build -q -p xtask)
xtask="$root/target/debug/xtask"

work=$(mktemp -d /tmp/moby-xtask-bench.XXXXXX)
fork="$work/fork"
cleanup() {
    docker ps -aq --filter "label=dev.moby-xtask.fork=$fork" | xargs -r docker rm -fv >/dev/null
    docker rmi moby-xtask-bench/make-equivalent >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
cp -a "$tree/engine" "$fork"

"$xtask" --fork "$fork" --image "$image" --commit bench shell -- true 2>/dev/null # creates the dev container
ctr=$(docker ps -q --filter "label=dev.moby-xtask.fork=$fork")
# The make equivalent: what `make shell` does on every call (a cached build, then a new container).
printf 'FROM %s\n' "$image" >"$work/Dockerfile"
mk_build() { docker build -q -t moby-xtask-bench/make-equivalent -f "$work/Dockerfile" "$fork" >/dev/null; }
# This host may refuse --privileged; use what the tool fell back to, so both pay the same.
privileged=(--privileged)
docker run --rm --privileged "$image" true >/dev/null 2>&1 || privileged=(--cap-add ALL --cap-drop SYS_RESOURCE
    --security-opt seccomp=unconfined --security-opt apparmor=unconfined --security-opt systempaths=unconfined)
mk_run() { docker run --rm -i "${privileged[@]}" -v "$fork:/go/src/github.com/docker/docker" \
    -v docker-dev-cache:/root/.cache --entrypoint hack/dind moby-xtask-bench/make-equivalent true; }
mk_build

secs() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null 2>&1; t1=$(date +%s.%N); awk "BEGIN {print $t1 - $t0}"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
xt() { "$xtask" --fork "$fork" --image "$image" --commit bench shell -- true; }
dx() { docker exec "$ctr" true; }
make_eq() { mk_build && mk_run; }
cargo_xt() { (cd "$root" && cargo run -q -p xtask -- --fork "$fork" --image "$image" --commit bench shell -- true); }

x=() d=() m=() c=()
for ((i = 0; i < runs; i++)); do
    x+=("$(secs xt)") d+=("$(secs dx)") m+=("$(secs make_eq)") c+=("$(secs cargo_xt)")
done
X=$(printf '%s\n' "${x[@]}" | median) D=$(printf '%s\n' "${d[@]}" | median)
M=$(printf '%s\n' "${m[@]}" | median) C=$(printf '%s\n' "${c[@]}" | median)
printf 'shell -- true: xtask %.3f s, docker exec %.3f s: ratio %.2fx (target <= 1.3x)\n' "$X" "$D" "$(awk "BEGIN {print $X / $D}")"
printf 'make equivalent (cached build + run --rm): %.3f s: xtask is %.1fx faster (target >= 5x)\n' "$M" "$(awk "BEGIN {print $M / $X}")"
printf 'through cargo (cargo run -p xtask): %.3f s, of which cargo start-up %.3f s\n' "$C" "$(awk "BEGIN {print $C - $X}")"
