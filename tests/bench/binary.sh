#!/usr/bin/env bash
# Benchmark `cargo xtask binary` against plain `docker exec <ctr> hack/make.sh binary` in the same
# warm dev container, same run, on Debian's moby 20.10.24: a no-op rebuild and a rebuild after a
# one-line edit of daemon/daemon.go. Prints medians and the ratio (target: <= 1.10x).
#
#   tests/bench/binary.sh            (RUNS=5 to change the number of runs per case)
# Needs root (debootstrap for the first image) and a Docker daemon; uses the e2e tier's cache.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cache=${MOBY_XTASK_TEST_CACHE:-$HOME/.cache/moby-xtask-tests}
image=moby-xtask-test/dev:bookworm-20.10-v2
runs=${RUNS:-3}

tree=$("$root/tests/fixtures/moby-source.sh" bookworm "$cache")
"$root/tests/fixtures/dev-image.sh" "$image" "$tree" "$cache/image-work"
(cd "$root" && cargo build -q -p xtask)
xtask="$root/target/debug/xtask"

work=$(mktemp -d /tmp/moby-xtask-bench.XXXXXX)
fork="$work/fork"
cleanup() {
    docker ps -aq --filter "label=dev.moby-xtask.fork=$fork" | xargs -r docker rm -fv >/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
cp -a "$tree/engine" "$fork"
printf 'bundles/\nautogen/\ndockerversion/version_autogen*.go\n' >"$fork/.gitignore"
git -C "$fork" init -q
git -C "$fork" add -A
git -C "$fork" -c user.name=b -c user.email=b@example.com commit -q -m import

xt() { "$xtask" --fork "$fork" --image "$image" binary >/dev/null 2>&1; }
echo "warming up (dev container, Go cache)..." >&2
xt
ctr=$(docker ps -q --filter "label=dev.moby-xtask.fork=$fork")
src=$(docker inspect -f '{{.Config.WorkingDir}}' "$ctr")
dx() {
    local commit
    commit=$(git -C "$fork" rev-parse --short HEAD)
    [ -z "$(git -C "$fork" status --porcelain --untracked-files=no)" ] || commit="$commit-unsupported"
    docker exec -w "$src" -e DOCKER_GITCOMMIT="$commit" "$ctr" hack/make.sh binary >/dev/null 2>&1
}
secs() { local t0 t1; t0=$(date +%s.%N); "$@"; t1=$(date +%s.%N); awk "BEGIN {print $t1 - $t0}"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
edit() { echo "var _ = \"bench edit $RANDOM$RANDOM\"" >>"$fork/daemon/daemon.go"; }

report() {
    local name=$1 x=$2 d=$3
    printf '%-22s xtask %6.2f s   docker exec %6.2f s   ratio %.3fx\n' "$name" "$x" "$d" "$(awk "BEGIN {print $x / $d}")"
}

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
    report "binary $case" "$(printf '%s\n' "${xs[@]}" | median)" "$(printf '%s\n' "${ds[@]}" | median)"
done

# cargo's own start-up, which `cargo xtask` adds on top of the tool (reported apart).
quiet() { "$@" >/dev/null; }
cargo_s=$(cd "$root" && secs quiet cargo run -q -p xtask -- --version)
tool_s=$(secs quiet "$xtask" --version)
printf '%-22s cargo run %.3f s   binary alone %.3f s\n' "start-up" "$cargo_s" "$tool_s"
