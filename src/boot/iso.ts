// A per-boot virtual-media ISO: the ramdisk's kernel and initramfs, GRUB for UEFI with the kernel
// command line of this boot, and a tempered/ folder with what the ramdisk's init looks for — the
// node's network_data (a static network, no DHCP) and the agent token issued for this boot.
// Assembled by xorriso from the build's files; nothing is compiled per boot.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { RamdiskFiles } from './ramdisk.js';

const run = promisify(execFile);

export interface BootIsoContent {
  kernelArguments: string;
  /** Files under tempered/ on the ISO, by name. */
  files: Record<string, string>;
}

export function grubConfig(kernelArguments: string): string {
  return [
    'set timeout=0',
    'menuentry "Tempered ramdisk" {',
    `  linux /boot/vmlinuz ${kernelArguments}`,
    '  initrd /boot/initramfs.img',
    '}',
    '',
  ].join('\n');
}

/** Writes the ISO to `output`, which should be in a folder only this user can read: it may hold a token. */
export async function writeBootIso(output: string, ramdisk: RamdiskFiles, content: BootIsoContent): Promise<void> {
  const staging = await mkdtemp(path.join(os.tmpdir(), 'tempered-iso-'));
  try {
    const staged = async (name: string, text: string) => {
      const file = path.join(staging, name);
      await writeFile(file, text, { mode: 0o600 });
      return file;
    };
    const grafts = [
      `boot/vmlinuz=${ramdisk.kernel}`,
      `boot/initramfs.img=${ramdisk.initramfs}`,
      `boot/efiboot.img=${ramdisk.efiBootImage}`,
      `boot/grub/grub.cfg=${await staged('grub.cfg', grubConfig(content.kernelArguments))}`,
      // What the ISO's GRUB searches for, to tell this volume from a disk's own EFI partition.
      `.tempered-ramdisk=${await staged('marker', '')}`,
    ];
    for (const [name, text] of Object.entries(content.files)) {
      if (!/^[a-z0-9_.-]+$/.test(name)) throw new Error(`ISO file name "${name}" is not a plain name`);
      grafts.push(`tempered/${name}=${await staged(`file-${name}`, text)}`);
    }
    await run('xorriso', [
      '-as',
      'mkisofs',
      '-quiet',
      '-o',
      output,
      '-V',
      'TEMPERED',
      '-J',
      '-r',
      '-graft-points',
      '-e',
      'boot/efiboot.img',
      '-no-emul-boot',
      ...grafts,
    ]);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
