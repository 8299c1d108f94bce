// Disk images for the lab, and the HTTP image server on loopback that deploys fetch them from
// (`up --lab`, the tests, the benchmarks). It has the failures a real one has: /<name> serves a
// file, /truncated/<name> announces the whole file but hangs up halfway, /slow/<name> serves it
// at 8 MiB/s, and anything else is a 404.
import { execFileSync, fork } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createServer } from 'node:http';
import { Transform } from 'node:stream';
import { sibling } from '../cli/paths.js';
import { listenHttp } from '../http-listen.js';

/** Large reads, as a real image server makes, so the server is not what a benchmark measures. */
const READ_CHUNK_BYTES = 4 * 1024 * 1024;

const SLOW_BYTES_PER_SECOND = 8 * 1024 * 1024;
const SLOW_CHUNK_BYTES = 256 * 1024;

function throttle(bytesPerSecond: number): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      setTimeout(() => callback(null, chunk), (chunk.length / bytesPerSecond) * 1000);
    },
  });
}

export interface ImageServer {
  port: number;
  url(name: string): string;
  close(): Promise<void>;
}

/** Serves `files` (URL name → path) on 127.0.0.1:`port`; 0 picks a free port. */
export async function startImageServer(files: Record<string, string>, port = 0): Promise<ImageServer> {
  const server = createServer((request, response) => {
    const [, prefix, name] = /^\/(?:(truncated|slow)\/)?([^/]+)$/.exec(request.url ?? '') ?? [];
    const file = name === undefined ? undefined : files[name];
    if (!file) {
      response.writeHead(404).end('not found');
      return;
    }
    const { size } = statSync(file);
    response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size });
    if (prefix === 'truncated') {
      createReadStream(file, { end: Math.floor(size / 2) - 1, highWaterMark: READ_CHUNK_BYTES })
        .on('end', () => response.destroy())
        .pipe(response, { end: false });
    } else if (prefix === 'slow') {
      // A far-away image server: long enough a download for a test to act in the middle of it.
      createReadStream(file, { highWaterMark: SLOW_CHUNK_BYTES }).pipe(throttle(SLOW_BYTES_PER_SECOND)).pipe(response);
    } else {
      createReadStream(file, { highWaterMark: READ_CHUNK_BYTES }).pipe(response);
    }
  });
  const listening = await listenHttp(server, '127.0.0.1', port);
  return {
    port: listening,
    url: (name) => `http://127.0.0.1:${listening}/${name}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** startImageServer in a child process of its own (image-server-main), for the light lab's thousand downloads at once. */
export async function startImageServerProcess(files: Record<string, string>, port = 0): Promise<ImageServer> {
  const args = ['--port', String(port), ...Object.entries(files).map(([name, file]) => `${name}=${file}`)];
  const child = fork(sibling(import.meta.url, './image-server-main'), args, { stdio: 'inherit' });
  const exited = once(child, 'exit');
  const [message] = (await Promise.race([
    once(child, 'message'),
    exited.then(([code]) => Promise.reject(new Error(`the image server exited (${code}) before listening`))),
  ])) as [{ port: number }];
  return {
    port: message.port,
    url: (name) => `http://127.0.0.1:${message.port}/${name}`,
    close: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      // A Ctrl-C reaches the whole process group: the child may be going already, its channel closed.
      if (child.connected) child.disconnect();
      await exited;
    },
  };
}

/** Writes `bytes` of incompressible data to `file` (in 4 MiB chunks) and returns its sha256. */
export async function writeRandomImage(file: string, bytes: number): Promise<string> {
  const hash = createHash('sha256');
  const out = createWriteStream(file);
  const chunk = Buffer.alloc(4 * 1024 * 1024);
  for (let written = 0; written < bytes; written += chunk.length) {
    const piece = chunk.subarray(0, Math.min(chunk.length, bytes - written));
    randomFillSync(piece);
    hash.update(piece);
    if (!out.write(piece)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return hash.digest('hex');
}

/** sha256 of `length` bytes of `file` from its start. */
export async function hashFilePrefix(file: string, length: number, algorithm = 'sha256'): Promise<string> {
  const hash = createHash(algorithm);
  for await (const chunk of createReadStream(file, { start: 0, end: length - 1 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export interface DiskImageOptions {
  /** Given: the root partition holds an ext4 file system with /boot/vmlinuz-<kernel> and its initrd, as a Linux image does, so the lab can kexec into it. */
  kernel?: string;
}

/** Byte offset and length of partition `number`, as sgdisk reports it. */
function partitionExtent(file: string, number: number): { offset: number; length: number } {
  const info = execFileSync('sgdisk', [`-i${number}`, file], { encoding: 'utf8' });
  const sector = (label: string) => Number(new RegExp(`${label} sector: (\\d+)`).exec(info)![1]);
  return { offset: sector('First') * 512, length: (sector('Last') - sector('First') + 1) * 512 };
}

/** An ext4 file system at the root partition with a Debian-style /boot, made by mke2fs -d (no mount, no root). */
function writeRootFileSystem(file: string, kernel: string): void {
  const tree = mkdtempSync(path.join(os.tmpdir(), 'image-root-'));
  try {
    for (const dir of ['boot', 'etc']) mkdirSync(path.join(tree, dir));
    writeFileSync(path.join(tree, 'boot', `vmlinuz-${kernel}`), `lab kernel ${kernel}\n`);
    writeFileSync(path.join(tree, 'boot', `initrd.img-${kernel}`), `lab initrd ${kernel}\n`);
    writeFileSync(path.join(tree, 'etc', 'os-release'), 'NAME="Tempered lab"\nID=tempered-lab\n');
    const { offset, length } = partitionExtent(file, 2);
    execFileSync(
      'mkfs.ext4',
      ['-q', '-F', '-d', tree, '-E', `offset=${offset}`, file, `${Math.floor(length / 1024)}k`],
      {
        stdio: 'ignore',
      },
    );
  } finally {
    rmSync(tree, { recursive: true, force: true });
  }
}

/**
 * A whole-disk image as a deploy writes it: a GPT with an EFI system partition (for
 * install_bootloader) and a root partition full of random bytes, or holding a kernel. Returns its sha256.
 */
export async function writeDiskImage(file: string, bytes: number, options: DiskImageOptions = {}): Promise<string> {
  await writeRandomImage(file, bytes);
  execFileSync('sgdisk', ['--zap-all', file], { stdio: 'ignore' });
  execFileSync('sgdisk', ['-n1:2048:+8M', '-t1:ef00', '-n2:0:0', '-t2:8300', file], { stdio: 'ignore' });
  if (options.kernel) writeRootFileSystem(file, options.kernel);
  return hashFilePrefix(file, bytes);
}
