// Disk choices that are the same on every platform: the root device, and where the config drive goes.
import type { Disk, Extent } from './platform/types.js';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

/** Without hints the root device is the smallest disk at least this big, as in Ironic. */
export const MIN_ROOT_DEVICE_BYTES = 4 * GiB;

/**
 * Ironic's root device hints (node.properties.root_device). `size` is in GiB: a number, or a
 * string with an operator such as ">= 100".
 */
export interface RootDeviceHints {
  name?: string;
  serial?: string;
  wwn?: string;
  model?: string;
  vendor?: string;
  size?: number | string;
  rotational?: boolean;
}

const SIZE_OPERATORS: Record<string, (a: number, b: number) => boolean> = {
  '==': (a, b) => a === b,
  '>=': (a, b) => a >= b,
  '<=': (a, b) => a <= b,
  '>': (a, b) => a > b,
  '<': (a, b) => a < b,
};

function sizeMatches(disk: Disk, hint: number | string): boolean {
  const match = /^\s*(==|>=|<=|>|<)?\s*(\d+)\s*$/.exec(String(hint));
  if (!match)
    throw new Error(`root device hint size "${hint}" is not a number of GiB, optionally after ==, >=, <=, > or <`);
  return SIZE_OPERATORS[match[1] ?? '=='](Math.floor(disk.sizeBytes / GiB), Number(match[2]));
}

function matchesHints(disk: Disk, hints: RootDeviceHints): boolean {
  const same = (actual: string | null, wanted: string | undefined) =>
    wanted === undefined || actual?.trim() === wanted.trim();
  return (
    (hints.name === undefined || disk.name === hints.name.replace(/^\/dev\//, '') || disk.path === hints.name) &&
    same(disk.serial, hints.serial) &&
    same(disk.wwn, hints.wwn) &&
    same(disk.model, hints.model) &&
    same(disk.vendor, hints.vendor) &&
    (hints.rotational === undefined || disk.rotational === hints.rotational) &&
    (hints.size === undefined || sizeMatches(disk, hints.size))
  );
}

/** The disk the image goes to: the smallest that matches every hint, or without hints the smallest ≥ 4 GiB. */
export function selectRootDevice(disks: readonly Disk[], hints: RootDeviceHints | undefined): Disk {
  const hinted = hints && Object.keys(hints).length > 0;
  const candidates = disks
    .filter((disk) => (hinted ? matchesHints(disk, hints) : disk.sizeBytes >= MIN_ROOT_DEVICE_BYTES))
    .sort((a, b) => a.sizeBytes - b.sizeBytes);
  if (candidates.length === 0) {
    const seen = disks.map((d) => `${d.name} (${(d.sizeBytes / GiB).toFixed(1)} GiB)`).join(', ') || 'none';
    throw new Error(
      hinted
        ? `no disk matches the root device hints ${JSON.stringify(hints)}; disks: ${seen}`
        : `no disk of at least ${MIN_ROOT_DEVICE_BYTES / GiB} GiB for the root device; disks: ${seen}`,
    );
  }
  return candidates[0];
}

/** Room for the config drive, as Ironic's agent makes it. */
export const CONFIG_DRIVE_BYTES = 64 * MiB;
/** Left free at the end for the backup GPT (33 sectors), rounded up to the 1 MiB alignment. */
const END_RESERVE_BYTES = MiB;

/**
 * The config drive's place: the last 64 MiB before the final MiB, aligned to 1 MiB. Far from the
 * start, so a whole-disk image written before it keeps all its partitions.
 */
export function configDriveExtent(diskSizeBytes: number): Extent {
  const end = Math.floor((diskSizeBytes - END_RESERVE_BYTES) / MiB) * MiB;
  const offset = end - CONFIG_DRIVE_BYTES;
  if (offset < MiB)
    throw new Error(`a disk of ${diskSizeBytes} bytes has no room for a ${CONFIG_DRIVE_BYTES / MiB} MiB config drive`);
  return { offset, length: CONFIG_DRIVE_BYTES };
}
