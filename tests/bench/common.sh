# Sourced by the benchmarks: the e2e tier's cached fixtures, the xtask binary, a scratch fork of
# Debian's moby 20.10.24 under git (removed, with its containers, on exit), and timing helpers.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cache=${MOBY_XTASK_TEST_CACHE:-$HOME/.cache/moby-xtask-tests}
image=moby-xtask-test/dev:bookworm-20.10-v3
tree=$("$root/tests/fixtures/moby-source.sh" bookworm "$cache")
"$root/tests/fixtures/dev-image.sh" "$image" "$tree" "$cache/image-work"
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

# The 20.10.24 engine tree as a contributor's fork: one commit, upstream's build ignores.
make_fork() {
    cp -a "$tree/engine" "$fork"
    printf 'bundles/\nautogen/\ndockerversion/version_autogen*.go\n' >"$fork/.gitignore"
    git -C "$fork" init -q "$@"
    git -C "$fork" add -A
    git -C "$fork" -c user.name=b -c user.email=b@example.com commit -q -m import
}

dev_container() { docker ps -q --filter "label=dev.moby-xtask.fork=$fork"; }
secs() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null 2>&1; t1=$(date +%s.%N); awk "BEGIN {print $t1 - $t0}"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
ratio() { awk "BEGIN {print $1 / $2}"; }
