// Wires the API: a pg pool, a Temporal client, the tenant API and the agents' API, each on a listener of its own.
import { createServer, type Server } from 'node:http';
import type express from 'express';
import { Client, Connection } from '@temporalio/client';
import { createAgentApp, createApp } from '../api/app.js';
import { createApiMetrics } from '../api/metrics.js';
import { bootstrapAdminToken } from '../api/auth.js';
import { Operations } from '../api/operations.js';
import { ensurePowerSyncSchedule } from '../api/power-sync-schedule.js';
import { RefusalLog } from '../api/refusals.js';
import type { Config } from '../config.js';
import { listenHttp } from '../http-listen.js';
import { openPool } from './database.js';
import type { Logger } from '../logger.js';

export interface RunningApi {
  url: string;
  /** Where agents look up and heartbeat. */
  agentUrl: string;
  close(): Promise<void>;
}

async function listen(app: express.Express, port: number, host: string): Promise<{ server: Server; url: string }> {
  const server = createServer(app);
  const bound = await listenHttp(server, host, port);
  return { server, url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}` };
}

async function closeServer(server: Server): Promise<void> {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
}

export async function startApi(config: Config, logger: Logger): Promise<RunningApi> {
  const pool = openPool(config, logger);
  const connection = await Connection.connect({ address: config.temporalAddress });
  const client = new Client({ connection, namespace: config.temporalNamespace });
  if (config.authMode === 'none') {
    logger.warn(
      'TEMPERED_AUTH=none: AUTHENTICATION IS OFF, every caller is an admin. Never do this outside a development machine.',
    );
  }
  const generated = await bootstrapAdminToken(pool, config.adminToken);
  if (generated) {
    // Shown once, on purpose outside the logs: it is a secret, and it is never stored in clear.
    console.log(`\nNo admin token existed, so one was made. Keep it; it is not shown again:\n\n  ${generated}\n`);
  }
  const operations = new Operations(client, config.taskQueue);
  if (config.powerSync) await ensurePowerSyncSchedule(client, config.taskQueue, config.powerSync);
  let publicUrl = config.publicUrl;
  // One set of metrics for both listeners: /metrics on the API counts the agents' heartbeats too.
  const metrics = createApiMetrics(pool);
  const refusals = new RefusalLog(pool, logger, config.refusalWindowSeconds);
  const app = createApp({
    pool,
    operations,
    logger,
    authMode: config.authMode,
    publicUrl: () => publicUrl!,
    metrics,
    bmcAccess: config.bmcAccess,
    refusals,
  });
  const api = await listen(app, config.apiPort, config.apiHost);
  publicUrl ??= api.url;
  const agentApi = await listen(
    createAgentApp({
      pool,
      operations,
      logger,
      agentTokenKey: config.agentTokenKey,
      networkBoot: config.networkBoot,
      metrics,
      refusals,
    }),
    config.agentApiPort,
    config.agentApiHost,
  ).catch(async (err) => {
    await closeServer(api.server);
    throw err;
  });
  logger.info({ url: api.url, publicUrl, agentUrl: agentApi.url }, 'API listening');
  let closed: Promise<void> | undefined;
  return {
    url: api.url,
    agentUrl: agentApi.url,
    // Once: Ctrl-C in a terminal reaches the API directly, and `up` then stops it again.
    close: () =>
      (closed ??= (async () => {
        await closeServer(api.server);
        await closeServer(agentApi.server);
        await refusals.close();
        await connection.close();
        await pool.end();
      })()),
  };
}
