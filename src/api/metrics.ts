// GET /metrics of the API process in Prometheus' text format (prom-client): request durations by
// route and status, agent heartbeats, and nodes by provision state read from the database at
// each scrape. The worker's metrics (operations, activities, BMC calls, Temporal's own) are
// served by the worker's Prometheus endpoint (WORKER_METRICS_ADDRESS).
import type { Request, RequestHandler, Router } from 'express';
import { Router as createRouter } from 'express';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { countNodesByProvisionState } from '../db/nodes.js';
import type { Pool } from '../db/pool.js';

const HEARTBEAT_ROUTE = '/v1/heartbeat/:node';

/** The route pattern that answered ("/v1/nodes/:node"), so labels stay few; "unmatched" for 404s. */
function routeOf(req: Request): string {
  return req.route ? `${req.baseUrl}${req.route.path}` : 'unmatched';
}

export interface ApiMetrics {
  /** Times every request; mount first. */
  measure: RequestHandler;
  /** GET /metrics. */
  router: Router;
}

export function createApiMetrics(pool: Pool): ApiMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'tempered_api_' });
  const requests = new Histogram({
    name: 'tempered_http_request_duration_seconds',
    help: 'API requests by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const heartbeats = new Counter({
    name: 'tempered_agent_heartbeats_total',
    help: 'agent heartbeats received, by outcome (accepted or refused)',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  new Gauge({
    name: 'tempered_nodes',
    help: 'nodes by provision state',
    labelNames: ['provision_state'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const { provision_state, count } of await countNodesByProvisionState(pool))
        this.set({ provision_state }, count);
    },
  });

  const measure: RequestHandler = (req, res, next) => {
    const end = requests.startTimer({ method: req.method });
    // The route is known once a router matched; Express keeps it on the request after the handler.
    let route = 'unmatched';
    res.on('finish', () => {
      end({ route, status: String(res.statusCode) });
      if (route === HEARTBEAT_ROUTE) heartbeats.inc({ outcome: res.statusCode < 300 ? 'accepted' : 'refused' });
    });
    res.on('prefinish', () => (route = routeOf(req)));
    next();
  };

  const router = createRouter();
  router.get('/metrics', async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
  return { measure, router };
}
