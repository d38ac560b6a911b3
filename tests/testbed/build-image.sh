#!/usr/bin/env bash
# Build one Molecule node image with debootstrap and `docker import`; never pulls.
# Usage: build-image.sh SUITE ARCH   (SUITE: bookworm|trixie, ARCH: amd64|arm64|armhf)
# The image is tagged kubeforge-node:<suite>-<arch> and labelled with a hash of
# this script, so it is rebuilt only when the recipe changes.
set -euo pipefail

suite=${1:?usage: build-image.sh SUITE ARCH}
arch=${2:?usage: build-image.sh SUITE ARCH}
mirror=${KUBEFORGE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
tag="kubeforge-node:${suite}-${arch}"

case "$suite" in
  bookworm|trixie) ;;
  *) echo "build-image: unsupported suite '$suite' (use bookworm or trixie)" >&2; exit 2 ;;
esac
case "$arch" in
  amd64|arm64|armhf) ;;
  *) echo "build-image: unsupported arch '$arch' (use amd64, arm64 or armhf)" >&2; exit 2 ;;
esac

# What goes into every node: systemd as PID 1, Python for Ansible, and the
# real tools the K3s test double leans on (openssl for its PKI, Debian's kubectl).
packages=systemd,systemd-sysv,python3,python3-apt,iproute2,ca-certificates,sudo,procps,openssl,kubernetes-client

recipe=$(printf '%s\n' "$packages" "$mirror" | cat - "$0" | sha256sum | cut -c1-16)
if [ "$(docker image inspect -f '{{ index .Config.Labels "kubeforge.recipe" }}' "$tag" 2>/dev/null)" = "$recipe" ]; then
  echo "build-image: $tag is up to date"
  exit 0
fi

work=$(mktemp -d /var/tmp/kubeforge-rootfs.XXXXXX)
trap 'rm -rf "$work"' EXIT
start=$(date +%s)
foreign=()
if [ "$arch" != "$(dpkg --print-architecture)" ]; then
  foreign=(--foreign)
fi
debootstrap --variant=minbase --arch="$arch" "${foreign[@]}" --include="$packages" \
  "$suite" "$work/rootfs" "$mirror" > "$work/debootstrap.log" 2>&1 || {
    tail -n 30 "$work/debootstrap.log" >&2
    echo "build-image: debootstrap of $suite/$arch failed (log above)" >&2
    exit 1
  }
if [ ${#foreign[@]} -gt 0 ]; then
  # Second stage runs the target's own binaries through qemu-user (binfmt).
  chroot "$work/rootfs" /debootstrap/debootstrap --second-stage > "$work/stage2.log" 2>&1 || {
    tail -n 30 "$work/stage2.log" >&2
    echo "build-image: debootstrap second stage of $suite/$arch failed" >&2
    exit 1
  }
fi
# Slim the image: no apt lists or caches, no docs.
rm -rf "$work/rootfs/var/lib/apt/lists/"* "$work/rootfs/var/cache/apt/"*.bin \
       "$work/rootfs/usr/share/doc" "$work/rootfs/usr/share/man"
# Containers have no real consoles or udev; mask what only fails there.
for unit in systemd-udevd.service systemd-udev-trigger.service getty@tty1.service \
            console-getty.service systemd-firstboot.service; do
  ln -sf /dev/null "$work/rootfs/etc/systemd/system/$unit"
done
echo "deb $mirror $suite main" > "$work/rootfs/etc/apt/sources.list"
# No machine-id of its own: systemd makes a new one when each container boots, as on a
# freshly installed machine, so every node is a distinct machine to Kubernetes (and to
# the plan, which refuses one machine listed twice under two inventory names).
: > "$work/rootfs/etc/machine-id"
rm -f "$work/rootfs/var/lib/dbus/machine-id"

tar -C "$work/rootfs" -c . | docker import \
  -c 'CMD ["/lib/systemd/systemd"]' \
  -c "LABEL kubeforge.recipe=$recipe kubeforge.arch=$arch kubeforge.suite=$suite" \
  - "$tag" > /dev/null
echo "build-image: built $tag in $(( $(date +%s) - start ))s"
