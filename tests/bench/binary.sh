#!/usr/bin/env bash
# Benchmark `cargo xtask binary` against plain `docker exec <ctr> hack/make.sh binary` in the same
# warm dev container, same run, on Debian's moby 20.10.24: a no-op rebuild and a rebuild after a
# one-line edit of daemon/daemon.go. Prints medians and the ratio (target: <= 1.10x).
#   tests/bench/binary.sh            (RUNS=5 to change the number of runs per case)
# Needs root (debootstrap for the first image) and a Docker daemon; uses the e2e tier's cache.
. "$(dirname "$0")/common.sh"
runs=${RUNS:-3}
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
edit() { echo "var _ = \"bench edit $RANDOM$RANDOM\"" >>"$fork/daemon/daemon.go"; }

for case in no-op one-line-edit; do
    xs=() ds=()
    for ((i = 0; i < runs; i++)); do
        # Alternate the order so that neither side always runs second.
        if ((i % 2 == 0)); then
            [ "$case" = no-op ] || edit
            xs+=("$(secs xt)")
            [ "$case" = no-op ] || edit
            ds+=("$(secs dx)")
        else
            [ "$case" = no-op ] || edit
            ds+=("$(secs dx)")
            [ "$case" = no-op ] || edit
            xs+=("$(secs xt)")
        fi
    done
    x=$(printf '%s\n' "${xs[@]}" | median) d=$(printf '%s\n' "${ds[@]}" | median)
    printf 'binary %-15s xtask %6.2f s   docker exec %6.2f s   ratio %.3fx\n' "$case" "$x" "$d" "$(ratio "$x" "$d")"
done

# cargo's own start-up, which `cargo xtask` adds on top of the tool (reported apart).
cargo_s=$(cd "$root" && secs cargo run -q -p xtask -- --version)
tool_s=$(secs "$xtask" --version)
printf '%-22s cargo run %.3f s   binary alone %.3f s\n' "start-up" "$cargo_s" "$tool_s"
