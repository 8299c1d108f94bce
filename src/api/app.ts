import express from 'express';
import { pinoHttp } from 'pino-http';
import type { Pool } from '../db/pool.js';
import type { BmcAccess } from '../domain/bmc-access.js';
import type { Logger } from '../logger.js';
import { agentRouter } from './agent.js';
import { allocationsRouter, nodeAllocationRouter } from './allocations.js';
import { authenticate, type AuthMode } from './auth.js';
import { requestId } from './context.js';
import { deployTemplatesRouter } from './deploy-templates.js';
import { deploymentsRouter } from './deployments.js';
import { driversRouter } from './drivers.js';
import { errorHandler, unknownRoute } from './errors.js';
import { eventsRouter } from './events.js';
import { inspectionRulesRouter, nodeInventoryRouter } from './inspection.js';
import { ipxeRouter, type NetworkBootConfig } from './ipxe.js';
import { checkJsonShape } from './json-shape.js';
import { negotiateVersion, versionsRouter } from './ironic.js';
import type { ApiMetrics } from './metrics.js';
import { nodesRouter } from './nodes.js';
import type { Operations } from './operations.js';
import { portsRouter } from './ports.js';
import { referenceRouter } from './reference.js';
import type { RefusalLog } from './refusals.js';
import { ReservationWorkflows } from './reservation-workflows.js';
import { reservationSchedulesRouter, reservationsRouter } from './reservations.js';
import { tokensRouter } from './tokens.js';
import { warmPoolsRouter } from './warm-pools.js';

export interface ApiDependencies {
  pool: Pool;
  operations: Operations;
  logger: Logger;
  authMode: AuthMode;
  /** Where callers reach the API, for links; resolved once the listener is bound, hence a function. */
  publicUrl: () => string;
  metrics: ApiMetrics;
  /** The operator's rules for BMC addresses and CA bundles, checked when driver_info is written. */
  bmcAccess: BmcAccess;
  /** Where failed authentications go: the event log, coalesced per source. */
  refusals: RefusalLog;
}

export interface AgentApiDependencies {
  pool: Pool;
  operations: Operations;
  logger: Logger;
  /** Key the agent tokens are derived with (AGENT_TOKEN_KEY); without it lookups answer 503. */
  agentTokenKey?: string;
  /** Where network-booting machines get the ramdisk; absent: every iPXE script exits to the next boot device. */
  networkBoot?: NetworkBootConfig;
  metrics: ApiMetrics;
  /** Where refused agent calls go: the event log, coalesced per source. */
  refusals: RefusalLog;
}

/** Bodies beyond this are refused with 413 before they are parsed. */
const BODY_LIMIT = '256kb';

/** What both listeners share: request ids, request logs without bodies, JSON bodies. */
function baseApp(logger: Logger, metrics: ApiMetrics): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.use(metrics.measure);
  app.use(requestId);
  app.use(
    pinoHttp({
      logger,
      genReqId: (_req, res) => res.locals.requestId,
      // Every line of a request carries its id and, once a route knows it, the node's UUID.
      quietReqLogger: true,
      customAttributeKeys: { reqId: 'requestId' },
      customProps: (_req, res) => (res.locals.nodeUuid ? { nodeUuid: res.locals.nodeUuid } : {}),
      // Bodies are never logged: they may carry BMC credentials.
      serializers: {
        req: (req) => ({ method: req.method, url: req.url }),
        res: (res) => ({ statusCode: res.statusCode }),
      },
    }),
  );
  app.use(express.json({ limit: BODY_LIMIT, type: () => true, strict: false }));
  app.use(checkJsonShape);
  return app;
}

/**
 * The agents' API (lookup, heartbeat) on a listener of its own, so a deployment can put it on the
 * provisioning network only and keep the tenant API off it (and agents off the tenant API).
 */
export function createAgentApp({
  pool,
  operations,
  logger,
  agentTokenKey,
  networkBoot,
  metrics,
  refusals,
}: AgentApiDependencies): express.Express {
  const app = baseApp(logger, metrics);
  app.use('/v1', agentRouter(pool, operations, agentTokenKey, refusals)); // agents prove themselves with their agent token
  app.use('/v1', ipxeRouter(pool, networkBoot)); // booting machines hold no token
  app.use(unknownRoute);
  app.use(errorHandler(logger));
  return app;
}

/** The API for operators and tenants; every /v1 route needs an API token. */
export function createApp({
  pool,
  operations,
  logger,
  authMode,
  publicUrl,
  metrics,
  bmcAccess,
  refusals,
}: ApiDependencies): express.Express {
  const app = baseApp(logger, metrics);
  Object.defineProperty(app.locals, 'publicUrl', { get: publicUrl });

  app.get('/healthz', async (_req, res) => {
    await pool.query('SELECT 1');
    res.json({ status: 'ok' });
  });
  app.use(negotiateVersion);
  app.use(versionsRouter());
  app.use(referenceRouter()); // /v1/openapi.json and the /docs page, open like version discovery
  app.use(metrics.router); // GET /metrics: for a Prometheus on the same host (the API listens on loopback)
  app.use('/v1', authenticate(pool, authMode, refusals));
  app.use('/v1/auth/tokens', tokensRouter(pool));
  app.use('/v1/nodes', nodesRouter(pool, operations, bmcAccess));
  app.use('/v1/nodes', nodeAllocationRouter(pool));
  app.use('/v1/nodes', nodeInventoryRouter(pool));
  app.use('/v1/allocations', allocationsRouter(pool));
  const reservationWorkflows = new ReservationWorkflows(operations.client, operations.taskQueue);
  app.use('/v1/reservations', reservationsRouter(pool, reservationWorkflows));
  app.use('/v1/reservation_schedules', reservationSchedulesRouter(pool, reservationWorkflows));
  app.use('/v1/deployments', deploymentsRouter(pool, operations));
  app.use('/v1/deploy_templates', deployTemplatesRouter(pool));
  app.use('/v1/inspection_rules', inspectionRulesRouter(pool));
  app.use('/v1/ports', portsRouter(pool));
  app.use('/v1/events', eventsRouter(pool));
  app.use('/v1/drivers', driversRouter());
  app.use('/v1/warm_pools', warmPoolsRouter(pool, operations.client, operations.taskQueue));
  app.use(unknownRoute);
  app.use(errorHandler(logger));
  return app;
}
