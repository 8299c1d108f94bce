#!/usr/bin/env bash
# npm run build:test-image — a small bootable disk image for the real-VM test, from the same
# Debian packages as the ramdisk: a GPT disk whose EFI system partition holds GRUB (at the
# removable-media path, \EFI\BOOT\BOOTX64.EFI), Debian's cloud kernel and a busybox initramfs that
# prints the hostname from the config drive on the serial console. Needs build:ramdisk's folder
# ($RAMDISK_DIR, default .data/ramdisk); writes instance.img there.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=$(realpath -m "${RAMDISK_DIR:-.data/ramdisk}")
# shellcheck source=lib/debian-root.sh
source scripts/lib/debian-root.sh
IMAGE_MIB=32
ESP_MIB=28

[ -f "$OUT/manifest.txt" ] || bash scripts/build-ramdisk.sh
stamp="$OUT/.instance-$(cat scripts/build-test-image.sh scripts/ramdisk/instance-init "$OUT/manifest.txt" | sha256sum | cut -c1-16)"
if [ -f "$stamp" ]; then
  echo "test image is up to date: $OUT/instance.img"
  exit 0
fi
kver=$(kernel_version)

step "instance initramfs (busybox, kernel $kver modules)"
tree="$OUT/instance-initramfs"
rm -rf "$tree" && mkdir -p "$tree"/{proc,sys,dev,mnt}
install_busybox "$tree"
install_kernel_modules "$tree" "$kver" virtio_pci virtio_blk isofs
install -m 0755 scripts/ramdisk/instance-init "$tree/init"
esp="$OUT/instance-esp"
rm -rf "$esp" && mkdir -p "$esp/EFI/BOOT" "$esp/boot/grub"
write_initramfs "$tree" "$esp/boot/initramfs.img"
cp "$OUT/vmlinuz" "$esp/boot/vmlinuz"
write_grub_efi "$esp/EFI/BOOT/BOOTX64.EFI" .tempered-instance
: >"$esp/.tempered-instance"
cat >"$esp/boot/grub/grub.cfg" <<'CFG'
set timeout=0
menuentry "Tempered test instance" {
  linux /boot/vmlinuz console=ttyS0,115200 quiet
  initrd /boot/initramfs.img
}
CFG
find "$esp" -exec touch --date=@"${SOURCE_DATE_EPOCH:-0}" {} +

step "instance.img: GPT, EFI system partition of $ESP_MIB MiB"
write_efi_system_image "$OUT/instance-esp.img" "$ESP_MIB" "$esp"
image="$OUT/instance.img"
rm -f "$image" && truncate -s "${IMAGE_MIB}M" "$image"
sgdisk --disk-guid=7e3ba7ed-0000-4000-8000-000000000017 --new=1:1M:+"$ESP_MIB"M --typecode=1:ef00 --change-name=1:ESP \
  --partition-guid=1:7e3ba7ed-0000-4000-8000-0000000000e5 "$image" >/dev/null
dd if="$OUT/instance-esp.img" of="$image" bs=1M seek=1 conv=notrunc status=none
touch "$stamp"
echo "$image: $(du -b "$image" | cut -f1) bytes, sha256 $(sha256sum "$image" | cut -c1-64)"
