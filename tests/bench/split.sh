#!/usr/bin/env bash
# Benchmark `cargo xtask test integration --engines local,a,b` (the suites split over this
# machine's engine and two "remote" ones, tests/fixtures/remote-engine.sh, each reached by a
# docker context over TLS) against the same subset on one engine, same run, after a warm-up of
# both (Go caches on every engine). Three units of one test each on Debian's moby 20.10.24. On a
# 2-core machine the engines share the CPU: the per-engine times are printed too.
#   RUNS (default 1): timed runs of each; DIRS / RUN: another subset.
# Needs root (debootstrap for the first image) and a Docker daemon; uses the e2e tier's cache.
. "$(dirname "$0")/common.sh"
runs=${RUNS:-1}
run_re=${RUN:-TestVersion|TestVolumesInspect|TestTagInvalidReference}
read -r -a dirs <<<"${DIRS:-integration/system integration/volume integration/image}"
frozen="$image-frozen"
"$root/tests/fixtures/frozen-images.sh" "$image" "$frozen" "$cache" /docker-frozen-images \
    busybox:latest busybox:glibc hello-world:latest debian:bullseye-slim >/dev/null
make_fork
export HOME="$work/home" DOCKER_CONFIG="$work/docker-config" DOCKER_GRAPHDRIVER=vfs
mkdir -p "$HOME"
names=()
split_cleanup() { docker rm -fv "moby-xtask-bench-split-a-$$" "moby-xtask-bench-split-b-$$"; }
extra_cleanup=split_cleanup
for e in a b; do
    ports=$("$root/tests/fixtures/remote-engine.sh" "$image" "moby-xtask-bench-split-$e-$$" "$work/$e")
    d="$work/$e"
    docker context create "bench-$e" --docker "host=tcp://127.0.0.1:${ports%% *},ca=$d/ca.pem,cert=$d/cert.pem,key=$d/key.pem" >/dev/null
    names+=("bench-$e")
done
echo "loading the dev image into both remote engines..." >&2
for e in a b; do docker save "$frozen" | docker --context "bench-$e" load -q >/dev/null & done
wait
engines="local,${names[0]},${names[1]}"
one() { "$xtask" --fork "$fork" --image "$frozen" test integration --run "$run_re" "${dirs[@]}"; }
split() { "$xtask" --fork "$fork" --image "$frozen" test integration --engines "$engines" --run "$run_re" "${dirs[@]}"; }
echo "warming up (first builds on every engine)..." >&2
one >/dev/null 2>&1
split >/dev/null 2>&1
os=() ss=()
for ((i = 0; i < runs; i++)); do
    os+=("$(secs one)")
    t0=$(date +%s.%N)
    out=$(split 2>/dev/null)
    t1=$(date +%s.%N)
    ss+=("$(awk "BEGIN {print $t1 - $t0}")")
done
O=$(printf '%s\n' "${os[@]}" | median) S=$(printf '%s\n' "${ss[@]}" | median)
printf 'one engine %.1f s, split over 3 engines %.1f s: ratio %.2fx (%s)\n' "$O" "$S" "$(ratio "$S" "$O")" "$run_re"
echo "per engine, last split run:"
echo "$out" | grep -E '^  [^ ]+: [0-9]+ passed' || true
for e in a b; do
    docker --context "bench-$e" ps -aq --filter "label=dev.moby-xtask.fork=$fork" | xargs -r docker --context "bench-$e" rm -fv >/dev/null 2>&1 || true
done
