// Root device hints (Ironic's node.properties.root_device): which disk the image goes to. Pure, so
// the API validates hints, inspection computes local_gb from the same disk the agent will write,
// and the agent picks that disk.
import { z } from 'zod';

const GiB = 1024 ** 3;

/** Without hints the root device is the smallest disk at least this big, as in Ironic. */
export const MIN_ROOT_DEVICE_BYTES = 4 * GiB;

/** `size` is in GiB: a number, or a string with an operator such as ">= 100". */
export const rootDeviceHintsSchema = z
  .strictObject({
    name: z.string().min(1).max(255),
    serial: z.string().min(1).max(255),
    wwn: z.string().min(1).max(255),
    model: z.string().min(1).max(255),
    vendor: z.string().min(1).max(255),
    size: z.union([
      z.number().int().nonnegative(),
      z.string().regex(/^\s*(==|>=|<=|>|<)?\s*\d+\s*$/, 'must be a number of GiB, optionally after ==, >=, <=, > or <'),
    ]),
    rotational: z.boolean(),
  })
  .partial();
export type RootDeviceHints = z.infer<typeof rootDeviceHintsSchema>;

/** What the choice looks at; agent disks and inspected ones both have it. */
export interface DiskFacts {
  /** Kernel name, e.g. sda or nvme0n1. */
  name: string;
  /** The device path, e.g. /dev/sda. */
  path: string;
  sizeBytes: number;
  model: string | null;
  vendor: string | null;
  serial: string | null;
  wwn: string | null;
  /** null: not known (a BMC may not say). */
  rotational: boolean | null;
}

const SIZE_OPERATORS: Record<string, (a: number, b: number) => boolean> = {
  '==': (a, b) => a === b,
  '>=': (a, b) => a >= b,
  '<=': (a, b) => a <= b,
  '>': (a, b) => a > b,
  '<': (a, b) => a < b,
};

function sizeMatches(disk: DiskFacts, hint: number | string): boolean {
  const match = /^\s*(==|>=|<=|>|<)?\s*(\d+)\s*$/.exec(String(hint));
  if (!match)
    throw new Error(`root device hint size "${hint}" is not a number of GiB, optionally after ==, >=, <=, > or <`);
  return SIZE_OPERATORS[match[1] ?? '=='](Math.floor(disk.sizeBytes / GiB), Number(match[2]));
}

function matchesHints(disk: DiskFacts, hints: RootDeviceHints): boolean {
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
export function selectRootDevice<D extends DiskFacts>(disks: readonly D[], hints: RootDeviceHints | undefined): D {
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
