// Where the config drive goes, the same on every platform (the root device is chosen in domain/root-device.ts).
import type { Extent } from './platform/types.js';

const MiB = 1024 ** 2;

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
