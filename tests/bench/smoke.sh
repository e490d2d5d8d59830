#!/usr/bin/env bash
# Benchmark `cargo xtask smoke` after a one-line edit of daemon/daemon.go against the compile alone
# (`hack/make.sh binary` via plain `docker exec` in the same warm dev container), same run,
# alternating (the order flips every round): the time to its `smoke: PASS` line (target: <=
# compile + 1.5 s) and to its end, the cleanup after PASS included. Medians of RUNS (default 5).
# Debian's 20.10.24 by default, BENCH_TREE/BENCH_IMAGE for another tree.
. "$(dirname "$0")/common.sh"
runs=${RUNS:-5}
make_fork

echo "warming up (dev container, Go cache, first smoke)..." >&2
"$xtask" --fork "$fork" --image "$image" smoke >/dev/null
ctr=$(dev_container)
src=$(docker inspect -f '{{.Config.WorkingDir}}' "$ctr")

edit() { echo "var _ = \"bench edit $RANDOM$RANDOM\"" >>"$fork/$daemon_go"; }
compile() {
    local commit
    commit="$(git -C "$fork" rev-parse --short HEAD)-unsupported"
    docker exec -w "$src" -e DOCKER_GITCOMMIT="$commit" "$ctr" hack/make.sh binary
}
# smoke, printing the moment (epoch seconds) its PASS line came.
smoke() {
    "$xtask" --fork "$fork" --image "$image" smoke | while IFS= read -r l; do
        case $l in "smoke: PASS"*) date +%s.%N ;; esac
    done
}

by_hand() {
    edit
    c+=("$(secs compile)")
}
smoked() {
    edit
    local t0 t1 pass
    t0=$(date +%s.%N)
    pass=$(smoke)
    t1=$(date +%s.%N)
    p+=("$(awk "BEGIN {print $pass - $t0}")") s+=("$(awk "BEGIN {print $t1 - $t0}")")
}
s=() p=() c=()
for ((i = 0; i < runs; i++)); do
    if ((i % 2 == 0)); then by_hand; smoked; else smoked; by_hand; fi
done
S=$(printf '%s\n' "${s[@]}" | median) C=$(printf '%s\n' "${c[@]}" | median)
P=$(printf '%s\n' "${p[@]}" | median)
printf 'after a one-line edit: smoke PASS at %.2f s, compile alone %.2f s: +%.2f s (target <= +1.5 s); smoke ends at %.2f s (%.2fx compile)\n' \
    "$P" "$C" "$(awk "BEGIN {print $P - $C}")" "$S" "$(ratio "$S" "$C")"
printf 'runs: PASS at %s | compile %s\n' "${p[*]}" "${c[*]}"
