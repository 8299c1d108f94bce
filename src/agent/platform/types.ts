// What the agent needs from the machine it runs on. Two implementations: linux.ts (a real
// ramdisk: lsblk, sgdisk, efibootmgr, kexec) and sim.ts (a lab machine whose disk is a file).
// Image and config-drive writing is the same on both: bytes into the disk's path.
import type { DiskFacts } from '../../domain/root-device.js';

export interface Disk extends DiskFacts {
  /** Where to write: /dev/sda, or the lab machine's disk file. */
  path: string;
  rotational: boolean;
}

export interface Inventory {
  cpu: { count: number; model_name: string | null; architecture: string; flags: string[] };
  memory: { total_bytes: number };
  disks: Disk[];
  interfaces: { name: string; mac_address: string; has_carrier: boolean | null }[];
  boot: { current_boot_mode: 'uefi' | 'bios' };
  system_vendor: { manufacturer: string | null; product_name: string | null; serial_number: string | null };
}

/** A byte range of a disk. */
export interface Extent {
  offset: number;
  length: number;
}

export interface BootloaderRequest {
  /** Unique GUID (PARTUUID) of the EFI system partition; default: the disk's only one. */
  efiSystemPartitionUuid?: string;
  /** Path of the EFI program on that partition. */
  loader: string;
  label: string;
}

export interface BootEntry {
  label: string;
  loader: string;
  partitionNumber: number;
  partitionUuid: string;
}

export interface KexecRequest {
  /** PARTUUID of the deployed file system that holds kernel and initrd: the root, or a separate /boot. */
  rootPartitionUuid: string;
  /** Paths inside that file system. */
  kernel: string;
  initrd?: string;
  cmdline: string;
}

/** The names in one directory of one partition's file system. */
export interface PartitionDirectory {
  partitionUuid: string;
  typeGuid: string;
  names: string[];
}

/** GPT types of partitions that hold a Linux file system: generic data, x86-64 root, and a /boot (XBOOTLDR). */
export const LINUX_PARTITION_TYPES: ReadonlySet<string> = new Set([
  '0fc63daf-8483-4772-8e79-3d69d8477de4',
  '4f68bce3-e8cd-4db1-96e7-fbcaf984b709',
  'bc13c2ff-59e6-4262-a352-b275fd6f7172',
]);

export interface Platform {
  readonly name: 'linux' | 'sim';
  /** For transient files, such as a qcow2 image waiting for conversion. */
  readonly scratchDir: string;
  /** The machine's NIC addresses, lower case, for lookup. */
  macAddresses(): Promise<string[]>;
  inventory(): Promise<Inventory>;
  /** Clears partition tables and file-system signatures, so nothing on the disk is recognised. */
  eraseDeviceMetadata(disk: Disk): Promise<void>;
  /** Overwrites the whole disk with zeros. */
  eraseDevice(disk: Disk): Promise<void>;
  /** Makes the config drive's extent a partition where the platform keeps a partition table for it. */
  addConfigDrivePartition(disk: Disk, extent: Extent): Promise<void>;
  installBootloader(disk: Disk, request: BootloaderRequest): Promise<BootEntry>;
  /** `dir` listed in the file system of each Linux partition of `disk` that has it (read only). */
  listPartitionDirectory(disk: Disk, dir: string): Promise<PartitionDirectory[]>;
  /** Loads the deployed kernel and jumps into it; does not return on a real machine. */
  kexec(disk: Disk, request: KexecRequest): Promise<void>;
  /** Flushes every write to the disks. */
  sync(): Promise<void>;
  powerOff(): Promise<void>;
  reboot(): Promise<void>;
  /**
   * Rescue: keeps the rescue user's password, a crypt(3) hash (the plain password never reaches the
   * machine), where the rescue system reads it once the agent has stopped.
   */
  setRescuePassword(passwordHash: string): Promise<void>;
}
