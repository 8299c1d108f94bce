// write_image: the image goes from its HTTP(S) URL to the root device in one pass, hashed on
// the way. Raw images stream straight to the disk; qcow2 (which needs random access) lands in
// the scratch folder first, is checked, and is converted onto the disk by qemu-img. Receiving,
// hashing (on its own thread) and writing (on the thread pool) overlap, in large buffers.
import { randomUUID } from 'node:crypto';
import { open, rm, type FileHandle } from 'node:fs/promises';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import path from 'node:path';
import type { DiskFormat, HashAlgorithm } from '../domain/image.js';
import { runCommand } from './exec.js';
import { sharedBuffer, ThreadHash } from './hash-thread.js';
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

/**
 * Big writes at offsets aligned to their size: the disk sees few large requests, as with dd bs=4M.
 * While a buffer is hashed and written, the next one fills from the network.
 */
const WRITE_BUFFER_BYTES = 8 * 1024 * 1024;
/** Buffers at most: one filling, the others being hashed and written. */
const WRITE_BUFFERS = 3;
/**
 * The disk flushes while the download goes on: without it the page cache takes the whole image
 * and the final fsync then waits for all of it, the download long over.
 */
const FLUSH_EVERY_BYTES = 64 * 1024 * 1024;
const MAX_REDIRECTS = 5;
const QCOW2_MAGIC = Buffer.from('QFI\xfb', 'latin1');

/** The URL as it may be shown: pre-signed URLs carry credentials in their query. */
function printable(url: string): string {
  const { origin, pathname } = new URL(url);
  return `${origin}${pathname}`;
}

const truncated = (received: number, announced: number, where: string) =>
  new ImageError(`image download truncated: received ${received} of ${announced} bytes from ${where}`);

/**
 * Writes a byte stream to a file in large buffers, each hashed on the hashing thread while it is
 * written, with up to WRITE_BUFFERS - 1 buffers and one background flush in flight. Buffers are
 * made as they are needed and no bigger than the announced size, so a small image costs little
 * memory (a light lab deploys a thousand at once).
 */
class OverlappedWriter {
  bytes = 0;
  readonly hash: ThreadHash;
  #spare: Buffer[] = [];
  #current: Buffer | undefined;
  #filled = 0;
  #inFlight = new Set<Promise<void>>();
  #error: Error | undefined;
  #flush: Promise<void> | undefined;
  #flushedAt = 0;
  readonly #bufferBytes: number;

  constructor(
    private readonly file: FileHandle,
    algorithm: HashAlgorithm,
    announced: number,
  ) {
    this.hash = new ThreadHash(algorithm);
    const wanted = Number.isFinite(announced) && announced > 0 ? announced : WRITE_BUFFER_BYTES;
    this.#bufferBytes = Math.min(WRITE_BUFFER_BYTES, Math.ceil(wanted / 4096) * 4096);
  }

  /** Takes `chunk`; resolves when there is room for the next one. */
  async push(chunk: Uint8Array): Promise<void> {
    for (let offset = 0; offset < chunk.length; ) {
      const buffer = (this.#current ??= await this.#freeBuffer());
      const taken = Math.min(chunk.length - offset, buffer.length - this.#filled);
      buffer.set(chunk.subarray(offset, offset + taken), this.#filled);
      this.#filled += taken;
      offset += taken;
      if (this.#filled === buffer.length) this.#writeCurrent();
    }
  }

  /** Writes what is left, waits for every write and flush, and answers the digest. */
  async finish(): Promise<string> {
    if (this.#filled > 0) this.#writeCurrent();
    await Promise.all(this.#inFlight);
    await this.#flush;
    if (this.#error) throw this.#error;
    return this.hash.digest();
  }

  /** After a failure: waits for what is in flight, so nothing lands on the disk later, and drops the hash. */
  async abandon(): Promise<void> {
    await Promise.allSettled([...this.#inFlight, this.#flush]);
    await this.hash.digest().catch(() => {});
  }

  #writeCurrent(): void {
    const buffer = this.#current!;
    const length = this.#filled;
    const position = this.bytes;
    this.#current = undefined;
    this.#filled = 0;
    this.bytes += length;
    const work = Promise.all([this.hash.update(buffer.subarray(0, length)), this.#writeFully(buffer, length, position)]).then(
      () => {
        this.#inFlight.delete(work);
        this.#spare.push(buffer);
        this.#flushInBackground();
      },
      (err: Error) => {
        this.#inFlight.delete(work);
        this.#error ??= new ImageError(`writing the image failed: ${err.message}`);
      },
    );
    this.#inFlight.add(work);
  }

  async #writeFully(buffer: Buffer, length: number, position: number): Promise<void> {
    for (let done = 0; done < length; ) {
      const { bytesWritten } = await this.file.write(buffer, done, length - done, position + done);
      done += bytesWritten;
    }
  }

  #flushInBackground(): void {
    if (this.#flush || this.bytes - this.#flushedAt < FLUSH_EVERY_BYTES) return;
    this.#flushedAt = this.bytes;
    this.#flush = this.file.datasync().then(
      () => void (this.#flush = undefined),
      (err: Error) => {
        this.#flush = undefined;
        this.#error ??= new ImageError(`flushing the image to the disk failed: ${err.message}`);
      },
    );
  }

  /** A buffer nothing is using: a spare one, a new one while under WRITE_BUFFERS, else the next to come free. */
  async #freeBuffer(): Promise<Buffer> {
    for (;;) {
      if (this.#error) throw this.#error;
      const spare = this.#spare.pop();
      if (spare) return spare;
      if (this.#inFlight.size + 1 < WRITE_BUFFERS) return sharedBuffer(this.#bufferBytes);
      await Promise.race(this.#inFlight);
    }
  }
}

/**
 * GET `url` with node's http client (node streams cost half the CPU of fetch's web streams at
 * disk speed), following redirects as pre-signed object-store URLs need.
 */
async function get(url: string, redirects = MAX_REDIRECTS): Promise<IncomingMessage> {
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    const client = url.startsWith('https:') ? https : http;
    client.get(url, resolve).once('error', reject);
  });
  const location = response.headers.location;
  if (response.statusCode! >= 300 && response.statusCode! < 400 && location) {
    response.resume();
    if (redirects === 0) throw new Error(`more than ${MAX_REDIRECTS} redirects`);
    const next = new URL(location, url);
    if (next.protocol !== 'http:' && next.protocol !== 'https:') throw new Error(`redirected to a ${next.protocol} URL`);
    return get(next.href, redirects - 1);
  }
  return response;
}

/**
 * Downloads `source` into `file` from offset 0, hashing in the same pass; checks length, format
 * and checksum. The file is left open for the caller to sync and close.
 */
async function download(source: ImageSource, file: FileHandle, limit: number): Promise<number> {
  const where = printable(source.image_source);
  let response: IncomingMessage;
  try {
    response = await get(source.image_source);
  } catch (err) {
    throw new ImageError(`image download failed: ${where}: ${(err as Error).message}`);
  }
  if (response.statusCode !== 200) {
    response.resume();
    throw new ImageError(`image download failed: GET ${where} answered ${response.statusCode} ${response.statusMessage}`);
  }
  const announced = Number(response.headers['content-length'] ?? NaN);
  if (announced > limit) {
    response.destroy();
    throw new ImageError(`the image (${announced} bytes) is larger than the ${limit} bytes it may take`);
  }
  const writer = new OverlappedWriter(file, source.os_hash_algo, announced);
  let received = 0;
  let actual: string;
  try {
    for await (const chunk of response as AsyncIterable<Buffer>) {
      if (received === 0 && source.disk_format === 'raw' && chunk.subarray(0, 4).equals(QCOW2_MAGIC)) {
        throw new ImageError('the image is qcow2, but its disk_format says raw');
      }
      received += chunk.length;
      if (received > limit) throw new ImageError(`the image is larger than the ${limit} bytes it may take`);
      await writer.push(chunk);
    }
    actual = await writer.finish();
  } catch (err) {
    response.destroy();
    await writer.abandon();
    if (err instanceof ImageError) throw err;
    if (received < announced) throw truncated(received, announced, where);
    throw new ImageError(`image download failed: ${where}: ${(err as Error).message}`);
  }
  if (Number.isFinite(announced) && received !== announced) throw truncated(received, announced, where);
  if (actual !== source.os_hash_value.toLowerCase()) {
    throw new ImageError(`image checksum mismatch: the ${source.os_hash_algo} of ${where} is ${actual}, expected ${source.os_hash_value}`);
  }
  return received;
}

/** Downloads `source` into the file at `target` ('r+': a disk or disk file; 'w': a new scratch file) and syncs it. */
async function downloadInto(source: ImageSource, target: string, flags: 'r+' | 'w', limit: number): Promise<number> {
  const file = await open(target, flags);
  try {
    const bytes = await download(source, file, limit);
    await file.sync();
    return bytes;
  } finally {
    await file.close();
  }
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
    throw new ImageError(`the image's virtual size (${info['virtual-size']} bytes) exceeds the root device ${disk.name} (${disk.sizeBytes} bytes)`);
  }
  // -n: write into the existing device (or disk file) instead of creating a new target.
  await runCommand('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', '-n', file, disk.path]);
}

export async function writeImage(platform: Platform, disk: Disk, source: ImageSource): Promise<WrittenImage> {
  let bytes: number;
  if (source.disk_format === 'raw') {
    try {
      bytes = await downloadInto(source, disk.path, 'r+', disk.sizeBytes);
    } catch (err) {
      // Part of a bad image is on the disk by now: make sure nothing boots from it.
      await platform.eraseDeviceMetadata(disk);
      throw err;
    }
  } else {
    const file = path.join(platform.scratchDir, `image-${randomUUID()}.qcow2`);
    try {
      // The scratch copy may be any size: the virtual size is what must fit the disk.
      bytes = await downloadInto(source, file, 'w', Number.MAX_SAFE_INTEGER);
      await convertQcow2(file, disk);
    } finally {
      await rm(file, { force: true });
    }
    await fsync(disk.path);
  }
  return {
    root_device: disk.path,
    disk_format: source.disk_format,
    bytes_downloaded: bytes,
    os_hash_algo: source.os_hash_algo,
    os_hash_value: source.os_hash_value.toLowerCase(),
  };
}
