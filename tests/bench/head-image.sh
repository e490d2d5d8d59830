#!/usr/bin/env bash
# A registry-free dev image for an upstream moby checkout (HEAD needs Go 1.26): Debian trixie by
# debootstrap, golang-1.26 from trixie-backports, trixie's containerd, rootlesskit, tini (as
# docker-init) and crun (as runc), the docker CLI, and the paths and variables moby's Dockerfile
# `dev` stage sets. For the benches' BENCH_IMAGE (BENCH_TREE=<upstream checkout>).
#   tests/bench/head-image.sh <tag> <upstream checkout> [work dir]
set -euo pipefail
tag=${1:?usage: head-image.sh <tag> <upstream checkout> [work dir]}
tree=${2:?usage: head-image.sh <tag> <upstream checkout> [work dir]}
work=${3:-$HOME/.cache/moby-xtask-bench/head-image}
if docker image inspect "$tag" >/dev/null 2>&1; then
    echo "dev image $tag exists"
    exit 0
fi
root=$work/root
rm -rf "$root"
mkdir -p "$root"
pkgs=bash,git,ca-certificates,gcc,libc6-dev,make,pkg-config,libseccomp-dev,libsystemd-dev
pkgs=$pkgs,iptables,nftables,libnftables-dev,procps,containerd,tini,rootlesskit,crun,docker-cli
pkgs=$pkgs,xz-utils,file,patch,iproute2,kmod,e2fsprogs,jq,uidmap,sudo,gotestsum,curl
pkgs=$pkgs,fuse-overlayfs,pigz,zstd,net-tools,inetutils-ping,libcap2-bin
debootstrap --variant=minbase --include="$pkgs" trixie "$root" http://deb.debian.org/debian
echo 'deb http://deb.debian.org/debian trixie-backports main' >"$root/etc/apt/sources.list.d/backports.list"
chroot "$root" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t trixie-backports golang-1.26-go >/dev/null && apt-get clean'
chroot "$root" git config --system --add safe.directory /usr/src/moby
chroot "$root" useradd --create-home --gid docker unprivilegeduser 2>/dev/null \
    || chroot "$root" useradd --create-home unprivilegeduser
bin=$root/usr/local/bin
mkdir -p "$bin" "$root/usr/src/moby" "$root/go"
cp "$root/usr/bin/tini-static" "$bin/docker-init" 2>/dev/null || cp "$root/usr/bin/tini" "$bin/docker-init"
ln -sf /usr/bin/crun "$bin/runc"
for b in containerd containerd-shim-runc-v2 ctr rootlesskit; do ln -sf "/usr/bin/$b" "$bin/$b"; done
# HEAD's binary-daemon bundle copies these from the tree's contrib/.
cp "$tree/contrib/dockerd-rootless.sh" "$tree/contrib/dockerd-rootless-setuptool.sh" "$bin/"
tar -C "$root" -c . | docker import \
    --change 'ENV PATH=/go/bin:/usr/lib/go-1.26/bin:/usr/local/cli:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV GOPATH=/go' --change 'ENV GOTOOLCHAIN=local' \
    --change 'ENV CONTAINERD_ADDRESS=/run/docker/containerd/containerd.sock' \
    --change 'ENV CONTAINERD_NAMESPACE=moby' \
    --change 'WORKDIR /usr/src/moby' --change 'VOLUME /var/lib/docker' \
    --change 'ENTRYPOINT ["hack/dind"]' - "$tag"
rm -rf "$root"
