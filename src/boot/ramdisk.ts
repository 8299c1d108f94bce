// The ramdisk `npm run build:ramdisk` leaves in its folder.
import { existsSync } from 'node:fs';
import path from 'node:path';

export interface RamdiskFiles {
  kernel: string;
  initramfs: string;
  /** The FAT image with GRUB that makes an ISO bootable under UEFI. */
  efiBootImage: string;
}

/** The build's files in `dir`; throws naming the build command when one is missing. */
export function ramdiskFiles(dir: string): RamdiskFiles {
  const files = {
    kernel: path.join(dir, 'vmlinuz'),
    initramfs: path.join(dir, 'initramfs.img'),
    efiBootImage: path.join(dir, 'efiboot.img'),
  };
  const missing = Object.values(files).filter((file) => !existsSync(file));
  if (missing.length)
    throw new Error(`the ramdisk is not built (${missing.join(', ')} missing): run npm run build:ramdisk`);
  return files;
}
