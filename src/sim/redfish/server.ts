// An emulated Redfish BMC for one SimMachine, modelled on sushy-tools' emulator, and close enough
// to the DMTF schema that sushy (Ironic's client), redfishtool and our driver work. Each module
// adds its resources to one route table; the hardware state lives on the machine.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenHttp } from '../../http-listen.js';
import type { SimMachine } from '../machine.js';
import { addBiosRoutes } from './bios.js';
import { addFirmwareRoutes } from './firmware.js';
import { addResourceRoutes } from './resources.js';
import {
  notFound,
  redfishErrorBody,
  RedfishRequestError,
  type Method,
  type Reply,
  RouteTable,
  unauthorized,
} from './routes.js';
import { SessionStore } from './sessions.js';
import { addStorageRoutes } from './storage.js';
import { addVirtualMediaRoutes } from './virtual-media.js';

export interface RedfishBmcOptions {
  /** 0 or absent: a free port. */
  port?: number;
  username: string;
  password: string;
}

export interface RedfishBmc {
  /** Base URL to put in driver_info.redfish_address, e.g. http://127.0.0.1:41234 */
  url: string;
  port: number;
  /** A silent BMC drops every connection unanswered, as one fallen off the network; false: it answers again. */
  setSilent(silent: boolean): void;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1024 * 1024;

/** Serves `machine` over Redfish on 127.0.0.1. Every resource but the root and login needs credentials. */
export async function startRedfishBmc(machine: SimMachine, options: RedfishBmcOptions): Promise<RedfishBmc> {
  const sessions = new SessionStore(options.username, options.password);
  const routes = new RouteTable();
  addResourceRoutes(routes, machine);
  sessions.addRoutes(routes);
  addBiosRoutes(routes, machine);
  addFirmwareRoutes(routes, machine);
  addVirtualMediaRoutes(routes, machine);
  addStorageRoutes(routes, machine);

  const handle = async (request: IncomingMessage): Promise<Reply> => {
    // Clients differ on trailing slashes (sushy asks for /redfish/v1/), so both spellings work.
    const path = new URL(request.url ?? '/', 'http://bmc').pathname.replace(/\/+$/, '');
    const method = request.method as Method;
    const route = routes.find(path);
    // Credentials first, so a stranger cannot probe which resources exist.
    if (!route?.publicMethods.includes(method) && !sessions.isAuthorized(request)) return unauthorized;
    if (!route) throw notFound(path);
    const handler = route.methods[method];
    if (!handler) {
      return {
        status: 405,
        headers: { Allow: Object.keys(route.methods).join(', ') },
        body: redfishErrorBody(
          'Base.1.0.ActionNotSupported',
          `The method ${request.method} is not supported on ${path}.`,
        ),
      };
    }
    return handler(await readJsonBody(request), route.params);
  };

  let silent = false;
  const server = createServer((request, response) => {
    if (silent) return void request.socket.destroy();
    handle(request).then(
      (reply) => send(response, reply),
      (error: unknown) =>
        send(
          response,
          error instanceof RedfishRequestError
            ? { status: error.status, body: redfishErrorBody(error.messageId, error.message) }
            : { status: 500, body: redfishErrorBody('Base.1.0.InternalError', String(error)) },
        ),
    );
  });

  const port = await listenHttp(server, '127.0.0.1', options.port ?? 0);

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    setSilent: (value) => {
      silent = value;
      // Connections kept alive from before would still answer.
      if (silent) server.closeAllConnections();
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Keep-alive connections from clients would otherwise hold close() open.
        server.closeAllConnections();
      }),
  };
}

async function readJsonBody(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES)
      throw new RedfishRequestError(413, 'Base.1.0.GeneralError', 'The request body is too large.');
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new RedfishRequestError(400, 'Base.1.0.MalformedJSON', 'The request body submitted was malformed JSON.');
  }
}

function send(response: ServerResponse, { status, body, headers }: Reply): void {
  response.writeHead(status, {
    'OData-Version': '4.0',
    ...(body === undefined ? {} : { 'Content-Type': 'application/json; charset=utf-8' }),
    ...headers,
  });
  response.end(body === undefined ? undefined : JSON.stringify(body));
}
