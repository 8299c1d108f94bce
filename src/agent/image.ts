// write_image: the image goes from its HTTP(S) URL to the root device in one pass, hashed on
// the way. Raw images stream straight to the disk; qcow2 (which needs random access) lands in
// the scratch folder first, is checked, and is converted onto the disk by qemu-img.
import { createHash, randomUUID, type Hash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import path from 'node:path';
import type { IncomingMessage } from 'node:http';
import { Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { DiskFormat, HashAlgorithm } from '../domain/image.js';
import { runCommand } from './exec.js';
import { httpGet } from './http-get.js';
import type { Disk, Platform } from './platform/types.js';

export interface ImageSource {
  image_source: string;
  disk_format: DiskFormat;
  os_hash_algo: HashAlgorithm;
  os_hash_value: string;
}

export interface WrittenImage {
  root_device: string;
  disk_format: DiskFormat;
  bytes_downloaded: number;
  os_hash_algo: HashAlgorithm;
  os_hash_value: string;
}

/** A failure the operator can act on; its message is the command's error. */
export class ImageError extends Error {
  override name = 'ImageError';
}

/** Big writes: the disk sees few large requests, as with dd bs=4M. */
const WRITE_CHUNK_BYTES = 4 * 1024 * 1024;
const QCOW2_MAGIC = Buffer.from('QFI\xfb', 'latin1');

/** The URL as it may be shown: pre-signed URLs carry credentials in their query. */
function printable(url: string): string {
  const { origin, pathname } = new URL(url);
  return `${origin}${pathname}`;
}

const truncated = (received: number, announced: number, where: string) =>
  new ImageError(`image download truncated: received ${received} of ${announced} bytes from ${where}`);

/** Counts and hashes what passes; refuses more than `limit` bytes and a qcow2 posing as raw. */
class MeteredHash extends Transform {
  bytes = 0;
  readonly hash: Hash;

  constructor(
    algorithm: HashAlgorithm,
    private readonly limit: number,
    private readonly expectRaw: boolean,
  ) {
    super();
    this.hash = createHash(algorithm);
  }

  override _transform(
    chunk: Buffer,
    _encoding: BufferEncoding,
    done: (error?: Error | null, data?: Buffer) => void,
  ): void {
    if (this.bytes === 0 && this.expectRaw && chunk.subarray(0, 4).equals(QCOW2_MAGIC)) {
      return done(new ImageError('the image is qcow2, but its disk_format says raw'));
    }
    this.bytes += chunk.length;
    if (this.bytes > this.limit)
      return done(new ImageError(`the image is larger than the ${this.limit} bytes it may take`));
    this.hash.update(chunk);
    done(null, chunk);
  }
}

/** Downloads `source` into `sink`, hashing in the same pass; checks length and checksum. */
async function download(source: ImageSource, sink: Writable, limit: number): Promise<number> {
  const where = printable(source.image_source);
  let response: IncomingMessage;
  try {
    response = await httpGet(source.image_source);
  } catch (err) {
    sink.destroy();
    throw new ImageError(`image download failed: ${where}: ${(err as Error).message}`);
  }
  if (response.statusCode !== 200) {
    response.resume();
    sink.destroy();
    throw new ImageError(
      `image download failed: GET ${where} answered ${response.statusCode} ${response.statusMessage}`,
    );
  }
  const announced = Number(response.headers['content-length'] ?? NaN);
  if (announced > limit) {
    response.destroy();
    sink.destroy();
    throw new ImageError(`the image (${announced} bytes) is larger than the ${limit} bytes it may take`);
  }
  const meter = new MeteredHash(source.os_hash_algo, limit, source.disk_format === 'raw');
  try {
    await pipeline(response, meter, sink);
  } catch (err) {
    if (err instanceof ImageError) throw err;
    if (meter.bytes < announced) throw truncated(meter.bytes, announced, where);
    throw new ImageError(`image download failed: ${where}: ${(err as Error).message}`);
  }
  if (Number.isFinite(announced) && meter.bytes !== announced) throw truncated(meter.bytes, announced, where);
  const actual = meter.hash.digest('hex');
  if (actual !== source.os_hash_value.toLowerCase()) {
    throw new ImageError(
      `image checksum mismatch: the ${source.os_hash_algo} of ${where} is ${actual}, expected ${source.os_hash_value}`,
    );
  }
  return meter.bytes;
}

async function fsync(target: string): Promise<void> {
  // fsync flushes the file's (or device's) pages whichever descriptor wrote them.
  const file = await open(target, 'r+');
  try {
    await file.sync();
  } finally {
    await file.close();
  }
}

interface QemuImgInfo {
  format: string;
  'virtual-size': number;
  'backing-filename'?: string;
  'format-specific'?: { data?: { 'data-file'?: string } };
}

/** Converts a downloaded qcow2 onto the disk, refusing images that would read other files. */
async function convertQcow2(file: string, disk: Disk): Promise<void> {
  // Always name the input format: a guessed format lets a crafted image choose how it is read.
  const info = JSON.parse(await runCommand('qemu-img', ['info', '--output=json', '-f', 'qcow2', file])) as QemuImgInfo;
  if (info['backing-filename'] || info['format-specific']?.data?.['data-file']) {
    throw new ImageError('qcow2 images with a backing file or an external data file are refused');
  }
  if (info['virtual-size'] > disk.sizeBytes) {
    throw new ImageError(
      `the image's virtual size (${info['virtual-size']} bytes) exceeds the root device ${disk.name} (${disk.sizeBytes} bytes)`,
    );
  }
  // -n: write into the existing device (or disk file) instead of creating a new target.
  await runCommand('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', '-n', file, disk.path]);
}

export async function writeImage(platform: Platform, disk: Disk, source: ImageSource): Promise<WrittenImage> {
  let bytes: number;
  if (source.disk_format === 'raw') {
    try {
      bytes = await download(
        source,
        createWriteStream(disk.path, { flags: 'r+', highWaterMark: WRITE_CHUNK_BYTES }),
        disk.sizeBytes,
      );
    } catch (err) {
      // Part of a bad image is on the disk by now: make sure nothing boots from it.
      await platform.eraseDeviceMetadata(disk);
      throw err;
    }
  } else {
    const file = path.join(platform.scratchDir, `image-${randomUUID()}.qcow2`);
    try {
      // The scratch copy may be any size: the virtual size is what must fit the disk.
      bytes = await download(
        source,
        createWriteStream(file, { highWaterMark: WRITE_CHUNK_BYTES }),
        Number.MAX_SAFE_INTEGER,
      );
      await convertQcow2(file, disk);
    } finally {
      await rm(file, { force: true });
    }
  }
  await fsync(disk.path);
  return {
    root_device: disk.path,
    disk_format: source.disk_format,
    bytes_downloaded: bytes,
    os_hash_algo: source.os_hash_algo,
    os_hash_value: source.os_hash_value.toLowerCase(),
  };
}
