// The agent's Linux platform without touching a device: lsblk, procfs and sysfs from fixtures,
// tools through a runner that records what would run. sgdisk alone runs for real, on a file.
import assert from 'node:assert/strict';
import { closeSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { configDriveExtent } from '../../src/agent/disks.js';
import { selectRootDevice } from '../../src/domain/root-device.js';
import { runCommand } from '../../src/agent/exec.js';
import { readGpt } from '../../src/agent/gpt.js';
import { findKernel } from '../../src/agent/kernel.js';
import { LinuxPlatform, parseCpuInfo, parseLsblkDisks, parseMemTotalBytes } from '../../src/agent/platform/linux.js';
import type { Disk } from '../../src/agent/platform/types.js';

const GiB = 1024 ** 3;

// util-linux 2.38 (booleans) next to 2.34 (strings), with the devices that are not disks for an image.
const LSBLK_DISKS = JSON.stringify({
  blockdevices: [
    {
      name: 'zram0',
      path: '/dev/zram0',
      size: 4 * GiB,
      type: 'disk',
      ro: false,
      rota: false,
      model: null,
      vendor: null,
      serial: null,
      wwn: null,
    },
    { name: 'loop0', path: '/dev/loop0', size: 8 * GiB, type: 'loop', ro: false, rota: false },
    { name: 'sr0', path: '/dev/sr0', size: 1 * GiB, type: 'rom', ro: true, rota: true },
    {
      name: 'sda',
      path: '/dev/sda',
      size: 480 * GiB,
      type: 'disk',
      ro: false,
      rota: false,
      model: 'SAMSUNG MZ7LH480 ',
      vendor: 'ATA     ',
      serial: 'S45PNA0M',
      wwn: '0x5002538e00000001',
    },
    {
      name: 'sdb',
      path: '/dev/sdb',
      size: String(2000 * GiB),
      type: 'disk',
      ro: '0',
      rota: '1',
      model: 'ST2000NM',
      vendor: 'SEAGATE',
      serial: 'ZC1',
      wwn: null,
    },
    {
      name: 'nvme0n1',
      path: '/dev/nvme0n1',
      size: 960 * GiB,
      type: 'disk',
      ro: false,
      rota: false,
      model: 'Micron 7450',
      vendor: null,
      serial: 'MIC1',
      wwn: 'eui.0001',
    },
    {
      name: 'sdc',
      path: '/dev/sdc',
      size: 2 * GiB,
      type: 'disk',
      ro: false,
      rota: false,
      model: 'USB stick',
      vendor: null,
      serial: 'USB1',
      wwn: null,
    },
  ],
});

const LSBLK_SDA_PARTITIONS = JSON.stringify({
  blockdevices: [
    {
      name: 'sda',
      path: '/dev/sda',
      type: 'disk',
      partuuid: null,
      parttype: null,
      children: [
        {
          name: 'sda1',
          path: '/dev/sda1',
          type: 'part',
          partuuid: 'AAAAAAAA-1111-4000-8000-000000000001',
          parttype: 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B',
        },
        {
          name: 'sda2',
          path: '/dev/sda2',
          type: 'part',
          partuuid: 'aaaaaaaa-1111-4000-8000-000000000002',
          parttype: '0fc63daf-8483-4772-8e79-3d69d8477de4',
        },
      ],
    },
  ],
});

const CPUINFO =
  'processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz\nflags\t\t: fpu vmx avx2\n\n' +
  'processor\t: 1\nmodel name\t: Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz\nflags\t\t: fpu vmx avx2\n';
const MEMINFO = 'MemTotal:       65536000 kB\nMemFree:        1000 kB\n';

/** A machine's /sys and /proc, as far as the platform reads them. */
function fakeRoot(): string {
  const root = mkdtempSync(path.join(process.env.TEST_SCRATCH_DIR ?? os.tmpdir(), 'linux-root-'));
  const put = (file: string, content: string) => {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    writeFileSync(path.join(root, file), content);
  };
  put('proc/cpuinfo', CPUINFO);
  put('proc/meminfo', MEMINFO);
  put('sys/class/net/lo/address', '00:00:00:00:00:00\n');
  put('sys/class/net/eno1/address', '3C:EC:EF:00:00:01\n');
  put('sys/class/net/eno1/carrier', '1\n');
  put('sys/class/net/eno2/address', '3c:ec:ef:00:00:02\n');
  put('sys/class/dmi/id/sys_vendor', 'Supermicro\n');
  put('sys/class/dmi/id/product_name', 'SYS-120U\n');
  put('sys/class/block/sda1/partition', '1\n');
  mkdirSync(path.join(root, 'sys/firmware/efi'), { recursive: true });
  return root;
}

/** A runner that answers lsblk from the fixtures and records every call. */
function recordingRunner() {
  const calls: string[] = [];
  const run = async (command: string, args: readonly string[]) => {
    calls.push([command, ...args].join(' '));
    if (command !== 'lsblk') return '';
    return args.includes('--nodeps') ? LSBLK_DISKS : LSBLK_SDA_PARTITIONS;
  };
  return { calls, run };
}

const sda: Disk = {
  name: 'sda',
  path: '/dev/sda',
  sizeBytes: 480 * GiB,
  model: null,
  vendor: null,
  serial: null,
  wwn: null,
  rotational: false,
};

describe('the Linux platform', () => {
  it('takes disks from lsblk, leaving out RAM disks, loops, optical drives and read-only devices', () => {
    const disks = parseLsblkDisks(LSBLK_DISKS);
    assert.deepEqual(
      disks.map((d) => [d.name, d.sizeBytes / GiB, d.rotational]),
      [
        ['sda', 480, false],
        ['sdb', 2000, true],
        ['nvme0n1', 960, false],
        ['sdc', 2, false],
      ],
    );
    assert.deepEqual(
      [disks[0].model, disks[0].vendor, disks[0].wwn],
      ['SAMSUNG MZ7LH480', 'ATA', '0x5002538e00000001'],
    );
  });

  it('reads CPUs and memory from procfs', () => {
    assert.deepEqual(parseCpuInfo(CPUINFO), {
      count: 2,
      model_name: 'Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz',
      flags: ['fpu', 'vmx', 'avx2'],
    });
    assert.equal(parseMemTotalBytes(MEMINFO), 65536000 * 1024);
    assert.throws(() => parseMemTotalBytes('MemFree: 1 kB'), /no MemTotal/);
  });

  it('builds the inventory from sysfs, procfs and lsblk; MACs without lo', async () => {
    const platform = new LinuxPlatform({ root: fakeRoot(), run: recordingRunner().run });
    assert.deepEqual(await platform.macAddresses(), ['3c:ec:ef:00:00:01', '3c:ec:ef:00:00:02']);
    const inventory = await platform.inventory();
    assert.equal(inventory.cpu.count, 2);
    assert.equal(inventory.memory.total_bytes, 65536000 * 1024);
    assert.equal(inventory.boot.current_boot_mode, 'uefi');
    assert.deepEqual(inventory.system_vendor, {
      manufacturer: 'Supermicro',
      product_name: 'SYS-120U',
      serial_number: null,
    });
    assert.equal(inventory.disks.length, 4);
    assert.deepEqual(inventory.cpu.flags, ['fpu', 'vmx', 'avx2']);
    assert.deepEqual(
      inventory.interfaces.map((nic) => nic.has_carrier),
      [true, null],
      'eno2 is down: its carrier cannot be read',
    );
  });

  it('erases metadata as Ironic does: wipefs on each partition, then the disk, then sgdisk --zap-all', async () => {
    const { calls, run } = recordingRunner();
    await new LinuxPlatform({ root: fakeRoot(), run }).eraseDeviceMetadata(sda);
    assert.deepEqual(calls.slice(1), [
      'wipefs --all --force /dev/sda1',
      'wipefs --all --force /dev/sda2',
      'wipefs --all --force /dev/sda',
      'sgdisk --zap-all /dev/sda',
    ]);
  });

  it('creates the UEFI boot entry on the EFI system partition, found by PARTUUID or by type', async () => {
    for (const efiSystemPartitionUuid of ['aaaaaaaa-1111-4000-8000-000000000001', undefined]) {
      const { calls, run } = recordingRunner();
      const entry = await new LinuxPlatform({ root: fakeRoot(), run }).installBootloader(sda, {
        efiSystemPartitionUuid,
        loader: '\\EFI\\BOOT\\BOOTX64.EFI',
        label: 'tempered',
      });
      assert.equal(
        calls.at(-1),
        'efibootmgr --create --disk /dev/sda --part 1 --label tempered --loader \\EFI\\BOOT\\BOOTX64.EFI',
      );
      assert.deepEqual([entry.partitionNumber, entry.partitionUuid], [1, 'aaaaaaaa-1111-4000-8000-000000000001']);
    }
  });

  it('reads PARTUUID and type from the GPT where lsblk has none (a ramdisk without udev)', async () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'gpt-')), 'disk.img');
    const fd = openSync(file, 'w');
    ftruncateSync(fd, 64 * 1024 ** 2);
    closeSync(fd);
    await runCommand('sgdisk', [
      '--new=1:1M:+32M',
      '--typecode=1:ef00',
      '--partition-guid=1:7e3ba7ed-0000-4000-8000-0000000000e5',
      file,
    ]);
    const withoutUdev = JSON.stringify({
      blockdevices: [
        {
          name: 'sda',
          path: file,
          type: 'disk',
          children: [{ name: 'sda1', path: `${file}1`, type: 'part', partuuid: null, parttype: null }],
        },
      ],
    });
    const run = async (command: string) => (command === 'lsblk' ? withoutUdev : '');
    const entry = await new LinuxPlatform({ root: fakeRoot(), run }).installBootloader(
      { ...sda, path: file },
      { loader: '\\EFI\\BOOT\\BOOTX64.EFI', label: 'tempered' },
    );
    assert.deepEqual([entry.partitionNumber, entry.partitionUuid], [1, '7e3ba7ed-0000-4000-8000-0000000000e5']);
  });

  it('kexecs: mounts the root partition read-only, loads kernel and initrd, unmounts, syncs, jumps', async () => {
    const { calls, run } = recordingRunner();
    const scratchDir = mkdtempSync(path.join(os.tmpdir(), 'kexec-'));
    const platform = new LinuxPlatform({ root: fakeRoot(), run, scratchDir });
    await platform.kexec(sda, {
      rootPartitionUuid: 'AAAAAAAA-1111-4000-8000-000000000002',
      kernel: '/boot/vmlinuz',
      initrd: 'boot/initrd.img',
      cmdline: 'root=/dev/sda2 ro',
    });
    const mountPoint = /^mount -o ro \/dev\/sda2 (\S+)$/.exec(calls[1])?.[1];
    assert.ok(mountPoint?.startsWith(scratchDir), calls[1]);
    assert.deepEqual(calls.slice(2), [
      `kexec --load ${mountPoint}/boot/vmlinuz --initrd=${mountPoint}/boot/initrd.img --append=root=/dev/sda2 ro`,
      `umount ${mountPoint}`,
      'sync',
      'kexec --exec',
    ]);
    await assert.rejects(
      platform.kexec(sda, {
        rootPartitionUuid: 'aaaaaaaa-1111-4000-8000-000000000002',
        kernel: '../../etc/shadow',
        cmdline: '',
      }),
      /leaves the deployed file system/,
    );
  });

  it('lists /boot of each Linux partition mounted read-only, and finds the newest kernel there', async () => {
    const { calls, run: record } = recordingRunner();
    // The deployed root file system, as the mount shows it.
    const run = async (command: string, args: readonly string[]) => {
      if (command === 'mount') {
        mkdirSync(path.join(args[3], 'boot'));
        for (const name of ['vmlinuz-6.1.0-13-amd64', 'initrd.img-6.1.0-13-amd64', 'config-6.1.0-13-amd64'])
          writeFileSync(path.join(args[3], 'boot', name), name);
      }
      if (command === 'umount') rmSync(path.join(args[0], 'boot'), { recursive: true });
      return record(command, args);
    };
    const scratchDir = mkdtempSync(path.join(os.tmpdir(), 'find-kernel-'));
    const platform = new LinuxPlatform({ root: fakeRoot(), run, scratchDir });
    assert.deepEqual(await findKernel(platform, sda, {}), {
      found: {
        root_partition_uuid: 'aaaaaaaa-1111-4000-8000-000000000002',
        kernel: '/boot/vmlinuz-6.1.0-13-amd64',
        initrd: '/boot/initrd.img-6.1.0-13-amd64',
        cmdline: 'root=PARTUUID=aaaaaaaa-1111-4000-8000-000000000002 ro',
      },
    });
    const mounts = calls.filter((c) => /^(u?mount) /.test(c));
    const mountPoint = /^mount -o ro \/dev\/sda2 (\S+)$/.exec(mounts[0])?.[1];
    assert.ok(mountPoint?.startsWith(scratchDir), 'only the Linux partition (not the ESP) is mounted, read-only');
    assert.deepEqual(mounts, [`mount -o ro /dev/sda2 ${mountPoint}`, `umount ${mountPoint}`]);
  });

  it('enters the config drive in the GPT at the extent the image writer uses, past the end of a smaller image (sgdisk on a file)', async () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'gpt-')), 'disk.img');
    // A 64 MiB whole-disk image written to an 8 GiB disk: its backup GPT sits mid-disk.
    const fd = openSync(file, 'w');
    ftruncateSync(fd, 64 * 1024 ** 2);
    closeSync(fd);
    await runCommand('sgdisk', ['--clear', '--new=1:1M:+32M', file]);
    const grown = openSync(file, 'r+');
    ftruncateSync(grown, 8 * GiB);
    closeSync(grown);
    const disk: Disk = { ...sda, path: file, sizeBytes: 8 * GiB };
    const extent = configDriveExtent(disk.sizeBytes);
    await new LinuxPlatform({ run: runCommand }).addConfigDrivePartition(disk, extent);
    const configDrive = (await readGpt(file)).find((p) => p.name === 'config-2');
    assert.deepEqual([configDrive?.firstByte, configDrive?.endByte], [extent.offset, extent.offset + extent.length]);
  });
});

describe('root device and config drive placement', () => {
  const disks = parseLsblkDisks(LSBLK_DISKS);

  it('without hints takes the smallest disk of at least 4 GiB', () => {
    assert.equal(selectRootDevice(disks, undefined).name, 'sda');
    assert.equal(selectRootDevice(disks, {}).name, 'sda');
    assert.throws(
      () =>
        selectRootDevice(
          disks.filter((d) => d.name === 'sdc'),
          undefined,
        ),
      /no disk of at least 4 GiB .* sdc \(2\.0 GiB\)/,
    );
  });

  it('follows hints: name, serial, wwn, model, rotational, and size with an operator', () => {
    assert.equal(selectRootDevice(disks, { name: '/dev/nvme0n1' }).name, 'nvme0n1');
    assert.equal(selectRootDevice(disks, { serial: 'ZC1' }).name, 'sdb');
    assert.equal(selectRootDevice(disks, { wwn: 'eui.0001' }).name, 'nvme0n1');
    assert.equal(selectRootDevice(disks, { model: 'SAMSUNG MZ7LH480' }).name, 'sda');
    assert.equal(selectRootDevice(disks, { rotational: true }).name, 'sdb');
    assert.equal(selectRootDevice(disks, { size: 960 }).name, 'nvme0n1');
    assert.equal(selectRootDevice(disks, { size: '>= 500' }).name, 'nvme0n1');
    assert.equal(selectRootDevice(disks, { size: '< 100' }).name, 'sdc', 'hints may pick a disk under 4 GiB');
    assert.throws(() => selectRootDevice(disks, { serial: 'nope' }), /no disk matches the root device hints/);
    assert.throws(() => selectRootDevice(disks, { size: 'big' }), /not a number of GiB/);
  });

  it('puts the config drive in the last 64 MiB before the final MiB, 1 MiB aligned', () => {
    assert.deepEqual(configDriveExtent(4 * GiB), { offset: 4 * GiB - 65 * 1024 ** 2, length: 64 * 1024 ** 2 });
    assert.equal(configDriveExtent(4 * GiB + 12345).offset, 4 * GiB - 65 * 1024 ** 2);
    assert.throws(() => configDriveExtent(32 * 1024 ** 2), /no room/);
  });
});
