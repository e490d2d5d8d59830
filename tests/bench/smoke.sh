#!/usr/bin/env bash
# Benchmark `cargo xtask smoke` after a one-line edit of daemon/daemon.go against the compile alone
# (`hack/make.sh binary` via plain `docker exec` in the same warm dev container), same run, on
# Debian's moby 20.10.24. Target: smoke <= 1.15 x compile + 3 s. Medians of RUNS (default 3).
. "$(dirname "$0")/common.sh"
runs=${RUNS:-3}
make_fork

echo "warming up (dev container, Go cache, first smoke)..." >&2
"$xtask" --fork "$fork" --image "$image" smoke >/dev/null
ctr=$(dev_container)
src=$(docker inspect -f '{{.Config.WorkingDir}}' "$ctr")

edit() { echo "var _ = \"bench edit $RANDOM$RANDOM\"" >>"$fork/daemon/daemon.go"; }
compile() {
    local commit
    commit="$(git -C "$fork" rev-parse --short HEAD)-unsupported"
    docker exec -w "$src" -e DOCKER_GITCOMMIT="$commit" "$ctr" hack/make.sh binary
}
smoke() { "$xtask" --fork "$fork" --image "$image" smoke; }

s=() c=()
for ((i = 0; i < runs; i++)); do
    edit
    c+=("$(secs compile)")
    edit
    s+=("$(secs smoke)")
done
S=$(printf '%s\n' "${s[@]}" | median) C=$(printf '%s\n' "${c[@]}" | median)
printf 'after a one-line edit: smoke %.2f s, compile alone %.2f s: smoke = %.2fx compile (%.2f s over); target <= 1.15x + 3 s = %.2f s\n' \
    "$S" "$C" "$(ratio "$S" "$C")" "$(awk "BEGIN {print $S - $C}")" "$(awk "BEGIN {print 1.15 * $C + 3}")"
