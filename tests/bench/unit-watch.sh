#!/usr/bin/env bash
# Benchmark `cargo xtask test unit --watch ./pkg/stringid` on Debian's moby 20.10.24: save -> the
# package's result line, against `go test ./pkg/stringid` and the fork's `hack/test/unit` by hand
# after the same kind of edit, in the same container. Target: <= go test by hand + 0.5 s. Same
# run, medians of RUNS (default 5) each.
. "$(dirname "$0")/common.sh"
runs=${RUNS:-5}
make_fork
pkg=pkg/stringid
"$xtask" --fork "$fork" --image "$image" test unit "./$pkg" >/dev/null 2>&1
ctr=$(dev_container)
src=$(docker inspect -f '{{.Config.WorkingDir}}' "$ctr")
edit() { echo "// bench edit $RANDOM$RANDOM" >>"$fork/$pkg/stringid.go"; }
now() { date +%s.%N; }
gt=() hu=()
for ((i = 0; i < runs; i++)); do
    edit
    gt+=("$(secs docker exec -w "$src" "$ctr" go test "./$pkg")")
    edit
    hu+=("$(secs docker exec -w "$src" -e TESTDIRS="./$pkg" "$ctr" hack/test/unit)")
done
log="$work/unit-watch.log"
"$xtask" --fork "$fork" --image "$image" test unit --watch "./$pkg" >"$log" 2>&1 &
extra_cleanup="kill -INT $!"
for _ in $(seq 600); do grep -q Watching "$log" && break; sleep 0.2; done
ws=()
for ((i = 0; i < runs; i++)); do
    sleep 1
    n=$(grep -c ' passed, ' "$log" || true)
    t0=$(now)
    edit
    while [ "$(grep -c ' passed, ' "$log")" -le "$n" ]; do sleep 0.02; done
    ws+=("$(awk "BEGIN {print $(now) - $t0}")")
done
W=$(printf '%s\n' "${ws[@]}" | median) G=$(printf '%s\n' "${gt[@]}" | median)
U=$(printf '%s\n' "${hu[@]}" | median)
printf 'save -> result under test unit --watch: %.2f s; go test by hand %.2f s (+%.2f s, target <= +0.5 s); hack/test/unit by hand %.2f s\n' \
    "$W" "$G" "$(awk "BEGIN {print $W - $G}")" "$U"
