// A client of QEMU's machine protocol (QMP) on a unix socket: newline-delimited JSON, a greeting,
// capabilities negotiation, then commands answered in order and asynchronous events in between.
import { once } from 'node:events';
import { createConnection, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
}

type Pending = { resolve: (value: unknown) => void; reject: (error: Error) => void };

export class QmpClient {
  readonly #socket: Socket;
  readonly #pending: Pending[] = [];
  readonly #onEvent: (event: QmpEvent) => void;
  #buffer = '';

  private constructor(socket: Socket, onEvent: (event: QmpEvent) => void) {
    this.#socket = socket;
    this.#onEvent = onEvent;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.#receive(chunk));
    socket.on('close', () => {
      for (const waiter of this.#pending.splice(0)) waiter.reject(new Error('QMP connection closed'));
    });
    socket.on('error', () => {});
  }

  /** Connects once QEMU has created the socket (it does so right after start), waiting up to `timeoutMs`. */
  static async connect(socketPath: string, onEvent: (event: QmpEvent) => void, timeoutMs = 10_000): Promise<QmpClient> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const socket = createConnection(socketPath);
      try {
        await once(socket, 'connect');
        const client = new QmpClient(socket, onEvent);
        // The greeting counts as the answer to an implicit first request.
        await new Promise((resolve, reject) => client.#pending.push({ resolve, reject }));
        await client.execute('qmp_capabilities');
        return client;
      } catch (error) {
        socket.destroy();
        if (Date.now() > deadline)
          throw new Error(`QMP socket ${socketPath} did not answer: ${(error as Error).message}`);
        await sleep(100);
      }
    }
  }

  execute(command: string, args?: Record<string, unknown>): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ resolve, reject });
      this.#socket.write(`${JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}) })}\n`);
    });
  }

  close(): void {
    this.#socket.destroy();
  }

  #receive(chunk: string): void {
    this.#buffer += chunk;
    for (let newline = this.#buffer.indexOf('\n'); newline >= 0; newline = this.#buffer.indexOf('\n')) {
      const line = this.#buffer.slice(0, newline).trim();
      this.#buffer = this.#buffer.slice(newline + 1);
      if (line) this.#message(JSON.parse(line) as Record<string, unknown>);
    }
  }

  #message(message: Record<string, unknown>): void {
    if (typeof message.event === 'string') {
      this.#onEvent(message as unknown as QmpEvent);
      return;
    }
    const waiter = this.#pending.shift();
    if (!waiter) return;
    const error = message.error as { desc?: string } | undefined;
    if (error) waiter.reject(new Error(`QMP: ${error.desc ?? JSON.stringify(error)}`));
    else waiter.resolve(message.return ?? message.QMP);
  }
}
