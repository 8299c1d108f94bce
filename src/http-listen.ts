// How every HTTP listener of ours (the API, the agent's command listener, the lab's BMCs and image server) listens.
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An idle keep-alive connection is kept longer than its client keeps it (undici 4 s, load balancers
 * 60 s), so the client is the one that closes it and never sends on a connection this side has
 * just closed. With Node's 5 s default a busy client did, and its request failed ("other side
 * closed"): heartbeats, image downloads, agent commands and API calls of a thousand light-lab
 * machines.
 */
const KEEP_ALIVE_TIMEOUT_MS = 65_000;
/** Connections waiting to be accepted; Node's default (511) is less than a thousand machines calling in the same second. */
const LISTEN_BACKLOG = 4096;

/** Listens on host:port (0: a free port) with the settings above; answers the bound port. */
export async function listenHttp(server: Server, host: string, port: number): Promise<number> {
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  // Only an idle connection waits longer; a request's headers may take as long as they did.
  server.headersTimeout = KEEP_ALIVE_TIMEOUT_MS + 1000;
  server.listen({ host, port, backlog: LISTEN_BACKLOG });
  await Promise.race([once(server, 'listening'), once(server, 'error').then(([error]) => Promise.reject(error))]);
  return (server.address() as AddressInfo).port;
}
