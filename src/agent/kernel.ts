// Finds the kernel (and initrd) a freshly written image boots, so the agent can kexec into it:
// the one instance_info names, or the newest vmlinuz-<version> in /boot of a Linux partition
// (Debian's initrd.img-<version>, Fedora's initramfs-<version>.img), or at the top of a separate
// /boot partition. The kernel command line roots the instance by PARTUUID, which needs no
// knowledge of the instance's device names.
import path from 'node:path';
import type { KernelSearch } from '../domain/final-boot.js';
import type { Disk, PartitionDirectory, Platform } from './platform/types.js';

/** x86-64 root: preferred as root= when the kernel sits on a separate /boot partition. */
const ROOT_PARTITION_TYPE = '4f68bce3-e8cd-4db1-96e7-fbcaf984b709';

export interface KernelSearchRequest {
  /** Absolute paths inside the image, from instance_info kernel / ramdisk. */
  kernel?: string;
  initrd?: string;
  /** Appended to root=PARTUUID=… ro. */
  appendParams?: string;
}

const KERNEL = /^vmlinuz-(.+)$/;
const initrdNames = (version: string) => [
  `initrd.img-${version}`,
  `initramfs-${version}.img`,
  `initrd-${version}`,
  `initrd-${version}.img`,
];
const newestFirst = (a: string, b: string) => b.localeCompare(a, 'en', { numeric: true });

/** The newest kernel in a listing (rescue kernels left out), with its initrd when there is one. */
function newestKernel(names: readonly string[]): { kernel: string; initrd?: string } | undefined {
  const kernels = names.filter((n) => KERNEL.test(n) && !n.includes('rescue')).sort(newestFirst);
  if (!kernels.length) return undefined;
  const version = KERNEL.exec(kernels[0])![1];
  return { kernel: kernels[0], initrd: initrdNames(version).find((n) => names.includes(n)) };
}

function cmdline(rootUuid: string, appendParams: string | undefined): string {
  return [`root=PARTUUID=${rootUuid}`, 'ro', appendParams].filter(Boolean).join(' ');
}

/** The root file system when the kernel is on a separate /boot partition: a root-typed one, else another Linux one. */
function rootBeside(bootUuid: string, partitions: readonly PartitionDirectory[]): string | undefined {
  const others = partitions.filter((p) => p.partitionUuid !== bootUuid);
  return (others.find((p) => p.typeGuid === ROOT_PARTITION_TYPE) ?? others[0])?.partitionUuid;
}

async function named(platform: Platform, disk: Disk, request: KernelSearchRequest): Promise<KernelSearch> {
  const kernel = request.kernel!;
  const holders = await platform.listPartitionDirectory(disk, path.posix.dirname(kernel));
  const holder = holders.find((p) => p.names.includes(path.posix.basename(kernel)));
  if (!holder) return { found: null, reason: `${kernel} is on no Linux partition of ${disk.name}` };
  if (request.initrd) {
    const initrdDirs = await platform.listPartitionDirectory(disk, path.posix.dirname(request.initrd));
    const same = initrdDirs.find((p) => p.partitionUuid === holder.partitionUuid);
    if (!same?.names.includes(path.posix.basename(request.initrd)))
      return { found: null, reason: `${request.initrd} is not beside ${kernel} on ${disk.name}` };
  }
  return {
    found: {
      root_partition_uuid: holder.partitionUuid,
      kernel,
      initrd: request.initrd,
      cmdline: cmdline(holder.partitionUuid, request.appendParams),
    },
  };
}

export async function findKernel(platform: Platform, disk: Disk, request: KernelSearchRequest): Promise<KernelSearch> {
  if (request.kernel) return named(platform, disk, request);
  for (const partition of await platform.listPartitionDirectory(disk, '/boot')) {
    const found = newestKernel(partition.names);
    if (!found) continue;
    return {
      found: {
        root_partition_uuid: partition.partitionUuid,
        kernel: `/boot/${found.kernel}`,
        initrd: found.initrd && `/boot/${found.initrd}`,
        cmdline: cmdline(partition.partitionUuid, request.appendParams),
      },
    };
  }
  const tops = await platform.listPartitionDirectory(disk, '/');
  for (const partition of tops) {
    const found = newestKernel(partition.names);
    const root = found && rootBeside(partition.partitionUuid, tops);
    if (!found || !root) continue;
    return {
      found: {
        root_partition_uuid: partition.partitionUuid,
        kernel: `/${found.kernel}`,
        initrd: found.initrd && `/${found.initrd}`,
        cmdline: cmdline(root, request.appendParams),
      },
    };
  }
  return {
    found: null,
    reason: `no vmlinuz-<version> in /boot of any Linux partition of ${disk.name} (nor on a separate /boot partition)`,
  };
}
