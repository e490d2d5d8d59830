#!/usr/bin/env bash
# The dev image reuse check: what a warm `cargo xtask shell -- true` pays for the image when it is
# current (target <= 50 ms), measured (1) on a fixture fork whose image is current, with the whole
# `shell -- true` against `docker exec` in the same run, and (2) on Debian's real moby 20.10.24
# tree, where only the check itself can be timed offline (its Dockerfile pulls a BuildKit frontend).
. "$(dirname "$0")/common.sh"
runs=${RUNS:-10}
"$root/tests/fixtures/base-image.sh" moby-xtask-test/busybox:1 "$cache"
buildx_config=$("$root/tests/fixtures/buildx.sh" "$cache" 2>/dev/null)
branch="bench-$$"
extra_cleanup="docker rmi -f docker-dev:$branch"

cp -a "$root/hack-compat/tests/fixtures/e4" "$fork"
cp -a "$tree/engine/hack/dockerfile" "$fork/hack/"
printf 'FROM moby-xtask-test/busybox:1 AS base\nRUN --mount=type=cache,target=/root/.cache/b true\nFROM base AS dev\nWORKDIR /go/src/github.com/docker/docker\n' >"$fork/Dockerfile"
git -C "$fork" init -q -b "$branch"
git -C "$fork" add -A
git -C "$fork" -c user.name=b -c user.email=b@example.com commit -q -m fixture # a branch needs a commit
DOCKER_CONFIG=$buildx_config "$xtask" --fork "$fork" --commit bench shell -- true 2>/dev/null # builds the image
ctr=$(dev_container)

# The check's own timing line; on a stale image the build that follows is cut short (no buildx).
check() {
    { DOCKER_CONFIG=$2 "$xtask" --verbose --color never --fork "$1" --commit bench image 2>&1 || true; } |
        sed -n 's/.*Checked dev image .*: [a-z]* (\([0-9.]*\) ms).*/\1/p'
}
xt() { DOCKER_CONFIG=$buildx_config "$xtask" --fork "$fork" --commit bench shell -- true; }

c=() x=() d=() r=()
for ((i = 0; i < runs; i++)); do
    c+=("$(check "$fork" "$buildx_config")")
    x+=("$(secs xt)")
    d+=("$(secs docker exec "$ctr" true)")
done
rt="$work/real"
cp -a "$tree/engine" "$rt"
git -C "$rt" init -q
mkdir -p "$work/no-buildx"
for ((i = 0; i < runs; i++)); do r+=("$(check "$rt" "$work/no-buildx")"); done
printf 'reuse check, fixture fork (image current): %.1f ms (target <= 50 ms)\n' "$(printf '%s\n' "${c[@]}" | median)"
printf 'reuse check, Debian moby 20.10.24 inputs:   %.1f ms\n' "$(printf '%s\n' "${r[@]}" | median)"
X=$(printf '%s\n' "${x[@]}" | median) D=$(printf '%s\n' "${d[@]}" | median)
printf 'shell -- true with a current image: xtask %.3f s, docker exec %.3f s (%.2fx); no build ran\n' "$X" "$D" "$(ratio "$X" "$D")"
