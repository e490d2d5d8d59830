#!/usr/bin/env bash
# Benchmark the live loop on Debian's moby 20.10.24: save -> the new daemon answering under
# `cargo xtask run --watch` (its "ready in X s", counted from the save) against the same
# one-line edit built by hand in the same container (`docker exec -e KEEPBUNDLE=1 <ctr>
# hack/make.sh binary`, the compile alone), first, with nothing watching. Target: ready <=
# by-hand build + 1.0 s. Same run, medians of RUNS (default 5) each; the loop's own "Finished
# ... in X s" is printed too.
. "$(dirname "$0")/common.sh"
runs=${RUNS:-5}
make_fork
"$xtask" --fork "$fork" --image "$image" binary >/dev/null 2>&1
ctr=$(dev_container)
src=$(docker inspect -f '{{.Config.WorkingDir}}' "$ctr")
edit() { echo "// bench edit $RANDOM$RANDOM" >>"$fork/cmd/dockerd/daemon.go"; }
hand=()
for ((i = 0; i < runs; i++)); do
    edit
    t0=$(date +%s.%N)
    docker exec -w "$src" -e KEEPBUNDLE=1 "$ctr" hack/make.sh binary >/dev/null 2>&1
    hand+=("$(awk "BEGIN {print $(date +%s.%N) - $t0}")")
done

log="$work/watch.log"
"$xtask" --fork "$fork" --image "$image" run --watch >"$log" 2>&1 &
watch_pid=$!
extra_cleanup="kill -INT $watch_pid"
for _ in $(seq 600); do grep -q Watching "$log" && break; sleep 1; done
grep -q Watching "$log" || { tail -20 "$log"; exit 1; }
ready=()
for ((i = 0; i < runs; i++)); do
    sleep 2
    n=$(grep -c 'ready in' "$log" || true)
    edit
    for _ in $(seq 1200); do [ "$(grep -c 'ready in' "$log")" -gt "$n" ] && break; sleep 0.1; done
    ready+=("$(grep 'ready in' "$log" | tail -1 | awk '{print $3}')")
done
kill -INT "$watch_pid"
wait "$watch_pid" || true
built=$(grep -o 'Finished hack/make.sh binary in [0-9.]*' "$log" | awk '{print $5}' | median)
R=$(printf '%s\n' "${ready[@]}" | median) H=$(printf '%s\n' "${hand[@]}" | median)
printf 'save -> new daemon answering: %.2f s; the same edit built by hand: %.2f s: +%.2f s (target <= +1.0 s)\n' \
    "$R" "$H" "$(awk "BEGIN {print $R - $H}")"
printf 'the loop'"'"'s own build: %.2f s (median); runs: ready %s | by hand %s\n' "$built" "${ready[*]}" "${hand[*]}"
