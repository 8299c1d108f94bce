import { closeSync, openSync, readSync } from 'node:fs';

/** `length` bytes of `file` from `offset`, as a disk-reading tool would see them. */
export function readBytes(file: string, offset: number, length: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, offset);
    return buffer;
  } finally {
    closeSync(fd);
  }
}
