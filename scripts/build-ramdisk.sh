#!/usr/bin/env bash
# npm run build:ramdisk — the Tempered ramdisk, from Debian packages only: Debian's cloud kernel,
# an initramfs holding the agent (bundled by esbuild) on Debian's Node.js with the tools it runs
# (sgdisk, qemu-img, xorriso, efibootmgr, kexec, lsblk/wipefs/blkdiscard, busybox with udhcpc),
# GRUB for UEFI, and a bootable ISO. Output in $RAMDISK_DIR (default .data/ramdisk):
#   vmlinuz, initramfs.img, bootx64.efi, efiboot.img (the ISO's EFI boot image), ramdisk.iso,
#   manifest.txt (package versions and sha256 of each output).
# Reproducible: the same package versions give the same initramfs bytes. Rebuilt only when an
# input changed (the agent's bundle, this script and its files); --force rebuilds anyway.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=$(realpath -m "${RAMDISK_DIR:-.data/ramdisk}")
# shellcheck source=lib/debian-root.sh
source scripts/lib/debian-root.sh

PACKAGES=(linux-image-cloud-amd64 busybox-static nodejs gdisk qemu-utils xorriso efibootmgr kexec-tools util-linux)
TOOLS=(/usr/bin/node /sbin/sgdisk /usr/bin/qemu-img /usr/bin/xorriso /bin/efibootmgr /sbin/kexec /bin/lsblk /sbin/wipefs /sbin/blkdiscard)
# QEMU's virtio devices and CD, file systems, EFI variables, fw_cfg; common server NICs and disks.
MODULES=(virtio_pci virtio_net virtio_blk virtio_scsi sr_mod isofs vfat nls_cp437 nls_iso8859_1 efivarfs qemu_fw_cfg
  ahci nvme e1000 e1000e igb ixgbe i40e tg3 bnxt_en)
# The ramdisk ISO's default kernel command line; a per-boot ISO from the worker sets its own.
KERNEL_CMDLINE="console=tty0 console=ttyS0,115200 quiet ${RAMDISK_KERNEL_ARGS:-}"

for tool in apt-get dpkg-deb cpio zstd depmod grub-mkstandalone mkfs.vfat mcopy xorriso; do
  command -v "$tool" >/dev/null || { echo "build:ramdisk needs $tool (run: bash scripts/install-tools.sh --test as root)" >&2; exit 1; }
done
started=$(date +%s)
mkdir -p "$OUT"

# The agent first (a second): the build is redone only when the bundle, this script or its files changed.
bundle="$OUT/agent.mjs"
# One ES module for Debian's Node 18; packages that still call require() get one.
npx esbuild src/agent/main.ts --bundle --platform=node --target=node18 --format=esm --log-level=warning \
  --banner:js="import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" \
  --outfile="$bundle"
inputs=$(cat "$bundle" scripts/build-ramdisk.sh scripts/lib/debian-root.sh scripts/ramdisk/* <(echo "$KERNEL_CMDLINE") | sha256sum | cut -c1-16)
if [ -f "$OUT/.inputs-$inputs" ] && [ "${1:-}" != "--force" ]; then
  echo "ramdisk is up to date in $OUT (--force rebuilds it)"
  head -3 "$OUT/manifest.txt"
  exit 0
fi
rm -f "$OUT"/.inputs-*

step "Debian packages: ${PACKAGES[*]}"
fetch_debian_packages "${PACKAGES[@]}"
unpack_debian_packages
kver=$(kernel_version)

tree="$OUT/initramfs"
rm -rf "$tree"
mkdir -p "$tree"/{proc,sys,dev,tmp,run,root,etc/ssl/certs,opt/tempered}
cp "$bundle" "$tree/opt/tempered/agent.mjs"

step "initramfs: busybox, node $(dpkg-deb -f "$OUT"/debs/nodejs_*.deb Version), tools, kernel $kver modules"
copy_with_libraries "$tree" "${TOOLS[@]}"
install_busybox "$tree"
# Debian's Node loads some of its built-in modules (undici for fetch, acorn) from here.
mkdir -p "$tree/usr/share" && cp -a "$OUT/root/usr/share/nodejs" "$tree/usr/share/nodejs"
: >"$tree/etc/ssl/certs/ca-certificates.crt"
echo 'root:x:0:0:root:/root:/bin/sh' >"$tree/etc/passwd"
install_kernel_modules "$tree" "$kver" "${MODULES[@]}"
install -m 0755 scripts/ramdisk/init "$tree/init"
install -m 0755 scripts/ramdisk/udhcpc.script "$tree/etc/udhcpc.script"
write_initramfs "$tree" "$OUT/initramfs.img"
cp "$OUT/root/boot/vmlinuz-$kver" "$OUT/vmlinuz"

step "GRUB for UEFI and the ramdisk ISO"
# The ISO's root holds the marker (not the FAT boot image inside it, which has no grub.cfg).
write_grub_efi "$OUT/bootx64.efi" .tempered-ramdisk
esp="$OUT/esp"
rm -rf "$esp" && mkdir -p "$esp/EFI/BOOT" && cp "$OUT/bootx64.efi" "$esp/EFI/BOOT/BOOTX64.EFI"
find "$esp" -exec touch --date=@"${SOURCE_DATE_EPOCH:-0}" {} +
write_efi_system_image "$OUT/efiboot.img" 4 "$esp"
iso="$OUT/iso"
rm -rf "$iso" && mkdir -p "$iso/boot/grub"
cp "$OUT/vmlinuz" "$OUT/initramfs.img" "$OUT/efiboot.img" "$iso/boot/"
: >"$iso/.tempered-ramdisk"
cat >"$iso/boot/grub/grub.cfg" <<EOF
set timeout=0
menuentry "Tempered ramdisk" {
  linux /boot/vmlinuz $KERNEL_CMDLINE
  initrd /boot/initramfs.img
}
EOF
xorriso -as mkisofs -quiet -o "$OUT/ramdisk.iso" -V TEMPERED -J -r -e boot/efiboot.img -no-emul-boot "$iso"

{
  echo "kernel $kver"
  echo "initramfs $(du -b "$OUT/initramfs.img" | cut -f1) bytes compressed, $(du -sb "$tree" | cut -f1) bytes unpacked"
  echo "ramdisk.iso $(du -b "$OUT/ramdisk.iso" | cut -f1) bytes"
  (cd "$OUT" && sha256sum vmlinuz initramfs.img bootx64.efi efiboot.img)
  echo "packages:"
  package_versions | sed 's/^/  /'
} >"$OUT/manifest.txt"
touch "$OUT/.inputs-$inputs"
step "ramdisk built in $(($(date +%s) - started)) s in $OUT"
head -4 "$OUT/manifest.txt"
