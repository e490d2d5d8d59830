#!/usr/bin/env bash
# Benchmark warm `cargo xtask shell -- true` on a Podman service (tests/fixtures/engines.sh starts
# it) against `podman --remote exec <ctr> true` and `docker exec <ctr> true` through the same
# socket (target: xtask <= 1.3x podman exec), and say whether the second and later commands
# asked the shared-files question again (they must not: `-v` shows the probe). Same run, medians
# of RUNS (default 10). ENGINES_DIR: where the engine keeps its state (default /var/tmp/...).
. "$(dirname "$0")/common.sh"
runs=${RUNS:-10}
state=${ENGINES_DIR:-/var/tmp/moby-xtask-engines}/podman
engines="$root/tests/fixtures/engines.sh"
host=$("$engines" start podman "$state")
"$engines" load podman "$state" "$image" >&2
extra_cleanup="env DOCKER_HOST=$host sh -c 'docker ps -aq --filter label=dev.moby-xtask.fork=$fork | xargs -r docker rm -fv'"
make_fork
export HOME="$work/home"
mkdir -p "$HOME"

xt() { DOCKER_HOST=$host "$xtask" --fork "$fork" --image "$image" shell -- true; }
first=$( { time -p xt; } 2>&1 | awk '/^real/ {print $2}')
ctr=$(DOCKER_HOST=$host docker ps -q --filter "label=dev.moby-xtask.fork=$fork")
probes=$(DOCKER_HOST=$host "$xtask" -v --fork "$fork" --image "$image" shell -- true 2>&1 | grep -c 'probe: shared files' || true)
pe() { podman --remote --url "$host" exec "$ctr" true; }
de() { DOCKER_HOST=$host docker exec "$ctr" true; }

x=() p=() d=()
for ((i = 0; i < runs; i++)); do
    x+=("$(secs xt)") p+=("$(secs pe)") d+=("$(secs de)")
done
X=$(printf '%s\n' "${x[@]}" | median) P=$(printf '%s\n' "${p[@]}" | median)
D=$(printf '%s\n' "${d[@]}" | median)
printf 'podman: first shell -- true (container made from the 2 GB image on vfs) %.1f s\n' "$first"
printf 'podman: shared-files probes in a later command: %s (want 0)\n' "$probes"
printf 'podman: memo files: %s\n' "$(find "$HOME/.cache/moby-xtask" -type f | wc -l)"
printf 'podman: shell -- true: xtask %.3f s, podman exec %.3f s: ratio %.2fx (target <= 1.3x); docker exec through the socket %.3f s\n' \
    "$X" "$P" "$(ratio "$X" "$P")" "$D"
