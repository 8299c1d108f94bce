// Serves per-boot virtual-media ISOs to BMCs over HTTP. Each ISO's URL carries 256 random bits,
// so it cannot be guessed, and the file is removed when the boot is over (the media ejected).
// Files live as <node uuid>.<id>.iso in a folder only this user can read; the server keeps no
// other state, so a restarted worker still serves (and removes) the ISOs of boots in flight.
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

export interface MediaServerOptions {
  dir: string;
  host: string;
  /** 0: any free port. */
  port: number;
  /** How BMCs reach this server, e.g. http://10.0.0.5:8089; default: http://host:port. */
  publicUrl?: string;
}

const ID = /^\/([A-Za-z0-9_-]{43})\.iso$/;

export class MediaServer {
  readonly #dir: string;
  readonly #server: Server;
  readonly #publicUrl: string;

  private constructor(dir: string, server: Server, publicUrl: string) {
    this.#dir = dir;
    this.#server = server;
    this.#publicUrl = publicUrl;
  }

  static async start(options: MediaServerOptions): Promise<MediaServer> {
    await mkdir(options.dir, { recursive: true, mode: 0o700 });
    let media: MediaServer;
    const server = createServer(
      (request, response) => void media.#serve(request.method ?? '', request.url ?? '', response),
    );
    server.listen(options.port, options.host);
    await once(server, 'listening');
    // The worker's life is the activities'; an idle media server keeps no process alive.
    server.unref();
    const { port } = server.address() as AddressInfo;
    media = new MediaServer(
      options.dir,
      server,
      (options.publicUrl ?? `http://${options.host}:${port}`).replace(/\/+$/, ''),
    );
    return media;
  }

  /** A new file path for `nodeUuid`'s next ISO and the URL it will be served at. */
  allocate(nodeUuid: string): { file: string; url: string } {
    const id = randomBytes(32).toString('base64url');
    return { file: path.join(this.#dir, `${nodeUuid}.${id}.iso`), url: `${this.#publicUrl}/${id}.iso` };
  }

  /** Removes every ISO of `nodeUuid`: its boot is over. */
  async withdraw(nodeUuid: string): Promise<void> {
    const names = (await readdir(this.#dir)).filter((name) => name.startsWith(`${nodeUuid}.`));
    await Promise.all(names.map((name) => rm(path.join(this.#dir, name), { force: true })));
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  async #serve(method: string, url: string, response: ServerResponse): Promise<void> {
    const id = ID.exec(url)?.[1];
    const name = id && (await readdir(this.#dir).catch(() => [])).find((entry) => entry.endsWith(`.${id}.iso`));
    const file = name && path.join(this.#dir, name);
    // Withdrawn between the listing and now: as gone as never published.
    const size =
      file &&
      (await stat(file).then(
        (stats) => stats.size,
        () => undefined,
      ));
    if ((method !== 'GET' && method !== 'HEAD') || !file || size === undefined) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    response.writeHead(200, {
      'content-type': 'application/octet-stream',
      'content-length': size,
      'cache-control': 'no-store',
    });
    if (method === 'HEAD') response.end();
    else
      createReadStream(file)
        .on('error', () => response.destroy())
        .pipe(response);
  }
}
