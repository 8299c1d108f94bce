// The simulated platform: a lab machine whose only disk is a file. Everything the agent does to
// "the disk" happens to that file, so tests can read back exactly what a real disk would hold.
// Layout of the file disk: a whole-disk image from byte 0; the config drive (ISO9660, config-2)
// in the last 64 MiB before the final MiB (disks.ts: configDriveExtent), not entered in any
// partition table; the final MiB holds the image's backup GPT, if it has one.
import { open, stat, truncate, writeFile } from 'node:fs/promises';
import { configDriveExtent } from '../disks.js';
import path from 'node:path';
import { runCommand } from '../exec.js';
import { EFI_SYSTEM_PARTITION_TYPE, readGpt } from '../gpt.js';
import {
  LINUX_PARTITION_TYPES,
  type BootEntry,
  type BootloaderRequest,
  type Disk,
  type Extent,
  type Inventory,
  type KexecRequest,
  type PartitionDirectory,
  type Platform,
} from './types.js';

/** What the agent can make the machine around it do; the lab's boot model implements it. */
export interface SimMachineControl {
  powerOff(): void;
  reboot(): void;
  kexec(request: KexecRequest): void;
}

export interface SimPlatformOptions {
  diskPath: string;
  macs: readonly string[];
  /** The disk's serial number, e.g. the machine's name. */
  serial: string;
  scratchDir: string;
  control: SimMachineControl;
}

const MiB = 1024 ** 2;

/** The lab machine's stand-in for the rescue system's password file. */
export const simRescuePasswordPath = (diskPath: string) => `${diskPath}.rescue-password`;

/**
 * The names in `dir` of the ext2/3/4 file system at `offset` of a disk file, read by e2fsprogs'
 * debugfs (no mount, no root); null when there is no such file system or directory.
 */
async function listExtDirectory(file: string, offset: number, dir: string): Promise<string[] | null> {
  // -p: "/inode/mode/uid/gid/name/size/" per entry. debugfs reports a missing file system on stderr only.
  const listing = await runCommand('debugfs', ['-R', `ls -p ${dir}`, `${file}?offset=${offset}`]).catch(() => '');
  const names = listing
    .split('\n')
    .map((line) => line.split('/')[5])
    .filter((name): name is string => name !== undefined && name !== '');
  return names.includes('.') ? names.filter((name) => name !== '.' && name !== '..') : null;
}

/** Writes zeros over `extents` of the file, clipped to its size. */
async function zeroExtents(path: string, extents: readonly Extent[]): Promise<void> {
  const file = await open(path, 'r+');
  try {
    const { size } = await file.stat();
    for (const { offset, length } of extents) {
      const start = Math.max(0, offset);
      const end = Math.min(size, offset + length);
      if (end > start) await file.write(Buffer.alloc(end - start), 0, end - start, start);
    }
    await file.sync();
  } finally {
    await file.close();
  }
}

export class SimPlatform implements Platform {
  readonly name = 'sim';
  readonly scratchDir: string;

  constructor(private readonly options: SimPlatformOptions) {
    this.scratchDir = options.scratchDir;
  }

  async macAddresses(): Promise<string[]> {
    return this.options.macs.map((mac) => mac.toLowerCase());
  }

  async inventory(): Promise<Inventory> {
    const { size } = await stat(this.options.diskPath);
    return {
      cpu: { count: 4, model_name: 'Tempered lab CPU', architecture: 'x86_64', flags: ['fpu', 'lm', 'vmx', 'avx2'] },
      memory: { total_bytes: 8 * 1024 ** 3 },
      disks: [
        {
          name: 'vda',
          path: this.options.diskPath,
          sizeBytes: size,
          model: 'Tempered lab disk',
          vendor: 'tempered',
          serial: this.options.serial,
          wwn: null,
          rotational: false,
        },
      ],
      interfaces: this.options.macs.map((mac, i) => ({
        name: `eth${i}`,
        mac_address: mac.toLowerCase(),
        has_carrier: true,
      })),
      boot: { current_boot_mode: 'uefi' },
      system_vendor: { manufacturer: 'Tempered', product_name: 'lab machine', serial_number: this.options.serial },
    };
  }

  /**
   * What wipefs on every partition and sgdisk --zap-all do on Linux: the first MiB of each
   * partition (file-system signatures sit in it), the first MiB (MBR, primary GPT), the last MiB
   * (backup GPT) and the start of the config drive's extent (its ISO9660 descriptor).
   */
  async eraseDeviceMetadata(disk: Disk): Promise<void> {
    const partitions = await readGpt(disk.path);
    await zeroExtents(disk.path, [
      ...partitions.map((p) => ({ offset: p.firstByte, length: Math.min(MiB, p.endByte - p.firstByte) })),
      { offset: configDriveExtent(disk.sizeBytes).offset, length: MiB },
      { offset: 0, length: MiB },
      { offset: disk.sizeBytes - MiB, length: MiB },
    ]);
  }

  /** Cutting the file to nothing and back reads as all zeros, without writing gigabytes of them. */
  async eraseDevice(disk: Disk): Promise<void> {
    await truncate(disk.path, 0);
    await truncate(disk.path, disk.sizeBytes);
  }

  /** The file disk has no table entry for the config drive: its place is fixed (see the layout above). */
  async addConfigDrivePartition(): Promise<void> {}

  /** Like efibootmgr: finds the EFI system partition, then keeps the boot entry in the machine's NVRAM file. */
  async installBootloader(disk: Disk, request: BootloaderRequest): Promise<BootEntry> {
    const partitions = await readGpt(disk.path);
    const esp = partitions.find((p) =>
      request.efiSystemPartitionUuid
        ? p.uniqueGuid === request.efiSystemPartitionUuid.toLowerCase()
        : p.typeGuid === EFI_SYSTEM_PARTITION_TYPE,
    );
    if (!esp) {
      throw new Error(
        `no EFI system partition${request.efiSystemPartitionUuid ? ` with PARTUUID ${request.efiSystemPartitionUuid}` : ''} on ${disk.name}; partitions: ${partitions.map((p) => p.uniqueGuid).join(', ') || 'none'}`,
      );
    }
    const entry: BootEntry = {
      label: request.label,
      loader: request.loader,
      partitionNumber: esp.number,
      partitionUuid: esp.uniqueGuid,
    };
    await writeFile(`${disk.path}.nvram.json`, JSON.stringify({ boot_order: [entry] }, null, 2));
    return entry;
  }

  async listPartitionDirectory(disk: Disk, dir: string): Promise<PartitionDirectory[]> {
    const listed: PartitionDirectory[] = [];
    for (const partition of await readGpt(disk.path)) {
      if (!LINUX_PARTITION_TYPES.has(partition.typeGuid)) continue;
      const names = await listExtDirectory(disk.path, partition.firstByte, dir);
      if (names) listed.push({ partitionUuid: partition.uniqueGuid, typeGuid: partition.typeGuid, names });
    }
    return listed;
  }

  /** As kexec --load would, refuses a kernel or initrd that is not on the partition; then the machine switches. */
  async kexec(disk: Disk, request: KexecRequest): Promise<void> {
    const partitions = await readGpt(disk.path);
    const root = partitions.find((p) => p.uniqueGuid === request.rootPartitionUuid.toLowerCase());
    if (!root) {
      throw new Error(`no partition with PARTUUID ${request.rootPartitionUuid} on ${disk.name} to load a kernel from`);
    }
    for (const file of [request.kernel, request.initrd].filter((f): f is string => f !== undefined)) {
      const names = await listExtDirectory(disk.path, root.firstByte, path.posix.dirname(file));
      if (!names?.includes(path.posix.basename(file)))
        throw new Error(`no ${file} on partition ${request.rootPartitionUuid} of ${disk.name}`);
    }
    this.options.control.kexec(request);
  }

  async sync(): Promise<void> {
    const file = await open(this.options.diskPath, 'r+');
    try {
      await file.sync();
    } finally {
      await file.close();
    }
  }

  async powerOff(): Promise<void> {
    this.options.control.powerOff();
  }

  async reboot(): Promise<void> {
    this.options.control.reboot();
  }

  /** Beside the disk file (simRescuePasswordPath), where a test reads what the rescue user's password became. */
  async setRescuePassword(passwordHash: string): Promise<void> {
    await writeFile(simRescuePasswordPath(this.options.diskPath), passwordHash, { mode: 0o600 });
  }
}
