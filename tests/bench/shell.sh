#!/usr/bin/env bash
# Benchmark warm `cargo xtask shell -- true` (dev container already running) against
# `docker exec <ctr> true` (target <= 1.0x) and against the make equivalent, a cached `docker build`
# of the dev image's Dockerfile with the fork as context plus `docker run --rm … true` (target: xtask
# >= 5x faster). cargo's own start-up is reported apart. The fork is under git and no --commit is
# given, so the stamp is computed as a contributor's call computes it. Same run, medians of RUNS
# (default 15), each round alternating the four. Debian's 20.10.24 by default,
# BENCH_TREE/BENCH_IMAGE for another tree.
. "$(dirname "$0")/common.sh"
runs=${RUNS:-15}
make_fork
extra_cleanup='docker rmi moby-xtask-bench/make-equivalent'

xt() { "$xtask" --fork "$fork" --image "$image" shell -- true; }
xt 2>/dev/null # creates the dev container
ctr=$(dev_container)
src=$(docker inspect -f '{{.Config.WorkingDir}}' "$ctr")
# The make equivalent: what `make shell` does on every call (a cached build, then a new container).
printf 'FROM %s\n' "$image" >"$work/Dockerfile"
mk_build() { docker build -q -t moby-xtask-bench/make-equivalent -f "$work/Dockerfile" "$fork"; }
# This host may refuse --privileged; use what the tool fell back to, so both pay the same.
privileged=(--privileged)
docker run --rm --privileged "$image" true >/dev/null 2>&1 || privileged=(--cap-add ALL --cap-drop SYS_RESOURCE
    --security-opt seccomp=unconfined --security-opt apparmor=unconfined --security-opt systempaths=unconfined)
mk_run() { docker run --rm -i "${privileged[@]}" -v "$fork:$src" \
    -v docker-dev-cache:/root/.cache --entrypoint hack/dind moby-xtask-bench/make-equivalent true; }
mk_build >/dev/null
dx() { docker exec "$ctr" true; }
make_eq() { mk_build && mk_run; }
cargo_xt() { (cd "$root" && cargo run -q -p xtask -- --fork "$fork" --image "$image" shell -- true); }

x=() d=() m=() c=()
for ((i = 0; i < runs; i++)); do
    x+=("$(secs xt)") d+=("$(secs dx)") m+=("$(secs make_eq)") c+=("$(secs cargo_xt)")
done
X=$(printf '%s\n' "${x[@]}" | median) D=$(printf '%s\n' "${d[@]}" | median)
M=$(printf '%s\n' "${m[@]}" | median) C=$(printf '%s\n' "${c[@]}" | median)
printf 'shell -- true: xtask %.3f s, docker exec %.3f s: ratio %.2fx (target <= 1.0x)\n' "$X" "$D" "$(ratio "$X" "$D")"
printf 'make equivalent (cached build + run --rm): %.3f s: xtask is %.1fx faster (target >= 5x)\n' "$M" "$(ratio "$M" "$X")"
printf 'through cargo (cargo run -p xtask): %.3f s, of which cargo start-up %.3f s\n' "$C" "$(awk "BEGIN {print $C - $X}")"
