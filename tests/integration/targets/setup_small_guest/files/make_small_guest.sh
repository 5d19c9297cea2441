#!/usr/bin/env bash
# Builds DIR/small.qcow2 for the guest_info/guest_repair targets in about a second, without mounting
# anything on the host (mkfs.ext4 -d packs a folder of regular files): a Debian-looking guest that
# libguestfs recognises, whose fstab and grub.cfg boot from /dev/sda1 (to be repaired) and whose one
# kernel's initramfs already holds the virtio drivers (no initramfs rebuild: a real repair takes
# one appliance launch, not minutes).
# Usage: make_small_guest.sh DIR
set -euo pipefail
dir="$1"
kernel=6.1.0-99-amd64
work="$(mktemp -d "$dir/build.XXXXXX")"
trap 'rm -rf "$work"' EXIT

tree="$work/tree"
mkdir -p "$tree"/{etc/network,boot/grub,bin,sbin,usr/bin,usr/sbin,var/lib/dpkg,root,tmp}
mkdir -p "$tree/lib/modules/$kernel/kernel/drivers/block"
printf 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n' \
  >"$tree/etc/os-release"
echo 12.5 >"$tree/etc/debian_version"
echo h2k-small >"$tree/etc/hostname"
printf '127.0.0.1\tlocalhost\n' >"$tree/etc/hosts"
printf '# <file system> <mount point> <type> <options> <dump> <pass>\n/dev/sda1 / ext4 errors=remount-ro 0 1\n' \
  >"$tree/etc/fstab"
printf 'auto lo\niface lo inet loopback\n' >"$tree/etc/network/interfaces"
printf 'menuentry "Debian GNU/Linux" {\n\tlinux\t/boot/vmlinuz-%s root=/dev/sda1 ro quiet\n\tinitrd\t/boot/initrd.img-%s\n}\n' \
  "$kernel" "$kernel" >"$tree/boot/grub/grub.cfg"
echo "not a real kernel" >"$tree/boot/vmlinuz-$kernel"
: >"$tree/lib/modules/$kernel/modules.builtin"
: >"$tree/lib/modules/$kernel/kernel/drivers/block/virtio_blk.ko"

# The initramfs: a gzip-compressed cpio archive that lists every virtio driver, as a repaired guest's would.
initrd="$work/initrd"
for module in block/virtio_blk scsi/virtio_scsi virtio/virtio_pci net/virtio_net char/virtio_console; do
  mkdir -p "$initrd/usr/lib/modules/$kernel/kernel/drivers/$(dirname "$module")"
  : >"$initrd/usr/lib/modules/$kernel/kernel/drivers/$module.ko"
done
(cd "$initrd" && find . | LC_ALL=C sort | cpio --quiet -o -H newc) | gzip -n -9 >"$tree/boot/initrd.img-$kernel"

# One MBR partition from 1 MiB; the filesystem is written into it at that offset.
raw="$work/small.raw"
truncate -s 64M "$raw"
echo 'start=2048, type=83' | sfdisk --quiet "$raw"
mkfs.ext4 -q -F -L h2k-small -E offset=1048576 -d "$tree" "$raw" 60M
qemu-img convert -q -f raw -O qcow2 "$raw" "$dir/small.qcow2"

