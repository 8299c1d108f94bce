import { randomUUID } from 'node:crypto';
import { Router, type Request } from 'express';
import { listEvents, recordEvent } from '../db/events.js';
import {
  addTrait,
  deleteNode,
  findNode,
  removeTrait,
  insertNode,
  listNodes,
  updateNode,
  WRITABLE_NODE_FIELDS,
  type NodeRecord,
} from '../db/nodes.js';
import { inTransaction, type Pool } from '../db/pool.js';
import type { BmcAccess } from '../domain/bmc-access.js';
import { PREBOOTED_TRAIT } from '../domain/agent.js';
import { checkDriverInfo, DRIVERS, driverInfoAccessProblem, secretToGiveAgain } from '../domain/drivers.js';
import { abortAction, type Action } from '../domain/policy.js';
import { redactUrls } from '../domain/secrets.js';
import { DELETABLE_STATES, normalizeVerb, VERBS, type Verb } from '../domain/provision.js';
import { accessNode, authorize, visibleTo } from './auth.js';
import { logNode, requestContext } from './context.js';
import { NodeListRenderer } from './node-list.js';
import { badRequest, conflict, notFound, parse } from './errors.js';
import type { Operations } from './operations.js';
import { applyPatchKeepingSecrets } from './patch.js';
import { DEPLOY_VERBS, requestProvision } from './provisioning.js';
import {
  bootDeviceRequest,
  createNode,
  historyQuery,
  maintenanceRequest,
  nodeFields,
  nodeListQuery,
  nodeShowQuery,
  powerRequest,
  provisionRequest,
  trait,
  traitsRequest,
  type NodeFields,
} from './schemas.js';
import { validateNode } from './node-validation.js';
import { eventView, nodeView, pageView, pickFields } from './views.js';

function checkDriver(
  fields: Pick<NodeFields, 'driver' | 'driver_info' | 'inspect_interface'>,
  access: BmcAccess,
): void {
  const problem =
    checkDriverInfo(fields.driver, fields.driver_info) ??
    driverInfoAccessProblem(fields.driver, fields.driver_info, access);
  if (problem) throw badRequest(problem.field, problem.message);
  if (fields.inspect_interface === 'redfish' && !DRIVERS[fields.driver]?.capabilities.includes('inventory'))
    throw badRequest(
      'inspect_interface',
      `driver "${fields.driver}" reads no inventory out of band; use auto or agent`,
    );
}

/** Verbs a lessee may use: they run (or rescue) the tenant's workload on the machine. (Abort depends on what it stops.) */
const TENANT_VERBS: ReadonlySet<Verb> = new Set<Verb>(['deploy', 'rebuild', 'undeploy', 'rescue', 'unrescue']);

/** A node deleted between the request's first read and its write. */
function notFoundNode(uuid: string): never {
  throw notFound('node', uuid);
}

/** CUSTOM_PREBOOTED is the system's (the agent's session sets and ends it): callers neither add nor remove it. */
const userTrait = trait.refine((name) => name !== PREBOOTED_TRAIT, `${PREBOOTED_TRAIT} is set by the system`);

/** A caller's whole list of traits, with the system's marker kept as the node has it. */
function withSystemTraits(node: NodeRecord, traits: string[]): string[] {
  const mine = traits.filter((t) => t !== PREBOOTED_TRAIT);
  return [...new Set(node.traits.includes(PREBOOTED_TRAIT) ? [...mine, PREBOOTED_TRAIT] : mine)];
}

export function nodesRouter(pool: Pool, operations: Operations, bmcAccess: BmcAccess): Router {
  const renderer = new NodeListRenderer();
  const router = Router();

  /** The node, when the caller may see it (else 404, so nothing leaks) and may do `action` (else 403). */
  async function loadNode(req: Request, action: Action): Promise<NodeRecord> {
    const ident = String(req.params.node);
    const node = accessNode(req, await findNode(pool, ident), action, () => notFound('node', ident));
    logNode(req, node.uuid);
    return node;
  }

  router.post('/', async (req, res) => {
    authorize(req, 'node:create');
    const fields = parse(createNode, req.body);
    checkDriver(fields, bmcAccess);
    const uuid = fields.uuid ?? randomUUID();
    if (fields.name && (await findNode(pool, fields.name)))
      throw conflict('duplicate_name', `a node named "${fields.name}" exists`);
    if (await findNode(pool, uuid)) throw conflict('duplicate_uuid', `a node with uuid ${uuid} exists`);
    const node = await insertNode(pool, { ...fields, uuid });
    res.status(201).location(`/v1/nodes/${node.uuid}`).json(nodeView(req, node));
  });

  // Lists are always detailed, so Ironic's /v1/nodes/detail is the same list.
  router.get(['/', '/detail'], async (req, res) => {
    const {
      limit,
      marker,
      fields,
      sort_key,
      sort_dir,
      detail: _detail,
      ...filters
    } = parse(nodeListQuery, req.query, 'query');
    const sort = sort_key && { column: sort_key, direction: sort_dir };
    const nodeFilters = { ...filters, visible_to: visibleTo(req) };
    if (!fields) {
      const { json, etag } = await renderer.page(pool, req, nodeFilters, { limit, marker, sort });
      res.type('json').set('ETag', etag).send(json);
      return;
    }
    const nodes = await listNodes(pool, nodeFilters, { limit, marker, sort });
    res.json(
      pageView(
        req,
        'nodes',
        nodes,
        nodes.map((n) => pickFields(nodeView(req, n), fields)),
        limit,
      ),
    );
  });

  router.get('/:node', async (req, res) => {
    const { fields } = parse(nodeShowQuery, req.query, 'query');
    res.json(pickFields(nodeView(req, await loadNode(req, 'node:get')), fields));
  });

  router.get('/:node/validate', async (req, res) => {
    res.json(validateNode(await loadNode(req, 'node:get')));
  });

  router.patch('/:node', async (req, res) => {
    const loaded = await loadNode(req, 'node:update');
    await operations.assertUnlocked(loaded);
    const { uuid } = loaded;
    // Read, patch and write under the row's lock (and no call to Temporal meanwhile): two PATCHes at
    // once apply one after the other, neither losing the other's change.
    const updated = await inTransaction(pool, async (client) => {
      const node = (await findNode(client, uuid, { forUpdate: true })) ?? notFoundNode(uuid);
      const editable = Object.fromEntries(WRITABLE_NODE_FIELDS.map((f) => [f, node[f]]));
      const patched = applyPatchKeepingSecrets(editable, WRITABLE_NODE_FIELDS, req.body);
      const fields = parse(nodeFields, patched.document);
      if (fields.owner !== node.owner) authorize(req, 'node:set_owner', node);
      if (fields.lessee !== node.lessee) authorize(req, 'node:set_lessee', node);
      checkDriver(fields, bmcAccess);
      const resupply = secretToGiveAgain(fields.driver, node.driver_info, fields.driver_info, patched.keptSecrets);
      if (resupply) throw badRequest(resupply.field, resupply.message);
      if (fields.name && fields.name !== node.name && (await findNode(client, fields.name))) {
        throw conflict('duplicate_name', `a node named "${fields.name}" exists`);
      }
      if (fields.retired && !node.retired && node.provision_state === 'available') {
        throw conflict('illegal_state', 'an available node cannot be retired; manage it first');
      }
      return updateNode(client, node.uuid, { ...fields, traits: withSystemTraits(node, fields.traits) });
    });
    res.json(nodeView(req, updated));
  });

  router.delete('/:node', async (req, res) => {
    const node = await loadNode(req, 'node:delete');
    if (!DELETABLE_STATES.has(node.provision_state)) {
      throw conflict(
        'illegal_state',
        `cannot delete a node in state "${node.provision_state}"; allowed in: ${[...DELETABLE_STATES].join(', ')}`,
      );
    }
    await operations.assertUnlocked(node);
    await deleteNode(pool, node.uuid);
    res.status(204).end();
  });

  // `steps`: the running clean or deploy's plan, each step with its status (null when none runs),
  // from which a client shows "step N of M".
  router.get('/:node/states', async (req, res) => {
    const node = await loadNode(req, 'node:get');
    const {
      power_state,
      target_power_state,
      provision_state,
      target_provision_state,
      last_error,
      maintenance,
      provision_updated_at,
    } = node;
    const steps = (await operations.queryPlan(node.uuid)) ?? null;
    res.json({
      power_state,
      target_power_state,
      provision_state,
      target_provision_state,
      last_error: last_error === null ? null : redactUrls(last_error),
      maintenance,
      provision_updated_at,
      steps,
    });
  });

  router.put('/:node/states/power', async (req, res) => {
    const { target } = parse(powerRequest, req.body);
    const node = await loadNode(req, 'node:power');
    await operations.startPower(node, { nodeUuid: node.uuid, target, context: requestContext(req) });
    res.status(202).location(`/v1/nodes/${node.uuid}/states`).end();
  });

  router.put('/:node/states/provision', async (req, res) => {
    const { target, clean_steps, service_steps, disable_ramdisk, configdrive, rescue_password } = parse(
      provisionRequest,
      req.body,
    );
    const verb = normalizeVerb(target);
    if (!verb)
      throw badRequest('target', `unknown provision target "${target}"; known: ${VERBS.join(', ')}, active, deleted`);
    if (configdrive && !DEPLOY_VERBS.has(verb))
      throw badRequest('configdrive', 'a configdrive goes only with deploy or rebuild');
    const node = await loadNode(req, 'node:get');
    authorize(
      req,
      verb === 'abort' ? abortAction(node.provision_state) : TENANT_VERBS.has(verb) ? 'node:deploy' : 'node:provision',
      node,
    );
    await requestProvision(req, pool, operations, node, verb, {
      cleanSteps: clean_steps,
      serviceSteps: service_steps,
      rescuePassword: rescue_password,
      disableRamdisk: disable_ramdisk,
      instanceInfo: configdrive && { ...node.instance_info, configdrive },
    });
    res.status(202).location(`/v1/nodes/${node.uuid}/states`).end();
  });

  router.get('/:node/management/boot_device', async (req, res) => {
    const node = await loadNode(req, 'node:get');
    res.json(await operations.bootDevice(node, { nodeUuid: node.uuid, context: requestContext(req) }));
  });

  router.put('/:node/management/boot_device', async (req, res) => {
    const { boot_device, persistent } = parse(bootDeviceRequest, req.body);
    const node = await loadNode(req, 'node:power');
    if (!DRIVERS[node.driver]?.bootDevices.includes(boot_device)) {
      throw badRequest(
        'boot_device',
        `driver "${node.driver}" cannot boot from "${boot_device}"; it can: ${DRIVERS[node.driver]?.bootDevices.join(', ')}`,
      );
    }
    await operations.bootDevice(node, {
      nodeUuid: node.uuid,
      device: boot_device,
      persistent,
      context: requestContext(req),
    });
    res.status(204).end();
  });

  router.get('/:node/management/boot_device/supported', async (req, res) => {
    const node = await loadNode(req, 'node:get');
    res.json({ supported_boot_devices: DRIVERS[node.driver]?.bootDevices ?? [] });
  });

  router.put('/:node/maintenance', async (req, res) => {
    const { reason } = parse(maintenanceRequest, req.body ?? {});
    await setMaintenance(req, true, reason ?? null);
    res.status(202).end();
  });

  router.delete('/:node/maintenance', async (req, res) => {
    await setMaintenance(req, false, null);
    res.status(202).end();
  });

  async function setMaintenance(req: Request, on: boolean, reason: string | null): Promise<void> {
    const { uuid } = await loadNode(req, 'node:maintenance');
    const context = requestContext(req);
    await inTransaction(pool, async (client) => {
      const node = (await findNode(client, uuid, { forUpdate: true }))!;
      await updateNode(client, node.uuid, {
        maintenance: on,
        maintenance_reason: reason,
        ...(on ? {} : { fault: null }),
      });
      await recordEvent(
        client,
        {
          node_uuid: node.uuid,
          kind: 'maintenance',
          verb: on ? 'set' : 'unset',
          from_state: String(node.maintenance),
          to_state: String(on),
          message: reason,
        },
        context,
      );
    });
  }

  router.get('/:node/traits', async (req, res) => {
    res.json({ traits: (await loadNode(req, 'node:get')).traits });
  });

  router.put('/:node/traits', async (req, res) => {
    const { traits } = parse(traitsRequest, req.body);
    const node = await loadNode(req, 'node:update');
    await updateNode(pool, node.uuid, { traits: withSystemTraits(node, traits) });
    res.status(204).end();
  });

  router.put('/:node/traits/:trait', async (req, res) => {
    const name = parse(userTrait, req.params.trait, 'trait');
    const node = await loadNode(req, 'node:update');
    await addTrait(pool, node.uuid, name);
    res.status(204).end();
  });

  router.delete('/:node/traits', async (req, res) => {
    const node = await loadNode(req, 'node:update');
    await updateNode(pool, node.uuid, { traits: withSystemTraits(node, []) });
    res.status(204).end();
  });

  router.delete('/:node/traits/:trait', async (req, res) => {
    const name = parse(userTrait, req.params.trait, 'trait');
    const node = await loadNode(req, 'node:update');
    if (!(await removeTrait(pool, node.uuid, name))) throw notFound('trait', name);
    res.status(204).end();
  });

  router.get('/:node/history', async (req, res) => {
    const { limit, marker, kind } = parse(historyQuery, req.query, 'query');
    const node = await loadNode(req, 'node:get');
    const events = await listEvents(
      pool,
      { node_uuid: node.uuid, kind, visible_to: visibleTo(req) },
      { limit, marker },
    );
    res.json(pageView(req, 'history', events, events.map(eventView), limit));
  });

  return router;
}
