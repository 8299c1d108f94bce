# Shared by build-ramdisk.sh and build-test-image.sh: Debian packages fetched with apt-get into a
# cache (resolved against an empty package database, so the host's own packages never leak in),
# unpacked with dpkg-deb into a staging root, and copied from there binary by binary with the
# shared libraries each one loads. Source it; it needs OUT (the build folder) set.

step() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# fetch_debian_packages PKG...: downloads PKG and everything it depends on into $OUT/debs.
fetch_debian_packages() {
  local apt_state="$OUT/apt"
  mkdir -p "$OUT/debs/partial" "$apt_state"
  : >"$apt_state/status"
  apt-get -qq -o Dir::State::status="$apt_state/status" -o Dir::Cache::archives="$OUT/debs" \
    -o APT::Install-Recommends=false -o Debug::NoLocking=1 install --download-only -y "$@" >/dev/null
}

# unpack_debian_packages: every cached package into $OUT/root, unless that root holds these already.
unpack_debian_packages() {
  local deb unpacked
  unpacked="$OUT/root/.unpacked-$(ls "$OUT"/debs/*.deb | sha256sum | cut -c1-16)"
  [ -f "$unpacked" ] && return 0
  rm -rf "$OUT/root"
  mkdir -p "$OUT/root"
  for deb in "$OUT"/debs/*.deb; do dpkg-deb -x "$deb" "$OUT/root"; done
  depmod --basedir "$OUT/root" "$(kernel_version)"
  touch "$unpacked"
}

# package_versions PKG...: "name version" of the unpacked packages, for the build manifest.
package_versions() {
  local deb
  for deb in "$OUT"/debs/*.deb; do dpkg-deb -f "$deb" Package Version | paste -sd' '; done | sort
}

# copy_with_libraries TREE PATH...: copies each PATH (inside the staging root) into TREE, with
# the shared libraries the dynamic loader resolves for it inside the staging root.
copy_with_libraries() {
  local tree=$1 file lib
  shift
  for file in "$@"; do
    install -D -m 0755 "$OUT/root$file" "$tree$file"
    for lib in $(chroot "$OUT/root" /lib64/ld-linux-x86-64.so.2 --list "$file" | awk '$2 == "=>" { print $3 }'); do
      [ -e "$tree$lib" ] || install -D -m 0644 "$OUT/root$lib" "$tree$lib"
    done
  done
  install -D -m 0755 "$OUT/root/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" "$tree/lib64/ld-linux-x86-64.so.2"
}

# install_busybox TREE: the static busybox with a link per applet, except where TREE already has
# the real tool (util-linux's blkdiscard knows --zeroout, busybox's does not).
install_busybox() {
  local tree=$1 applet dir
  install -D -m 0755 "$OUT/root/bin/busybox" "$tree/bin/busybox"
  for applet in $("$tree/bin/busybox" --list-full); do
    for dir in bin sbin usr/bin usr/sbin; do [ -e "$tree/$dir/${applet##*/}" ] && continue 2; done
    mkdir -p "$tree/$(dirname "$applet")"
    ln -s /bin/busybox "$tree/$applet"
  done
}

# install_kernel_modules TREE KVER MODULE...: the modules and what they depend on, with a fresh modules.dep.
install_kernel_modules() {
  local tree=$1 kver=$2 module file depends missing=()
  shift 2
  for module in "$@"; do
    if ! depends=$(modprobe --dirname "$OUT/root" --set-version "$kver" --show-depends "$module" 2>/dev/null); then
      missing+=("$module")
      continue
    fi
    for file in $(awk '$1 == "insmod" { print $2 }' <<<"$depends"); do
      install -D -m 0644 "$file" "$tree${file#"$OUT/root"}"
    done
  done
  [ ${#missing[@]} -eq 0 ] || echo "not in kernel $kver (skipped): ${missing[*]}"
  cp "$OUT/root/lib/modules/$kver/modules.order" "$OUT/root/lib/modules/$kver/modules.builtin"* "$tree/lib/modules/$kver/"
  depmod --basedir "$tree" "$kver"
}

# kernel_version: the one kernel in the staging root.
kernel_version() {
  ls "$OUT/root/lib/modules"
}

# write_initramfs TREE FILE: a zstd-compressed newc cpio of TREE with fixed order and times, so
# the same packages give the same bytes.
write_initramfs() {
  local tree=$1 file=$2
  find "$tree" -exec touch --no-dereference --date=@"${SOURCE_DATE_EPOCH:-0}" {} +
  (cd "$tree" && find . -print0 | LC_ALL=C sort -z | cpio --null --create --format=newc --reproducible --quiet) |
    zstd -q -T0 -9 -f -o "$file"
}

# write_grub_efi FILE MARKER: GRUB for x86_64 UEFI that finds the volume holding the file /MARKER
# and runs its /boot/grub/grub.cfg. Each medium has its own marker: a machine whose disk holds an
# instance must still boot the ramdisk from its CD, not the first volume that has a grub.cfg.
write_grub_efi() {
  local file=$1 marker=$2 embedded
  embedded=$(mktemp)
  printf 'search --no-floppy --file --set=root /%s\nconfigfile ($root)/boot/grub/grub.cfg\n' "$marker" >"$embedded"
  grub-mkstandalone --format=x86_64-efi --output="$file" --locales= --fonts= --themes= \
    --install-modules="linux normal configfile search search_fs_file iso9660 fat part_gpt echo serial terminal test all_video efi_gop" \
    --modules="search search_fs_file iso9660 fat part_gpt configfile" "boot/grub/grub.cfg=$embedded"
  rm -f "$embedded"
}

# write_efi_system_image FILE SIZE_MIB SOURCE_DIR: a FAT image holding SOURCE_DIR's files, dot files too.
write_efi_system_image() {
  local file=$1 size=$2 source=$3
  rm -f "$file"
  mkfs.vfat -C --invariant -i 7e3ba7ed -n TEMPERED "$file" $((size * 1024)) >/dev/null
  (shopt -s dotglob && MTOOLS_SKIP_CHECK=1 mcopy -s -i "$file" "$source"/* ::/)
}
