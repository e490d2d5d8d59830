#!/usr/bin/env bash
# Benchmark the live loop: save -> the new daemon answering under `cargo xtask run --watch` (the
# moment its "ready in" line appears, counted here from the save) against the same kind of one-line edit built by hand in
# the same container (`docker exec -e KEEPBUNDLE=1 <ctr> hack/make.sh binary`, the compile alone,
# nothing watching). Target: ready <= by-hand build + 1.0 s. Alternating: each round starts a
# watch, saves once, waits for its "ready in", stops it, and builds one edit by hand (the order
# flips every round). Medians of RUNS (default 5) each; the loop's own "Finished ... in X s" is
# printed too. Debian's 20.10.24 by default, BENCH_TREE/BENCH_IMAGE for another tree.
. "$(dirname "$0")/common.sh"
runs=${RUNS:-5}
make_fork
"$xtask" --fork "$fork" --image "$image" binary >/dev/null 2>&1
ctr=$(dev_container)
src=$(docker inspect -f '{{.Config.WorkingDir}}' "$ctr")
edit() { echo "// bench edit $RANDOM$RANDOM" >>"$fork/$daemon_go"; }
log="$work/watch.log"
by_hand() {
    edit
    local t0
    t0=$(date +%s.%N)
    docker exec -w "$src" -e KEEPBUNDLE=1 "$ctr" hack/make.sh binary >/dev/null 2>&1
    hand+=("$(awk "BEGIN {print $(date +%s.%N) - $t0}")")
}
watched() {
    : >"$log"
    "$xtask" --fork "$fork" --image "$image" run --watch >"$log" 2>&1 &
    local pid=$!
    extra_cleanup="kill -INT $pid"
    for _ in $(seq 600); do grep -q Watching "$log" && break; sleep 0.2; done
    grep -q Watching "$log" || { tail -20 "$log"; exit 1; }
    sleep 1
    local t0=$EPOCHREALTIME
    edit
    wait_for "$log" 'ready in' 1 || { tail -20 "$log"; exit 1; }
    ready+=("$(awk "BEGIN {print $SEEN_AT - $t0}")")
    grep -o 'Finished hack/make.sh binary in [0-9.]*' "$log" | awk '{print $5}' >>"$work/built"
    kill -INT "$pid"
    wait "$pid" || true
    extra_cleanup=:
}
hand=() ready=()
for ((i = 0; i < runs; i++)); do
    if ((i % 2 == 0)); then by_hand; watched; else watched; by_hand; fi
done
built=$(median <"$work/built")
R=$(printf '%s\n' "${ready[@]}" | median) H=$(printf '%s\n' "${hand[@]}" | median)
printf 'save -> new daemon answering: %.2f s; the same edit built by hand: %.2f s: +%.2f s (target <= +1.0 s)\n' \
    "$R" "$H" "$(awk "BEGIN {print $R - $H}")"
printf 'the loop'"'"'s own build: %.2f s (median); runs: ready %s | by hand %s\n' "$built" "${ready[*]}" "${hand[*]}"
