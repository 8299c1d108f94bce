// Reads a GUID partition table from a disk image, for the simulated platform, which has no
// kernel to do it. 512-byte sectors, as in every disk file.
import { open } from 'node:fs/promises';

const SECTOR_BYTES = 512;
const SIGNATURE = 'EFI PART';
/** Partition type of an EFI system partition. */
export const EFI_SYSTEM_PARTITION_TYPE = 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b';

export interface GptPartition {
  /** 1-based, as the kernel and efibootmgr count. */
  number: number;
  typeGuid: string;
  uniqueGuid: string;
  firstByte: number;
  /** Exclusive. */
  endByte: number;
  name: string;
}

/** GUIDs are stored with their first three fields little-endian. */
function readGuid(bytes: Buffer, at: number): string {
  const hex = (from: number, to: number, reverse: boolean) => {
    const part = Buffer.from(bytes.subarray(at + from, at + to));
    return (reverse ? part.reverse() : part).toString('hex');
  };
  return [hex(0, 4, true), hex(4, 6, true), hex(6, 8, true), hex(8, 10, false), hex(10, 16, false)].join('-');
}

/** The partitions of the primary GPT, or of the backup when the primary is gone; [] when neither exists. */
export async function readGpt(path: string): Promise<GptPartition[]> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    const read = async (position: number, length: number) => {
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await file.read(buffer, 0, length, position);
      return buffer.subarray(0, bytesRead);
    };
    for (const headerAt of [SECTOR_BYTES, size - SECTOR_BYTES]) {
      if (headerAt < 0) continue;
      const header = await read(headerAt, SECTOR_BYTES);
      if (header.subarray(0, 8).toString('latin1') !== SIGNATURE) continue;
      const entriesLba = Number(header.readBigUInt64LE(72));
      const count = header.readUInt32LE(80);
      const entrySize = header.readUInt32LE(84);
      const entries = await read(entriesLba * SECTOR_BYTES, count * entrySize);
      const partitions: GptPartition[] = [];
      for (let i = 0; i < count && (i + 1) * entrySize <= entries.length; i++) {
        const at = i * entrySize;
        const typeGuid = readGuid(entries, at);
        if (/^[0-]+$/.test(typeGuid)) continue; // an unused slot
        partitions.push({
          number: i + 1,
          typeGuid,
          uniqueGuid: readGuid(entries, at + 16),
          firstByte: Number(entries.readBigUInt64LE(at + 32)) * SECTOR_BYTES,
          endByte: (Number(entries.readBigUInt64LE(at + 40)) + 1) * SECTOR_BYTES,
          name: entries
            .subarray(at + 56, at + 128)
            .toString('utf16le')
            .replace(/\0.*$/s, ''),
        });
      }
      return partitions;
    }
    return [];
  } finally {
    await file.close();
  }
}
