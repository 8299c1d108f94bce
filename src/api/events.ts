import { Router } from 'express';
import { listEvents } from '../db/events.js';
import { findNode } from '../db/nodes.js';
import type { Pool } from '../db/pool.js';
import { accessNode, visibleTo } from './auth.js';
import { notFound, parse } from './errors.js';
import { eventListQuery } from './schemas.js';
import { eventView, pageView } from './views.js';

export function eventsRouter(pool: Pool): Router {
  const router = Router();
  router.get('/', async (req, res) => {
    const {
      limit,
      marker,
      node: nodeIdent,
      kind,
      user,
      project,
      since,
      until,
    } = parse(eventListQuery, req.query, 'query');
    const node = nodeIdent
      ? accessNode(req, await findNode(pool, nodeIdent), 'node:get', () => notFound('node', nodeIdent))
      : undefined;
    const events = await listEvents(
      pool,
      { node_uuid: node?.uuid, kind, user_name: user, project, since, until, visible_to: visibleTo(req) },
      { limit, marker },
    );
    res.json(pageView(req, 'events', events, events.map(eventView), limit));
  });
  return router;
}
