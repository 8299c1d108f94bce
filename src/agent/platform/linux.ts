// The agent on a real machine, booted into the ramdisk: the kernel's view of the hardware
// (sysfs, procfs, lsblk) and the usual tools (wipefs, sgdisk, blkdiscard, efibootmgr, kexec).
// Every path is under `root` and every tool goes through `run`, so tests can point both at
// fixtures; nothing here is ever run against the disks of a development machine.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { resolvConf, staticNetworkCommands, type NetworkData } from '../../domain/network-data.js';
import { EFI_SYSTEM_PARTITION_TYPE, readGpt } from '../gpt.js';
import { runCommand, type RunCommand } from '../exec.js';
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

export interface LinuxPlatformOptions {
  /** Prefix of /sys and /proc; '/' on a machine. */
  root?: string;
  run?: RunCommand;
  scratchDir?: string;
}

interface LsblkDevice {
  name: string;
  path: string;
  size?: number | string | null;
  type: string;
  ro?: boolean | string | null;
  rota?: boolean | string | null;
  model?: string | null;
  vendor?: string | null;
  serial?: string | null;
  wwn?: string | null;
  partuuid?: string | null;
  parttype?: string | null;
  children?: LsblkDevice[];
}

interface Partition {
  name: string;
  path: string;
  partuuid: string | null;
  parttype: string | null;
}

const DISK_COLUMNS = 'NAME,PATH,SIZE,TYPE,RO,ROTA,MODEL,VENDOR,SERIAL,WWN';
/** RAM disks, loop devices and compressed swap are type "disk" to lsblk, but never a place for an image. */
const NOT_A_DISK = /^(ram|loop|zram)\d/;
const MiB = 1024 ** 2;

/** lsblk's booleans are true/false from util-linux 2.37 on, "1"/"0" before. */
const lsblkFlag = (value: boolean | string | null | undefined) => value === true || value === '1';
const text = (value: string | null | undefined) => (value ? value.trim() || null : null);

/** The disks in `lsblk --json --bytes --nodeps --output NAME,PATH,SIZE,TYPE,RO,ROTA,MODEL,VENDOR,SERIAL,WWN`. */
export function parseLsblkDisks(json: string): Disk[] {
  const { blockdevices } = JSON.parse(json) as { blockdevices: LsblkDevice[] };
  return blockdevices
    .filter((d) => d.type === 'disk' && !NOT_A_DISK.test(d.name) && !lsblkFlag(d.ro) && Number(d.size) > 0)
    .map((d) => ({
      name: d.name,
      path: d.path,
      sizeBytes: Number(d.size),
      model: text(d.model),
      vendor: text(d.vendor),
      serial: text(d.serial),
      wwn: text(d.wwn),
      rotational: lsblkFlag(d.rota),
    }));
}

/** The partitions in `lsblk --json --output NAME,PATH,TYPE,PARTUUID,PARTTYPE <disk>`. */
export function parseLsblkPartitions(json: string): Partition[] {
  const { blockdevices } = JSON.parse(json) as { blockdevices: LsblkDevice[] };
  return (blockdevices[0]?.children ?? [])
    .filter((d) => d.type === 'part')
    .map((d) => ({
      name: d.name,
      path: d.path,
      partuuid: text(d.partuuid)?.toLowerCase() ?? null,
      parttype: text(d.parttype)?.toLowerCase() ?? null,
    }));
}

export function parseCpuInfo(cpuinfo: string): { count: number; model_name: string | null; flags: string[] } {
  return {
    count: cpuinfo.match(/^processor\s*:/gm)?.length ?? 0,
    model_name: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1].trim() ?? null,
    // x86 says "flags", arm64 "Features"; every CPU lists the same ones.
    flags: /^(?:flags|Features)\s*:\s*(.*)$/m.exec(cpuinfo)?.[1].trim().split(/\s+/).filter(Boolean) ?? [],
  };
}

export function parseMemTotalBytes(meminfo: string): number {
  const kib = /^MemTotal:\s*(\d+)\s*kB/m.exec(meminfo)?.[1];
  if (!kib) throw new Error('no MemTotal in /proc/meminfo');
  return Number(kib) * 1024;
}

export const RESCUE_PASSWORD_FILE = 'etc/ipa-rescue-config/ipa-rescue-password';

/** `inside` joined under `root`, refusing paths that climb out of it. */
function under(root: string, inside: string): string {
  const relative = path.normalize(inside).replace(/^\/+/, '');
  if (relative.startsWith('..')) throw new Error(`path ${inside} leaves the deployed file system`);
  return path.join(root, relative);
}

export class LinuxPlatform implements Platform {
  readonly name = 'linux';
  readonly scratchDir: string;
  readonly #root: string;
  readonly #run: RunCommand;

  constructor(options: LinuxPlatformOptions = {}) {
    this.#root = options.root ?? '/';
    this.#run = options.run ?? runCommand;
    this.scratchDir = options.scratchDir ?? os.tmpdir();
  }

  #path(...parts: string[]): string {
    return path.join(this.#root, ...parts);
  }

  async #readOptional(...parts: string[]): Promise<string | null> {
    try {
      return text(await readFile(this.#path(...parts), 'utf8'));
    } catch {
      return null;
    }
  }

  async #interfaces(): Promise<Inventory['interfaces']> {
    const names = (await readdir(this.#path('sys/class/net'))).filter((name) => name !== 'lo').sort();
    const interfaces = await Promise.all(
      names.map(async (name) => {
        // The kernel refuses to read carrier of an interface that is down: then the link is unknown.
        const carrier = await this.#readOptional('sys/class/net', name, 'carrier');
        return {
          name,
          mac_address: (await this.#readOptional('sys/class/net', name, 'address'))?.toLowerCase() ?? '',
          has_carrier: carrier === null ? null : carrier === '1',
        };
      }),
    );
    return interfaces.filter((nic) => nic.mac_address !== '' && nic.mac_address !== '00:00:00:00:00:00');
  }

  async macAddresses(): Promise<string[]> {
    return (await this.#interfaces()).map((nic) => nic.mac_address);
  }

  /** A DHCP-less boot: addresses, routes and DNS from the node's network_data. */
  async configureNetwork(data: NetworkData): Promise<void> {
    const byMac = new Map((await this.#interfaces()).map((nic) => [nic.mac_address, nic.name]));
    for (const [command, ...args] of staticNetworkCommands(data, byMac)) await this.#run(command, args);
    const dns = resolvConf(data);
    if (dns) await writeFile(this.#path('etc/resolv.conf'), dns);
  }

  async inventory(): Promise<Inventory> {
    const [cpuinfo, meminfo, lsblk, interfaces] = await Promise.all([
      readFile(this.#path('proc/cpuinfo'), 'utf8'),
      readFile(this.#path('proc/meminfo'), 'utf8'),
      this.#run('lsblk', ['--json', '--bytes', '--nodeps', '--output', DISK_COLUMNS]),
      this.#interfaces(),
    ]);
    const dmi = (name: string) => this.#readOptional('sys/class/dmi/id', name);
    return {
      cpu: { ...parseCpuInfo(cpuinfo), architecture: os.machine() },
      memory: { total_bytes: parseMemTotalBytes(meminfo) },
      disks: parseLsblkDisks(lsblk),
      interfaces,
      boot: { current_boot_mode: existsSync(this.#path('sys/firmware/efi')) ? 'uefi' : 'bios' },
      system_vendor: {
        manufacturer: await dmi('sys_vendor'),
        product_name: await dmi('product_name'),
        serial_number: await dmi('product_serial'),
      },
    };
  }

  /**
   * lsblk takes PARTUUID and PARTTYPE from udev's database; a ramdisk without udev has none, so
   * missing ones are read from the disk's GPT itself, matched by partition number.
   */
  async #partitions(disk: Disk): Promise<Partition[]> {
    const partitions = parseLsblkPartitions(
      await this.#run('lsblk', ['--json', '--output', 'NAME,PATH,TYPE,PARTUUID,PARTTYPE', disk.path]),
    );
    if (partitions.every((p) => p.partuuid && p.parttype)) return partitions;
    const gpt = await readGpt(disk.path);
    return Promise.all(
      partitions.map(async (partition) => {
        if (partition.partuuid && partition.parttype) return partition;
        const number = await this.#partitionNumber(partition);
        const entry = gpt.find((e) => e.number === number);
        return {
          ...partition,
          partuuid: partition.partuuid ?? entry?.uniqueGuid ?? null,
          parttype: partition.parttype ?? entry?.typeGuid ?? null,
        };
      }),
    );
  }

  async #partitionNumber(partition: Partition): Promise<number> {
    const number = Number(await this.#readOptional('sys/class/block', partition.name, 'partition'));
    if (!Number.isInteger(number) || number < 1)
      throw new Error(`cannot tell the partition number of ${partition.path}`);
    return number;
  }

  async #partitionByUuid(disk: Disk, partuuid: string): Promise<Partition> {
    const partition = (await this.#partitions(disk)).find((p) => p.partuuid === partuuid.toLowerCase());
    if (!partition) throw new Error(`no partition with PARTUUID ${partuuid} on ${disk.path}`);
    return partition;
  }

  /** As Ironic's agent does it: signatures of every partition first, then the disk's own and both GPTs. */
  async eraseDeviceMetadata(disk: Disk): Promise<void> {
    for (const partition of await this.#partitions(disk))
      await this.#run('wipefs', ['--all', '--force', partition.path]);
    await this.#run('wipefs', ['--all', '--force', disk.path]);
    await this.#run('sgdisk', ['--zap-all', disk.path]);
  }

  /** Zeroes through the device's write-zeroes support (fast on SSDs), falling back to writing zeros. */
  async eraseDevice(disk: Disk): Promise<void> {
    await this.#run('blkdiscard', ['--zeroout', disk.path]);
  }

  async addConfigDrivePartition(disk: Disk, extent: Extent): Promise<void> {
    // An image smaller than the disk leaves its backup GPT mid-disk, so the GPT would end there: move it to the end first.
    await this.#run('sgdisk', ['--move-second-header', disk.path]);
    await this.#run('sgdisk', [
      `--new=0:${extent.offset / MiB}M:+${extent.length / MiB}M`,
      '--change-name=0:config-2',
      '--typecode=0:0700',
      disk.path,
    ]);
  }

  async installBootloader(disk: Disk, request: BootloaderRequest): Promise<BootEntry> {
    const partitions = await this.#partitions(disk);
    const esp = request.efiSystemPartitionUuid
      ? await this.#partitionByUuid(disk, request.efiSystemPartitionUuid)
      : partitions.find((p) => p.parttype === EFI_SYSTEM_PARTITION_TYPE);
    if (!esp?.partuuid) throw new Error(`no EFI system partition on ${disk.path}`);
    const number = await this.#partitionNumber(esp);
    await this.#run('efibootmgr', [
      '--create',
      '--disk',
      disk.path,
      '--part',
      String(number),
      '--label',
      request.label,
      '--loader',
      request.loader,
    ]);
    return { label: request.label, loader: request.loader, partitionNumber: number, partitionUuid: esp.partuuid };
  }

  /** Mounts `partition` read only for `work`, and unmounts it after. */
  async #readOnly<T>(partition: Partition, work: (mountPoint: string) => Promise<T>): Promise<T> {
    const mountPoint = await mkdtemp(path.join(this.scratchDir, 'mnt-'));
    await this.#run('mount', ['-o', 'ro', partition.path, mountPoint]);
    try {
      return await work(mountPoint);
    } finally {
      await this.#run('umount', [mountPoint]);
      await rmdir(mountPoint);
    }
  }

  async listPartitionDirectory(disk: Disk, dir: string): Promise<PartitionDirectory[]> {
    const listed: PartitionDirectory[] = [];
    for (const partition of await this.#partitions(disk)) {
      if (!partition.partuuid || !partition.parttype || !LINUX_PARTITION_TYPES.has(partition.parttype)) continue;
      // A partition without a file system the kernel can mount has nothing to boot from.
      const names = await this.#readOnly(partition, (mountPoint) =>
        readdir(under(mountPoint, dir)).catch(() => null),
      ).catch(() => null);
      if (names) listed.push({ partitionUuid: partition.partuuid, typeGuid: partition.parttype, names });
    }
    return listed;
  }

  async kexec(disk: Disk, request: KexecRequest): Promise<void> {
    const root = await this.#partitionByUuid(disk, request.rootPartitionUuid);
    await this.#readOnly(root, async (mountPoint) => {
      await this.#run('kexec', [
        '--load',
        under(mountPoint, request.kernel),
        ...(request.initrd ? [`--initrd=${under(mountPoint, request.initrd)}`] : []),
        `--append=${request.cmdline}`,
      ]);
      // kexec --load copies kernel and initrd into memory: the file system is no longer needed.
    });
    await this.sync();
    await this.#run('kexec', ['--exec']);
  }

  async sync(): Promise<void> {
    await this.#run('sync', []);
  }

  async powerOff(): Promise<void> {
    await this.#run('poweroff', ['-f']);
  }

  async reboot(): Promise<void> {
    await this.#run('reboot', ['-f']);
  }

  /** Where ironic-python-agent keeps it, so a rescue ramdisk built for Ironic finds it too. */
  async setRescuePassword(passwordHash: string): Promise<void> {
    await mkdir(path.dirname(this.#path(RESCUE_PASSWORD_FILE)), { recursive: true });
    await writeFile(this.#path(RESCUE_PASSWORD_FILE), passwordHash, { mode: 0o600 });
  }
}
