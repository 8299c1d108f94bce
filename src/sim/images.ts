// Disk images for the lab, and the HTTP image server on loopback that deploys fetch them from
// (`up --lab`, the tests, the benchmarks). It has the failures a real one has: /<name> serves a
// file, /truncated/<name> announces the whole file but hangs up halfway, /slow/<name> serves it
// at 8 MiB/s, and anything else is a 404.
import { execFileSync } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { Transform } from 'node:stream';
import type { AddressInfo } from 'node:net';

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
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  const { port: listening } = server.address() as AddressInfo;
  return {
    url: (name) => `http://127.0.0.1:${listening}/${name}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
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

/**
 * A whole-disk image as a deploy writes it: a GPT with an EFI system partition (for
 * install_bootloader) and a root partition full of random bytes. Returns its sha256.
 */
export async function writeDiskImage(file: string, bytes: number): Promise<string> {
  await writeRandomImage(file, bytes);
  execFileSync('sgdisk', ['--zap-all', file], { stdio: 'ignore' });
  execFileSync('sgdisk', ['-n1:2048:+8M', '-t1:ef00', '-n2:0:0', '-t2:8300', file], { stdio: 'ignore' });
  return hashFilePrefix(file, bytes);
}
