import { randomUUID } from 'node:crypto';
import { Router } from 'express';
import { findNode } from '../db/nodes.js';
import type { Pool } from '../db/pool.js';
import { deletePort, findPort, findPortByAddress, insertPort, listPorts } from '../db/ports.js';
import { badRequest, conflict, notFound, parse } from './errors.js';
import { createPort, portListQuery, uuid } from './schemas.js';
import { pageView, portView } from './views.js';

export function portsRouter(pool: Pool): Router {
  const router = Router();

  router.post('/', async (req, res) => {
    const fields = parse(createPort, req.body);
    if (!(await findNode(pool, fields.node_uuid))) throw badRequest('node_uuid', `no node with uuid ${fields.node_uuid}`);
    if (await findPortByAddress(pool, fields.address)) throw conflict('duplicate_address', `a port with address ${fields.address} exists`);
    const port = await insertPort(pool, { ...fields, uuid: randomUUID() });
    res.status(201).location(`/v1/ports/${port.uuid}`).json(portView(req, port));
  });

  router.get('/', async (req, res) => {
    const { limit, marker, node: nodeIdent, address } = parse(portListQuery, req.query, 'query');
    let nodeUuid: string | undefined;
    if (nodeIdent) {
      const node = await findNode(pool, nodeIdent);
      if (!node) throw notFound('node', nodeIdent);
      nodeUuid = node.uuid;
    }
    const ports = await listPorts(pool, { node_uuid: nodeUuid, address }, { limit, marker });
    res.json(pageView(req, 'ports', ports, ports.map((p) => portView(req, p)), limit));
  });

  router.get('/:port', async (req, res) => {
    const id = parse(uuid, req.params.port, 'port');
    const port = await findPort(pool, id);
    if (!port) throw notFound('port', id);
    res.json(portView(req, port));
  });

  router.delete('/:port', async (req, res) => {
    const id = parse(uuid, req.params.port, 'port');
    if (!(await findPort(pool, id))) throw notFound('port', id);
    await deletePort(pool, id);
    res.status(204).end();
  });

  return router;
}
