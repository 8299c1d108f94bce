// The ramdisk `npm run build:ramdisk` leaves in its folder, and the kernel command line that
// starts it: shared by the virtual-media ISOs and the iPXE scripts, so both boot the same way.
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
  const files = { kernel: path.join(dir, 'vmlinuz'), initramfs: path.join(dir, 'initramfs.img'), efiBootImage: path.join(dir, 'efiboot.img') };
  const missing = Object.values(files).filter((file) => !existsSync(file));
  if (missing.length) throw new Error(`the ramdisk is not built (${missing.join(', ')} missing): run npm run build:ramdisk`);
  return files;
}

/** Kernel parameters of a Tempered ramdisk: the serial console, and where the agent finds the API. */
export function ramdiskKernelArguments(apiUrl: string): string {
  if (/\s/.test(apiUrl)) throw new Error(`the agent's API URL "${apiUrl}" contains white space`);
  return `console=tty0 console=ttyS0,115200 quiet tempered.api_url=${apiUrl}`;
}
