// The allocation API in Ironic's shape: "give me one node of this class with these traits".
// The pick is one statement (src/db/allocations.ts), so concurrent allocations never share a
// node; the answer comes back settled (active or error) rather than `allocating`.
import { randomUUID } from 'node:crypto';
import { Router, type Request } from 'express';
import { z } from 'zod';
import {
  ALLOCATION_STATES,
  allocate,
  attachNode,
  deleteAllocation,
  findAllocation,
  findAllocationOfNode,
  insertAllocation,
  listAllocations,
  updateAllocation,
  type AllocationRecord,
} from '../db/allocations.js';
import { recordEvent } from '../db/events.js';
import { findNode } from '../db/nodes.js';
import { inTransaction, type Pool } from '../db/pool.js';
import { isAllowed, type Action } from '../domain/policy.js';
import type { ProvisionState } from '../domain/provision.js';
import { accessNode, authorize, callerOf, visibleTo } from './auth.js';
import { requestContext } from './context.js';
import { badRequest, conflict, notFound, parse } from './errors.js';
import { applyPatchBody } from './patch.js';
import { nodeName, pageQuery, trait, uuid } from './schemas.js';
import { pageView } from './views.js';

const jsonObject = z.record(z.string(), z.unknown());
const resourceClass = z.string().min(1).max(80);

export const createAllocation = z.strictObject({
  uuid: uuid.optional(),
  name: nodeName.nullable().default(null),
  resource_class: resourceClass.optional(),
  traits: z.array(trait).max(50).default([]),
  candidate_nodes: z.array(z.string().min(1).max(255)).max(1000).default([]),
  owner: z.string().min(1).max(255).nullable().optional(),
  extra: jsonObject.default({}),
  /** Backfill: the node (UUID or name) that already runs this allocation's instance. */
  node: z.string().min(1).max(255).optional(),
});

/** What PATCH may change, checked again after the patch is applied. */
export const allocationPatchable = z.strictObject({ name: nodeName.nullable(), extra: jsonObject });
const PATCHABLE = Object.keys(allocationPatchable.shape);

export const allocationListQuery = pageQuery.extend({
  state: z.enum(ALLOCATION_STATES).optional(),
  resource_class: z.string().optional(),
  node: z.string().optional(),
  owner: z.string().optional(),
});

/** A node deployed or being deployed keeps its allocation, unless in maintenance (as in Ironic). */
const IN_USE: ReadonlySet<ProvisionState> = new Set<ProvisionState>(['deploying', 'wait call-back', 'active']);

function allocationView(req: Request, allocation: AllocationRecord) {
  return {
    ...allocation,
    links: [{ rel: 'self', href: `${req.protocol}://${req.get('host')}/v1/allocations/${allocation.uuid}` }],
  };
}

/** Allocations relate to callers through their owner project only. */
const relation = (allocation: Pick<AllocationRecord, 'owner'>) => ({ owner: allocation.owner, lessee: null });

export function allocationsRouter(pool: Pool): Router {
  const router = Router();

  async function loadAllocation(req: Request, action: Action): Promise<AllocationRecord> {
    const ident = String(req.params.allocation);
    const allocation = await findAllocation(pool, ident);
    if (!allocation) throw notFound('allocation', ident);
    accessNode(req, relation(allocation), action, () => notFound('allocation', ident));
    return allocation;
  }

  /** Candidate node names and UUIDs, as UUIDs; one the caller cannot see is reported as unknown. */
  async function candidateUuids(req: Request, idents: string[]): Promise<string[]> {
    return Promise.all(
      idents.map(async (ident, index) => {
        const node = await findNode(pool, ident);
        return accessNode(req, node, 'node:get', () =>
          badRequest(`candidate_nodes.${index}`, `node "${ident}" was not found`),
        ).uuid;
      }),
    );
  }

  router.post('/', async (req, res) => {
    const request = parse(createAllocation, req.body);
    const caller = callerOf(req);
    // As in Ironic: a project allocates for itself; only an admin names another owner (or none).
    const owner = request.owner !== undefined ? request.owner : caller.role === 'admin' ? null : caller.projectId;
    authorize(req, 'allocation:create', { owner, lessee: null });
    if (request.name && (await findAllocation(pool, request.name)))
      throw conflict('duplicate_name', `an allocation named "${request.name}" exists`);
    const fields = {
      uuid: request.uuid ?? randomUUID(),
      name: request.name,
      resource_class: request.resource_class ?? null,
      traits: request.traits,
      candidate_nodes: await candidateUuids(req, request.candidate_nodes),
      owner,
      extra: request.extra,
    };
    if (await findAllocation(pool, fields.uuid))
      throw conflict('duplicate_uuid', `an allocation with uuid ${fields.uuid} exists`);
    const context = requestContext(req);
    const event = (allocation: AllocationRecord, message: string) =>
      recordEvent(
        pool,
        {
          node_uuid: allocation.node_uuid,
          kind: 'allocation',
          verb: request.node ? 'backfill' : 'allocate',
          to_state: allocation.state,
          severity: allocation.state === 'error' ? 'error' : 'info',
          message,
        },
        context,
      );

    if (request.node !== undefined) {
      const created = await backfill(req, request.node, fields);
      await event(created, `allocation ${created.uuid} backfilled for the deployed node`);
      return res.status(201).location(`/v1/allocations/${created.uuid}`).json(allocationView(req, created));
    }
    if (!fields.resource_class)
      throw badRequest('resource_class', 'required: the resource class of the node to allocate');
    const allocation = await allocate(pool, fields, {
      resource_class: fields.resource_class,
      traits: fields.traits,
      candidate_nodes: fields.candidate_nodes,
      project: owner,
      preferredName: fields.name,
    });
    await event(allocation, allocation.last_error ?? `allocation ${allocation.uuid} took the node`);
    res.status(201).location(`/v1/allocations/${allocation.uuid}`).json(allocationView(req, allocation));
  });

  /** An allocation for a node that already runs an instance: it becomes active with that node at once. */
  async function backfill(
    req: Request,
    ident: string,
    fields: Parameters<typeof insertAllocation>[1],
  ): Promise<AllocationRecord> {
    const node = accessNode(req, await findNode(pool, ident), 'node:get', () => notFound('node', ident, 'node'));
    if (fields.candidate_nodes.length)
      throw badRequest('candidate_nodes', 'give either node (backfill) or candidate_nodes');
    if (fields.resource_class && fields.resource_class !== node.resource_class) {
      throw badRequest(
        'resource_class',
        `node ${node.name ?? node.uuid} is of resource class ${node.resource_class ?? '(none)'}`,
      );
    }
    const missing = fields.traits.filter((t) => !node.traits.includes(t));
    if (missing.length)
      throw badRequest('traits', `not traits of node ${node.name ?? node.uuid}: ${missing.join(', ')}`);
    if (fields.owner && node.owner !== fields.owner && node.lessee !== fields.owner) {
      throw badRequest('owner', `node ${node.name ?? node.uuid} is neither owned nor leased by ${fields.owner}`);
    }
    return inTransaction(pool, async (client) => {
      if (!(await attachNode(client, node.uuid, fields.uuid)))
        throw conflict('node_allocated', `node ${node.name ?? node.uuid} already has an allocation`);
      return insertAllocation(client, {
        ...fields,
        resource_class: node.resource_class,
        state: 'active',
        node_uuid: node.uuid,
      });
    });
  }

  router.get('/', async (req, res) => {
    const { limit, marker, node: nodeIdent, ...filters } = parse(allocationListQuery, req.query, 'query');
    const node = nodeIdent
      ? accessNode(req, await findNode(pool, nodeIdent), 'node:get', () => notFound('node', nodeIdent))
      : undefined;
    const allocations = await listAllocations(
      pool,
      { ...filters, node_uuid: node?.uuid, visible_to: visibleTo(req) },
      { limit, marker },
    );
    res.json(
      pageView(
        req,
        'allocations',
        allocations,
        allocations.map((a) => allocationView(req, a)),
        limit,
      ),
    );
  });

  router.get('/:allocation', async (req, res) => {
    res.json(allocationView(req, await loadAllocation(req, 'allocation:get')));
  });

  router.patch('/:allocation', async (req, res) => {
    const allocation = await loadAllocation(req, 'allocation:change');
    const patched = applyPatchBody({ name: allocation.name, extra: allocation.extra }, PATCHABLE, req.body);
    const changes = parse(allocationPatchable, patched);
    if (changes.name && changes.name !== allocation.name && (await findAllocation(pool, changes.name))) {
      throw conflict('duplicate_name', `an allocation named "${changes.name}" exists`);
    }
    res.json(allocationView(req, await updateAllocation(pool, allocation.uuid, changes)));
  });

  router.delete('/:allocation', async (req, res) => {
    const allocation = await loadAllocation(req, 'allocation:change');
    if (allocation.reservation_uuid) {
      throw conflict(
        'reserved',
        `allocation ${allocation.uuid} belongs to reservation ${allocation.reservation_uuid}; cancel the reservation instead`,
      );
    }
    await inTransaction(pool, async (client) => {
      const node = allocation.node_uuid ? await findNode(client, allocation.node_uuid, { forUpdate: true }) : undefined;
      if (node && IN_USE.has(node.provision_state) && !node.maintenance) {
        throw conflict(
          'illegal_state',
          `node ${node.name ?? node.uuid} is ${node.provision_state}: undeploy it (or set maintenance) before deleting its allocation`,
        );
      }
      await deleteAllocation(client, allocation);
      await recordEvent(
        client,
        {
          node_uuid: allocation.node_uuid,
          kind: 'allocation',
          verb: 'delete',
          from_state: allocation.state,
          message: `allocation ${allocation.uuid} deleted${node ? '; the node is free' : ''}`,
        },
        requestContext(req),
      );
    });
    res.status(204).end();
  });

  return router;
}

/** GET /v1/nodes/{node}/allocation, mounted beside the nodes router. */
export function nodeAllocationRouter(pool: Pool): Router {
  const router = Router();
  router.get('/:node/allocation', async (req, res) => {
    const ident = String(req.params.node);
    const node = accessNode(req, await findNode(pool, ident), 'node:get', () => notFound('node', ident));
    const allocation = await findAllocationOfNode(pool, node.uuid);
    if (!allocation || !isAllowed(callerOf(req), 'allocation:get', relation(allocation)))
      throw notFound('allocation of node', ident);
    res.json(allocationView(req, allocation));
  });
  return router;
}
