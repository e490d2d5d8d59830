#!/usr/bin/env bash
# Benchmark `cargo xtask test unit --watch ./pkg/pidfile`: save -> the package's result line,
# against `go test ./pkg/pidfile` and the fork's `hack/test/unit` by hand after the same kind of
# edit, in the same container. Target: <= go test by hand + 0.5 s. Alternating: each round builds
# by hand, then starts a watch, saves once, waits for its result and stops it (the order flips
# every round). Medians of RUNS (default 5) each. Debian's 20.10.24 by default,
# BENCH_TREE/BENCH_IMAGE for another tree.
. "$(dirname "$0")/common.sh"
runs=${RUNS:-5}
make_fork
pkg=pkg/pidfile
"$xtask" --fork "$fork" --image "$image" test unit "./$pkg" >/dev/null 2>&1
ctr=$(dev_container)
src=$(docker inspect -f '{{.Config.WorkingDir}}' "$ctr")
edit() { echo "// bench edit $RANDOM$RANDOM" >>"$fork/$pkg/pidfile.go"; }
log="$work/unit-watch.log"
by_hand() {
    edit
    gt+=("$(secs docker exec -w "$src" "$ctr" go test "./$pkg")")
    edit
    hu+=("$(secs docker exec -w "$src" -e TESTDIRS="./$pkg" "$ctr" hack/test/unit)")
}
watched() {
    : >"$log"
    "$xtask" --fork "$fork" --image "$image" test unit --watch "./$pkg" >"$log" 2>&1 &
    local pid=$! n t0
    extra_cleanup="kill -INT $pid"
    for _ in $(seq 3000); do grep -q Watching "$log" && break; sleep 0.2; done
    grep -q Watching "$log" || { tail -20 "$log"; exit 1; }
    sleep 1
    n=$(grep -c ' passed, ' "$log" || true)
    t0=$EPOCHREALTIME
    edit
    wait_for "$log" ' passed, ' $((n + 1)) || { tail -20 "$log"; exit 1; }
    ws+=("$(awk "BEGIN {print $SEEN_AT - $t0}")")
    kill -INT "$pid"
    wait "$pid" || true
    extra_cleanup=:
}
gt=() hu=() ws=()
for ((i = 0; i < runs; i++)); do
    if ((i % 2 == 0)); then by_hand; watched; else watched; by_hand; fi
done
W=$(printf '%s\n' "${ws[@]}" | median) G=$(printf '%s\n' "${gt[@]}" | median)
U=$(printf '%s\n' "${hu[@]}" | median)
printf 'save -> result under test unit --watch: %.2f s; go test by hand %.2f s (+%.2f s, target <= +0.5 s); hack/test/unit by hand %.2f s\n' \
    "$W" "$G" "$(awk "BEGIN {print $W - $G}")" "$U"
printf 'runs: watch %s | go test %s\n' "${ws[*]}" "${gt[*]}"
