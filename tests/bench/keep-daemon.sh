#!/usr/bin/env bash
# Benchmark `test integration --keep-daemon` on Debian's 20.10.24 with the frozen images made
# locally: a second run (the kept daemon reused, no build, no daemon start) against the first
# (build, daemon started and kept), alternating, medians; then the kept run against a plain
# `test integration` of the same test (which builds, starts and stops a daemon each time).
#   tests/bench/keep-daemon.sh         (RUNS=7 to change the number of rounds)
. "$(dirname "$0")/common.sh"
runs=${RUNS:-5}
frozen=moby-xtask-test/dev:bookworm-20.10-v3-frozen
docker image inspect "$frozen" >/dev/null 2>&1 || {
    echo "no $frozen: run the e2e tier once (integration_e2e makes it)" >&2
    exit 1
}
make_fork
x() { DOCKER_GRAPHDRIVER=vfs "$xtask" --fork "$fork" --image "$frozen" "$@"; }
t=(test integration --run TestVersion integration/system)
echo "warming up (dev container, Go cache, a first build)..." >&2
x "${t[@]}" >/dev/null 2>&1
first=() second=()
for _ in $(seq "$runs"); do
    x test integration --keep-daemon=stop >/dev/null 2>&1
    first+=("$(secs x "${t[@]}" --keep-daemon)")
    second+=("$(secs x "${t[@]}" --keep-daemon)")
done
f=$(printf '%s\n' "${first[@]}" | median)
s=$(printf '%s\n' "${second[@]}" | median)
echo "== --keep-daemon: first run (build, daemon started) vs second (daemon reused), $runs rounds"
echo "first  median ${f} s (${first[*]})"
echo "second median ${s} s (${second[*]})"
echo "ratio second/first: $(ratio "$s" "$f")"
# A plain run stops a kept daemon (both would use the container's /var/lib/docker): each round
# starts one again, untimed, then times its reuse and a plain run of the same test.
kept=() plain=()
for _ in $(seq "$runs"); do
    x "${t[@]}" --keep-daemon >/dev/null 2>&1
    kept+=("$(secs x "${t[@]}" --keep-daemon)")
    plain+=("$(secs x "${t[@]}")")
done
k=$(printf '%s\n' "${kept[@]}" | median)
p=$(printf '%s\n' "${plain[@]}" | median)
echo "== the kept run (reused) vs a plain run of the same test (builds, starts and stops a daemon), $runs rounds"
echo "kept  median ${k} s (${kept[*]})"
echo "plain median ${p} s (${plain[*]})"
echo "ratio kept/plain: $(ratio "$k" "$p")"
x test integration --keep-daemon=stop >/dev/null 2>&1
