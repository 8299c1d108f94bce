// write_configdrive: an OpenStack config-2 drive (what cloud-init and glean read) built as
// ISO9660 by genisoimage, or xorriso where that is what the ramdisk has, and written to its
// extent at the end of the root device.
import { mkdtemp, mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { configDriveExtent } from './disks.js';
import { CommandFailed, runCommand } from './exec.js';
import type { Disk, Extent, Platform } from './platform/types.js';

export interface ConfigDrive {
  meta_data: Record<string, unknown>;
  network_data?: Record<string, unknown>;
  user_data?: string;
}

/** Ironic's flags: Joliet and Rock Ridge names, lower case and dots kept, labelled config-2. */
const ISO_OPTIONS = [
  '-ldots',
  '-allow-lowercase',
  '-allow-multidot',
  '-l',
  '-publisher',
  'tempered',
  '-quiet',
  '-J',
  '-r',
  '-V',
  'config-2',
];

async function makeIso(folder: string, iso: string): Promise<void> {
  try {
    await runCommand('genisoimage', ['-o', iso, ...ISO_OPTIONS, folder]);
  } catch (err) {
    if (!(err instanceof CommandFailed && err.exitCode === 'ENOENT')) throw err;
    await runCommand('xorriso', ['-as', 'mkisofs', '-o', iso, ...ISO_OPTIONS, folder]);
  }
}

/** The ISO image of `drive`: openstack/latest/{meta_data.json, network_data.json, user_data}. */
export async function buildConfigDriveIso(drive: ConfigDrive, scratchDir: string): Promise<Buffer> {
  const work = await mkdtemp(path.join(scratchDir, 'configdrive-'));
  try {
    const latest = path.join(work, 'root', 'openstack', 'latest');
    await mkdir(latest, { recursive: true });
    await writeFile(path.join(latest, 'meta_data.json'), JSON.stringify(drive.meta_data));
    await writeFile(path.join(latest, 'network_data.json'), JSON.stringify(drive.network_data ?? {}));
    if (drive.user_data !== undefined) await writeFile(path.join(latest, 'user_data'), drive.user_data);
    const iso = path.join(work, 'configdrive.iso');
    await makeIso(path.join(work, 'root'), iso);
    return await readFile(iso);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

export async function writeConfigDrive(
  platform: Platform,
  disk: Disk,
  drive: ConfigDrive,
): Promise<Extent & { iso_bytes: number }> {
  const extent = configDriveExtent(disk.sizeBytes);
  const iso = await buildConfigDriveIso(drive, platform.scratchDir);
  if (iso.length > extent.length)
    throw new Error(`the config drive (${iso.length} bytes) exceeds its ${extent.length}-byte partition`);
  await platform.addConfigDrivePartition(disk, extent);
  const target = await open(disk.path, 'r+');
  try {
    await target.write(iso, 0, iso.length, extent.offset);
    await target.sync();
  } finally {
    await target.close();
  }
  return { ...extent, iso_bytes: iso.length };
}
