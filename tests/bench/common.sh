# Sourced by the benchmarks: the e2e tier's cached fixtures, the xtask binary, a scratch fork
# under git (removed, with its containers, on exit), and timing helpers. The fork is Debian's
# moby 20.10.24, or a clone of the upstream checkout BENCH_TREE (for example moby HEAD) run with
# the registry-free dev image BENCH_IMAGE made for it:
#   BENCH_TREE=~/src/moby BENCH_IMAGE=my/dev:head tests/bench/watch.sh
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cache=${MOBY_XTASK_TEST_CACHE:-$HOME/.cache/moby-xtask-tests}
bench_tree=${BENCH_TREE:-}
if [ -n "$bench_tree" ]; then
    image=${BENCH_IMAGE:?BENCH_TREE needs BENCH_IMAGE, a dev image for that tree}
    docker image inspect "$image" >/dev/null
    tree_name="$(git -C "$bench_tree" log -1 --format=%h) of $bench_tree"
else
    image=moby-xtask-test/dev:bookworm-20.10-v3
    tree=$("$root/tests/fixtures/moby-source.sh" bookworm "$cache")
    "$root/tests/fixtures/dev-image.sh" "$image" "$tree" "$cache/image-work"
    tree_name="Debian's moby 20.10.24"
fi
echo "bench: $tree_name, image $image" >&2
(cd "$root" && cargo build -q -p xtask)
xtask="$root/target/debug/xtask"

work=$(mktemp -d /tmp/moby-xtask-bench.XXXXXX)
fork="$work/fork"
extra_cleanup=:
cleanup() {
    docker ps -aq --filter "label=dev.moby-xtask.fork=$fork" | xargs -r docker rm -fv >/dev/null
    $extra_cleanup >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

# The tree as a contributor's fork: a clone of BENCH_TREE's commit, else the 20.10.24 engine
# tree in one commit, with what upstream's build writes ignored.
make_fork() {
    if [ -n "$bench_tree" ]; then
        git clone -q --depth 1 "file://$(cd "$bench_tree" && pwd)" "$fork"
        return
    fi
    cp -a "$tree/engine" "$fork"
    printf 'bundles/\nautogen/\ndockerversion/version_autogen*.go\n' >"$fork/.gitignore"
    git -C "$fork" init -q "$@"
    git -C "$fork" add -A
    git -C "$fork" -c user.name=b -c user.email=b@example.com commit -q -m import
}

# The file the benches edit: the daemon package, in every era.
daemon_go=daemon/daemon.go

dev_container() { docker ps -q --filter "label=dev.moby-xtask.fork=$fork"; }
secs() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null 2>&1; t1=$(date +%s.%N); awk "BEGIN {print $t1 - $t0}"; }
# wait_for FILE TEXT N: until FILE holds TEXT N times (exit 1 after 120 s), looked at every
# 20 ms with bash builtins only: a process started per look (grep, sleep) costs the CPU that the
# build being timed runs on, and made the loop's own build 0.4 s slower than the same by hand.
# The moment it saw it is in $SEEN_AT.
mkfifo "$work/nap"
wait_for() {
    local text rest i
    for ((i = 0; i < 6000; i++)); do
        text=
        IFS= read -r -d '' text <"$1" || true
        rest=${text//"$2"/}
        if (((${#text} - ${#rest}) / ${#2} >= $3)); then
            SEEN_AT=$EPOCHREALTIME
            return 0
        fi
        read -r -t 0.02 <>"$work/nap" || true
    done
    return 1
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
ratio() { awk "BEGIN {print $1 / $2}"; }
