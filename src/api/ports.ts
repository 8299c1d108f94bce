import { randomUUID } from 'node:crypto';
import { Router, type Request } from 'express';
import { findNode } from '../db/nodes.js';
import type { Pool } from '../db/pool.js';
import { deletePort, findPort, findPortByAddress, insertPort, listPorts, type PortRecord } from '../db/ports.js';
import { canSee, type Action } from '../domain/policy.js';
import { accessNode, callerOf, visibleTo } from './auth.js';
import { ApiError, badRequest, notFound, parse } from './errors.js';
import { createPort, portListQuery, uuid } from './schemas.js';
import { pageView, portView } from './views.js';

/**
 * A MAC is one NIC's, so a second enrollment is refused; only a caller who may see the port it is
 * enrolled as learns which one. Others learn nothing of another project's nodes or ports.
 */
async function duplicateAddressError(pool: Pool, req: Request, existing?: PortRecord): Promise<Error> {
  const node = existing && (await findNode(pool, existing.node_uuid));
  if (existing && node && canSee(callerOf(req), node)) {
    return new ApiError(
      409,
      'duplicate_address',
      `this MAC address is already enrolled as port ${existing.uuid} of node ${node.uuid}`,
      'address',
    );
  }
  return new ApiError(409, 'duplicate_address', 'this MAC address is already enrolled', 'address');
}

export function portsRouter(pool: Pool): Router {
  const duplicateAddress = (req: Request, existing?: PortRecord) => duplicateAddressError(pool, req, existing);
  const router = Router();

  /** A visible node (by uuid or name) the caller may do `action` on; `missing` says how to report one it may not see. */
  async function loadNode(req: Request, ident: string, action: Action, missing: () => Error) {
    return accessNode(req, await findNode(pool, ident), action, missing);
  }

  async function loadPort(req: Request, action: Action): Promise<PortRecord> {
    const id = parse(uuid, req.params.port, 'port');
    const port = await findPort(pool, id);
    if (!port) throw notFound('port', id);
    await loadNode(req, port.node_uuid, action, () => notFound('port', id));
    return port;
  }

  router.post('/', async (req, res) => {
    const fields = parse(createPort, req.body);
    await loadNode(req, fields.node_uuid, 'port:create', () =>
      badRequest('node_uuid', `no node with uuid ${fields.node_uuid}`),
    );
    const existing = await findPortByAddress(pool, fields.address);
    if (existing) throw await duplicateAddress(req, existing);
    const port = await insertPort(pool, { ...fields, uuid: randomUUID() }).catch(async (err) => {
      // Two requests raced past the check above: the database kept the other, which may be anyone's.
      if (err?.code === '23505') throw await duplicateAddress(req);
      throw err;
    });
    res.status(201).location(`/v1/ports/${port.uuid}`).json(portView(req, port));
  });

  router.get('/', async (req, res) => {
    const { limit, marker, node: nodeIdent, address } = parse(portListQuery, req.query, 'query');
    const node = nodeIdent ? await loadNode(req, nodeIdent, 'node:get', () => notFound('node', nodeIdent)) : undefined;
    const ports = await listPorts(
      pool,
      { node_uuid: node?.uuid, address, visible_to: visibleTo(req) },
      { limit, marker },
    );
    res.json(
      pageView(
        req,
        'ports',
        ports,
        ports.map((p) => portView(req, p)),
        limit,
      ),
    );
  });

  router.get('/:port', async (req, res) => {
    res.json(portView(req, await loadPort(req, 'node:get')));
  });

  router.delete('/:port', async (req, res) => {
    const port = await loadPort(req, 'port:delete');
    await deletePort(pool, port.uuid);
    res.status(204).end();
  });

  return router;
}
