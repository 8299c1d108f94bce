// A stand-in for the Tempered API as an agent sees it: every lookup is answered with one node
// and one token, and heartbeats and command reports are recorded. For agent tests and the image benchmark, which
// need an agent with a known token and no database.
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Heartbeat {
  path: string;
  callback_url: string;
  agent_version: string;
  agent_token: string;
}

export interface CommandReport {
  path: string;
  agent_token: string;
  command_id: string;
  command_status: string;
}

export interface FakeControlPlane {
  url: string;
  lookups: string[];
  heartbeats: Heartbeat[];
  commandReports: CommandReport[];
  close(): Promise<void>;
}

/** Listens on `port` (0: any); heartbeat_interval is in seconds. */
export async function startFakeControlPlane(options: {
  port?: number;
  nodeUuid: string;
  token: string;
  heartbeatInterval: number;
}): Promise<FakeControlPlane> {
  const lookups: string[] = [];
  const heartbeats: Heartbeat[] = [];
  const commandReports: CommandReport[] = [];
  const server = createServer((request, response) => {
    const url = new URL(request.url!, 'http://control-plane');
    if (url.pathname === '/v1/lookup') {
      lookups.push(url.searchParams.get('addresses')!);
      response.setHeader('content-type', 'application/json');
      response.end(
        JSON.stringify({
          node: { uuid: options.nodeUuid },
          config: { heartbeat_interval: options.heartbeatInterval, agent_token: options.token },
        }),
      );
      return;
    }
    let body = '';
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => {
      const call = { path: url.pathname, ...JSON.parse(body) };
      if (url.pathname.startsWith('/v1/command_result/')) commandReports.push(call);
      else heartbeats.push(call);
      response.writeHead(202).end();
    });
  });
  server.listen(options.port ?? 0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    lookups,
    heartbeats,
    commandReports,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
