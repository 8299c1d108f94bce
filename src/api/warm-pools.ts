// /v1/warm_pools: keep a count (or a share) of a resource class's available nodes pre-booted, so
// they deploy without a reboot. Each pool is a record plus its long-running workflow
// (warm_pool/<uuid>), started with the record and woken when the record changes. An admin's pool
// without owner keeps any owner's nodes warm; a project's pool only the nodes it owns.
import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { Router, type Request } from 'express';
import { z } from 'zod';
import { findNode } from '../db/nodes.js';
import { inTransaction, type Pool } from '../db/pool.js';
import {
  deleteWarmPool,
  findWarmPool,
  insertWarmPool,
  listWarmPools,
  updateWarmPool,
  warmPoolMembers,
  type WarmPoolRecord,
} from '../db/warm-pools.js';
import type { Action } from '../domain/policy.js';
import { planWarmPool } from '../domain/warm-pools.js';
import { Operation, ResourceClass, warmPoolWorkflowId, type WarmPoolInput } from '../workflows/contract.js';
import { warmPoolChangedSignal } from '../workflows/signals.js';
import { accessNode, authorize, callerOf, visibleTo } from './auth.js';
import { requestContext } from './context.js';
import { conflict, notFound, parse } from './errors.js';
import { applyPatchBody } from './patch.js';
import { nodeName, pageQuery, trait, uuid } from './schemas.js';
import { pageView } from './views.js';

const targets = {
  target_count: z.number().int().min(0).max(100_000).nullable().optional(),
  target_share: z.number().min(0).max(1).nullable().optional(),
  /** How often the pool checks its agents and plans again. */
  check_interval_seconds: z.number().int().min(5).max(86_400).default(60),
};

/** Exactly one of target_count and target_share. */
function oneTarget(pool: { target_count?: number | null; target_share?: number | null }, ctx: z.RefinementCtx): void {
  if ((pool.target_count ?? null) === null && (pool.target_share ?? null) === null)
    ctx.addIssue({ code: 'custom', path: ['target_count'], message: 'give target_count or target_share' });
  else if ((pool.target_count ?? null) !== null && (pool.target_share ?? null) !== null)
    ctx.addIssue({ code: 'custom', path: ['target_share'], message: 'give target_count or target_share, not both' });
}

export const createWarmPool = z
  .strictObject({
    uuid: uuid.optional(),
    name: nodeName.nullable().default(null),
    resource_class: z.string().min(1).max(80),
    traits: z.array(trait).max(50).default([]),
    owner: z.string().min(1).max(255).nullable().optional(),
    ...targets,
  })
  .superRefine(oneTarget);

const patchableWarmPool = z
  .strictObject({
    name: nodeName.nullable(),
    traits: z.array(trait).max(50),
    ...targets,
    check_interval_seconds: targets.check_interval_seconds.unwrap(),
  })
  .superRefine(oneTarget);
const PATCHABLE = ['name', 'traits', 'target_count', 'target_share', 'check_interval_seconds'];

export const warmPoolListQuery = pageQuery.extend({ resource_class: z.string().optional() });

export function warmPoolsRouter(pool: Pool, client: Client, taskQueue: string): Router {
  const router = Router();

  async function loadPool(req: Request, action: Action): Promise<WarmPoolRecord> {
    const ident = String(req.params.pool);
    const found = await findWarmPool(pool, ident);
    // Pools relate to callers through their owner project only.
    accessNode(req, found && { owner: found.owner, lessee: null }, action, () => notFound('warm pool', ident));
    return found!;
  }

  /** The pool as shown: its record, what it aims for now and which of its nodes are warm. */
  async function poolView(req: Request, record: WarmPoolRecord) {
    const plan = planWarmPool(record, await warmPoolMembers(pool, record));
    const self = `${req.protocol}://${req.get('host')}/v1/warm_pools/${record.uuid}`;
    return {
      ...record,
      status: { target: plan.target, warm: plan.warm },
      workflow_id: warmPoolWorkflowId(record.uuid),
      links: [
        { rel: 'self', href: self },
        { rel: 'nodes', href: `${self}/nodes` },
      ],
    };
  }

  const changed = (uuid_: string) =>
    client.workflow
      .getHandle(warmPoolWorkflowId(uuid_))
      .signal(warmPoolChangedSignal)
      .catch((err) => {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
      });

  router.post('/', async (req, res) => {
    const request = parse(createWarmPool, req.body);
    const caller = callerOf(req);
    const owner = request.owner !== undefined ? request.owner : caller.role === 'admin' ? null : caller.projectId;
    // As for allocations: a project's pool is its own; only an admin names another owner (or none).
    authorize(req, 'warm_pool:manage', { owner, lessee: null });
    if (request.name && (await findWarmPool(pool, request.name)))
      throw conflict('duplicate_name', `a warm pool named "${request.name}" exists`);
    const fields = {
      uuid: request.uuid ?? randomUUID(),
      name: request.name,
      resource_class: request.resource_class,
      traits: request.traits,
      target_count: request.target_count ?? null,
      target_share: request.target_share ?? null,
      check_interval_seconds: request.check_interval_seconds,
      owner,
    };
    if (await findWarmPool(pool, fields.uuid))
      throw conflict('duplicate_uuid', `a warm pool with uuid ${fields.uuid} exists`);
    // The record commits only once its workflow started: no pool without the workflow that keeps it.
    const created = await inTransaction(pool, async (db) => {
      const record = await insertWarmPool(db, fields);
      const input: WarmPoolInput = { poolUuid: record.uuid, context: requestContext(req) };
      await client.workflow.start('warmPoolWorkflow', {
        workflowId: warmPoolWorkflowId(record.uuid),
        taskQueue,
        args: [input],
        typedSearchAttributes: [
          { key: Operation, value: 'warm_pool' },
          { key: ResourceClass, value: record.resource_class },
        ],
        memo: { pool_name: record.name },
      });
      return record;
    });
    res
      .status(201)
      .location(`/v1/warm_pools/${created.uuid}`)
      .json(await poolView(req, created));
  });

  router.get('/', async (req, res) => {
    const query = parse(warmPoolListQuery, req.query, 'query');
    const pools = await listWarmPools(pool, { owner: visibleTo(req), resource_class: query.resource_class }, query);
    res.json(pageView(req, 'warm_pools', pools, await Promise.all(pools.map((p) => poolView(req, p))), query.limit));
  });

  router.get('/:pool', async (req, res) => {
    res.json(await poolView(req, await loadPool(req, 'warm_pool:get')));
  });

  /** Which of the pool's nodes are warm: what an allocator asks before it picks. */
  router.get('/:pool/nodes', async (req, res) => {
    const record = await loadPool(req, 'warm_pool:get');
    const members = await warmPoolMembers(pool, record);
    const nodes = await Promise.all(
      members.map(async (m) => ({ ...m, name: (await findNode(pool, m.uuid))?.name ?? null })),
    );
    res.json({ nodes });
  });

  router.patch('/:pool', async (req, res) => {
    const record = await loadPool(req, 'warm_pool:manage');
    const current = Object.fromEntries(PATCHABLE.map((key) => [key, record[key as keyof WarmPoolRecord]]));
    const changes = parse(patchableWarmPool, applyPatchBody(current, PATCHABLE, req.body));
    if (changes.name && changes.name !== record.name && (await findWarmPool(pool, changes.name)))
      throw conflict('duplicate_name', `a warm pool named "${changes.name}" exists`);
    const updated = await updateWarmPool(pool, record.uuid, {
      ...changes,
      target_count: changes.target_count ?? null,
      target_share: changes.target_share ?? null,
    });
    await changed(record.uuid);
    res.json(await poolView(req, updated));
  });

  /** The pool stops; its nodes stay as they are (warm ones keep their agent until used or powered off). */
  router.delete('/:pool', async (req, res) => {
    const record = await loadPool(req, 'warm_pool:manage');
    await deleteWarmPool(pool, record.uuid);
    await changed(record.uuid);
    res.status(204).end();
  });

  return router;
}
