import { Router } from 'express';
import { listEvents } from '../db/events.js';
import { findNode } from '../db/nodes.js';
import type { Pool } from '../db/pool.js';
import { notFound, parse } from './errors.js';
import { eventListQuery } from './schemas.js';
import { eventView, pageView } from './views.js';

export function eventsRouter(pool: Pool): Router {
  const router = Router();
  router.get('/', async (req, res) => {
    const { limit, marker, node: nodeIdent, kind, user, since, until } = parse(eventListQuery, req.query, 'query');
    let nodeUuid: string | undefined;
    if (nodeIdent) {
      const node = await findNode(pool, nodeIdent);
      if (!node) throw notFound('node', nodeIdent);
      nodeUuid = node.uuid;
    }
    const events = await listEvents(pool, { node_uuid: nodeUuid, kind, user_name: user, since, until }, { limit, marker });
    res.json(pageView(req, 'events', events, events.map(eventView), limit));
  });
  return router;
}
