#!/usr/bin/env bash
# Benchmark a `cargo xtask binary` whose inputs did not change since its last build (`Fresh`,
# target <= 0.5 s) against the fork's own `hack/make.sh binary` in the same warm dev container,
# which builds again whatever changed: the same run, paired, medians (farm-bench). Then `--force`
# against the same script (the tool's cost around a real no-op build, target <= 0.3 s) and
# `shell -- true` against `docker exec <ctr> true` (re-entry, target <= 1.0x).
#   tests/bench/fresh.sh             (RUNS=9 to change the number of pairs)
. "$(dirname "$0")/common.sh"
runs=${RUNS:-7}
make_fork

echo "warming up (dev container, Go cache, a first build)..." >&2
"$xtask" --fork "$fork" --image "$image" binary >/dev/null 2>&1
ctr=$(dev_container)
src=$(docker inspect -f '{{.Config.WorkingDir}}' "$ctr")
commit=$(git -C "$fork" rev-parse --short HEAD)
"$xtask" --fork "$fork" --image "$image" binary 2>&1 | grep -q Fresh || {
    echo "the second binary was not Fresh" >&2
    exit 1
}
bench() { farm-bench -n "$runs" --timeout 1800 "$@" | grep -E 'wall|ratio'; }

# Not paired: each run of the fork's script writes new files, after which no binary is fresh.
echo "== the fork's hack/make.sh binary, nothing changed"
bench -- docker exec -w "$src" -e DOCKER_GITCOMMIT="$commit" "$ctr" hack/make.sh binary
"$xtask" --fork "$fork" --image "$image" binary >/dev/null 2>&1
echo "== binary, nothing changed since its build: Fresh"
bench -- "$xtask" --fork "$fork" --image "$image" binary
echo "== binary --force vs the fork's hack/make.sh binary (the tool's own cost around a build)"
bench --vs "docker exec -w $src -e DOCKER_GITCOMMIT=$commit $ctr hack/make.sh binary" \
    -- "$xtask" --fork "$fork" --image "$image" binary --force
echo "== shell -- true vs docker exec <ctr> true (re-entry)"
RUNS_SHELL=$((runs * 3))
farm-bench -n "$RUNS_SHELL" --vs "docker exec $ctr true" \
    -- "$xtask" --fork "$fork" --image "$image" shell -- true | grep -E 'wall|ratio'
