// The iPXE script of a network boot: the Tempered ramdisk, or nothing (boot the next device).
import { ramdiskKernelArguments } from './ramdisk.js';

/** Boot interfaces that load the ramdisk over the network. */
export const NETWORK_BOOT_INTERFACES: ReadonlySet<string> = new Set(['pxe', 'ipxe']);

/** The script for a machine to boot the ramdisk from `ramdiskUrl`; without a ramdisk: exit to the next boot device. */
export function ipxeScript(ramdisk: { ramdiskUrl: string; agentApiUrl: string } | undefined): string {
  if (!ramdisk)
    return '#!ipxe\necho Tempered: no operation needs the ramdisk on this machine; booting the next device\nexit\n';
  const base = ramdisk.ramdiskUrl.replace(/\/+$/, '');
  return [
    '#!ipxe',
    'echo Tempered: booting the ramdisk',
    `kernel ${base}/vmlinuz initrd=initramfs.img ${ramdiskKernelArguments(ramdisk.agentApiUrl)}`,
    `initrd ${base}/initramfs.img`,
    'boot',
    '',
  ].join('\n');
}
