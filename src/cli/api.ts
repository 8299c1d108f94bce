// Wires the API: a pg pool, a Temporal client, the Express app on a loopback port.
import type { AddressInfo } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import { createApp } from '../api/app.js';
import { bootstrapAdminToken } from '../api/auth.js';
import { Operations } from '../api/operations.js';
import type { Config } from '../config.js';
import { createPool } from '../db/pool.js';
import type { Logger } from '../logger.js';

export interface RunningApi {
  url: string;
  close(): Promise<void>;
}

export async function startApi(config: Config, logger: Logger): Promise<RunningApi> {
  const pool = createPool(config.databaseUrl, config.pgPoolSize);
  const connection = await Connection.connect({ address: config.temporalAddress });
  const client = new Client({ connection, namespace: config.temporalNamespace });
  if (config.authMode === 'none') {
    logger.warn('TEMPERED_AUTH=none: AUTHENTICATION IS OFF, every caller is an admin. Never do this outside a development machine.');
  }
  const generated = await bootstrapAdminToken(pool, config.adminToken);
  if (generated) {
    // Shown once, on purpose outside the logs: it is a secret, and it is never stored in clear.
    console.log(`\nNo admin token existed, so one was made. Keep it; it is not shown again:\n\n  ${generated}\n`);
  }
  const app = createApp({ pool, operations: new Operations(client, config.taskQueue), logger, authMode: config.authMode, agentTokenKey: config.agentTokenKey });
  const server = await new Promise<ReturnType<typeof app.listen>>((resolve, reject) => {
    const s = app.listen(config.apiPort, config.apiHost, () => resolve(s)).once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${config.apiHost}:${port}`;
  logger.info({ url }, 'API listening');
  return {
    url,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await connection.close();
      await pool.end();
    },
  };
}
