// Hashing on a thread of its own, so an image's checksum is computed while the main thread
// receives the next bytes and the thread pool writes the previous ones. Buffers are shared
// (SharedArrayBuffer), never copied. One thread per process serves every hash in it, started on
// first use, keeping the process alive only while a hash waits on it.
import { Worker } from 'node:worker_threads';
import type { HashAlgorithm } from '../domain/image.js';

// Plain JavaScript run by the thread: no module to resolve, whether the agent runs compiled or not.
const THREAD_CODE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const hashes = new Map();
parentPort.on('message', ({ id, algorithm, bytes, end }) => {
  let hash = hashes.get(id);
  if (!hash) hashes.set(id, (hash = createHash(algorithm)));
  if (bytes) hash.update(bytes);
  if (end) hashes.delete(id);
  parentPort.postMessage({ id, digest: end ? hash.digest('hex') : undefined });
});
`;

interface Reply {
  id: number;
  digest?: string;
}

let thread: Worker | undefined;
let nextId = 0;
/** Per hash, the callers waiting for the thread's answers, in the order asked (the thread answers in order). */
const waiting = new Map<number, { resolve: (digest: string | undefined) => void; reject: (err: Error) => void }[]>();

function hashThread(): Worker {
  if (thread) return thread;
  const started = new Worker(THREAD_CODE, { eval: true });
  started.on('message', ({ id, digest }: Reply) => {
    const queue = waiting.get(id)!;
    queue.shift()!.resolve(digest);
    if (queue.length === 0) waiting.delete(id);
    if (waiting.size === 0) started.unref();
  });
  started.on('error', (err) => {
    thread = undefined;
    for (const queue of waiting.values()) for (const { reject } of queue) reject(err);
    waiting.clear();
  });
  thread = started;
  return started;
}

/** A running hash on the hashing thread. */
export class ThreadHash {
  readonly #id = nextId++;

  constructor(private readonly algorithm: HashAlgorithm) {}

  #ask(message: { bytes?: Uint8Array; end?: boolean }): Promise<string | undefined> {
    const worker = hashThread();
    // The thread keeps the process alive only while a hash waits on it.
    worker.ref();
    return new Promise((resolve, reject) => {
      const queue = waiting.get(this.#id) ?? [];
      waiting.set(this.#id, queue);
      queue.push({ resolve, reject });
      worker.postMessage({ id: this.#id, algorithm: this.algorithm, ...message });
    });
  }

  /** Hashes `bytes`, a view of a SharedArrayBuffer; resolves once they were read, so the buffer may be reused. */
  async update(bytes: Uint8Array): Promise<void> {
    await this.#ask({ bytes });
  }

  /** The hex digest; the hash is over after it (also to drop one whose input failed). */
  async digest(): Promise<string> {
    return (await this.#ask({ end: true }))!;
  }
}

/** A buffer the hashing thread can read without a copy. */
export function sharedBuffer(bytes: number): Buffer {
  return Buffer.from(new SharedArrayBuffer(bytes));
}
