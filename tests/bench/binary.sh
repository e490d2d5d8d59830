#!/usr/bin/env bash
# Benchmark `cargo xtask binary` against plain `docker exec <ctr> hack/make.sh binary` in the same
# warm dev container, same run, alternating: a no-op rebuild (the tool says Fresh; the fork's
# script builds again) and a rebuild after a one-line edit of daemon/daemon.go. Prints medians,
# their difference and ratio. Debian's 20.10.24 by default, BENCH_TREE/BENCH_IMAGE for another.
#   tests/bench/binary.sh            (RUNS=7 to change the number of runs per case, default 5)
# Needs root (debootstrap for the first image) and a Docker daemon; uses the e2e tier's cache.
. "$(dirname "$0")/common.sh"
runs=${RUNS:-5}
make_fork

xt() { "$xtask" --fork "$fork" --image "$image" binary; }
echo "warming up (dev container, Go cache)..." >&2
xt >/dev/null 2>&1
ctr=$(dev_container)
src=$(docker inspect -f '{{.Config.WorkingDir}}' "$ctr")
dx() {
    local commit
    commit=$(git -C "$fork" rev-parse --short HEAD)
    [ -z "$(git -C "$fork" status --porcelain --untracked-files=no)" ] || commit="$commit-unsupported"
    docker exec -w "$src" -e DOCKER_GITCOMMIT="$commit" "$ctr" hack/make.sh binary
}
edit() { echo "var _ = \"bench edit $RANDOM$RANDOM\"" >>"$fork/$daemon_go"; }

# Before the tool's run: an edit, or (no-op) a build of the tool's own, unmeasured, since the
# fork's script run by hand wrote new files, which no fresh build may take for its own.
prepare() {
    if [ "$case" = no-op ]; then xt >/dev/null 2>&1; else edit; fi
}
for case in no-op one-line-edit; do
    xs=() ds=()
    for ((i = 0; i < runs; i++)); do
        # Alternate the order so that neither side always runs second.
        if ((i % 2 == 0)); then
            prepare
            xs+=("$(secs xt)")
            [ "$case" = no-op ] || edit
            ds+=("$(secs dx)")
        else
            [ "$case" = no-op ] || edit
            ds+=("$(secs dx)")
            prepare
            xs+=("$(secs xt)")
        fi
    done
    x=$(printf '%s\n' "${xs[@]}" | median) d=$(printf '%s\n' "${ds[@]}" | median)
    printf 'binary %-15s xtask %6.2f s   docker exec %6.2f s   %+.2f s   ratio %.3fx\n' "$case" "$x" "$d" \
        "$(awk "BEGIN {print $x - $d}")" "$(ratio "$x" "$d")"
done

# cargo's own start-up, which `cargo xtask` adds on top of the tool (reported apart).
cargo_s=$(cd "$root" && secs cargo run -q -p xtask -- --version)
tool_s=$(secs "$xtask" --version)
printf '%-22s cargo run %.3f s   binary alone %.3f s\n' "start-up" "$cargo_s" "$tool_s"
