#!/usr/bin/env bash
# Benchmark the daily-loop tasks on Debian's moby 20.10.24, same run, medians of RUNS (default 3):
# `test unit ./pkg/stringid` against `docker exec <ctr> hack/test/unit` with the same TESTDIRS
# (target <= 1.10x), and `run` on a built tree: seconds from start until it prints the
# DOCKER_HOST that answers (target <= 2 s).
. "$(dirname "$0")/common.sh"
runs=${RUNS:-3}
make_fork

xt() { "$xtask" --fork "$fork" --image "$image" "$@"; }
xt binary >/dev/null 2>&1 # the dev container, a build for `run`, a warm Go cache
ctr=$(dev_container)
src=$(docker inspect -f '{{.Config.WorkingDir}}' "$ctr")
commit=$(git -C "$fork" rev-parse --short HEAD)
unit_xt() { xt test unit ./pkg/stringid; }
unit_dx() { docker exec -w "$src" -e TESTDIRS=./pkg/stringid -e DOCKER_GITCOMMIT="$commit" "$ctr" hack/test/unit; }
unit_xt >/dev/null 2>&1 # first compile of the test binary

# Seconds from `run`'s start until it prints the DOCKER_HOST, then Ctrl-C.
run_up() {
    local out t0 t1
    out=$(mktemp)
    t0=$(date +%s.%N)
    # The binary itself, not the `xt` function: $! must be the process that gets the Ctrl-C.
    "$xtask" --fork "$fork" --image "$image" run >"$out" 2>&1 &
    local pid=$!
    until grep -q 'dockerd is up' "$out"; do
        kill -0 "$pid" 2>/dev/null || { echo "run ended early:" >&2; cat "$out" >&2; return 1; }
        sleep 0.05
    done
    t1=$(date +%s.%N)
    kill -INT "$pid"
    wait "$pid" || true
    rm -f "$out"
    awk "BEGIN {print $t1 - $t0}"
}

x=() d=() r=()
for ((i = 0; i < runs; i++)); do
    x+=("$(secs unit_xt)") d+=("$(secs unit_dx)") r+=("$(run_up)")
done
X=$(printf '%s\n' "${x[@]}" | median) D=$(printf '%s\n' "${d[@]}" | median)
R=$(printf '%s\n' "${r[@]}" | median)
printf 'test unit ./pkg/stringid: xtask %.2f s, docker exec hack/test/unit %.2f s: ratio %.2fx (target <= 1.10x)\n' "$X" "$D" "$(ratio "$X" "$D")"
printf 'run: answering %.2f s after start, built tree (target <= 2 s)\n' "$R"
