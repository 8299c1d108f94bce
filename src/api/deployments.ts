// The deployment API: what a tenant (a node's lessee, or its owner) uses to run an image on a
// node and to end it. It asks for the provision verbs deploy and undeploy through
// requestProvision, so the node's lock and state rules are the provision verbs' own.
import { randomUUID } from 'node:crypto';
import { Router, type Request } from 'express';
import { findDeployment, listDeployments, type DeploymentRow } from '../db/deployments.js';
import { findAllocation } from '../db/allocations.js';
import { findNode } from '../db/nodes.js';
import type { Pool } from '../db/pool.js';
import { deploymentState, ENDED_STATUSES, type DeploymentState, type DeploymentStatus } from '../domain/deployments.js';
import { canSeeRecord, isAllowed, type Action } from '../domain/policy.js';
import { accessNode, callerOf, visibleTo } from './auth.js';
import { logNode, requestContext } from './context.js';
import { badRequest, conflict, notFound, parse } from './errors.js';
import type { Operations } from './operations.js';
import { requestProvision } from './provisioning.js';
import { createDeployment, deploymentListQuery, uuid, type ConfigDrive, type CreateDeployment } from './schemas.js';
import { deploymentView, pageView } from './views.js';

/** A deployment whose node record is gone: no project relates to it, so only admins see it. */
const NO_NODE = { owner: null, lessee: null };

/** Statuses in which the node's running operation is this deployment's, so its steps are shown. */
const STEPPING: ReadonlySet<DeploymentStatus> = new Set<DeploymentStatus>(['deploying', 'deleting']);

function stateOf(deployment: DeploymentRow): DeploymentState {
  return deploymentState({
    requestId: deployment.request_id,
    deleteRequested: deployment.deleted_at !== null,
    node: deployment.node ?? undefined,
    transitions: deployment.transitions,
  });
}

/** ssh_keys and user_data as an OpenStack config drive: meta_data.public_keys and user_data. */
function configDriveFor({ configdrive, user_data, ssh_keys }: CreateDeployment): ConfigDrive | undefined {
  if (!configdrive && user_data === undefined && !ssh_keys.length) return undefined;
  const drive: ConfigDrive = { ...configdrive };
  if (user_data !== undefined) drive.user_data = user_data;
  if (ssh_keys.length)
    drive.meta_data = {
      ...drive.meta_data,
      public_keys: Object.fromEntries(ssh_keys.map((key, i) => [`key-${i}`, key])),
    };
  return drive;
}

/**
 * The node's instance_info for this deployment, in Ironic's keys. It replaces what the node has,
 * so no image or config drive of an earlier deploy (maybe another tenant's) reaches this one.
 */
export function instanceInfoFor(request: CreateDeployment): Record<string, unknown> {
  const configdrive = configDriveFor(request);
  return {
    image_source: request.image_source,
    image_os_hash_algo: request.os_hash_algo,
    image_os_hash_value: request.os_hash_value,
    image_disk_format: request.image_disk_format,
    traits: request.traits,
    ...(request.final_boot && { final_boot: request.final_boot }),
    ...(configdrive && { configdrive }),
  };
}

export function deploymentsRouter(pool: Pool, operations: Operations): Router {
  const router = Router();

  /** The deployment, when the caller may see its node (else 404) and may do `action` on it (else 403). */
  async function loadDeployment(req: Request, action: Action): Promise<DeploymentRow> {
    const id = parse(uuid, req.params.deployment, 'deployment');
    const deployment = await findDeployment(pool, id);
    if (!deployment) throw notFound('deployment', id);
    accessNode(req, deployment.node ?? NO_NODE, action, () => notFound('deployment', id));
    // Another tenant's deployment on a machine this project leases now does not exist for it.
    if (!canSeeRecord(callerOf(req), deployment.node ?? NO_NODE, deployment.project)) throw notFound('deployment', id);
    logNode(req, deployment.node_uuid);
    return deployment;
  }

  /** The node of an active allocation the caller may see (Ironic's allocation-then-deploy). */
  async function allocatedNode(req: Request, ident: string): Promise<string> {
    const allocation = await findAllocation(pool, ident);
    if (!allocation || !isAllowed(callerOf(req), 'allocation:get', { owner: allocation.owner, lessee: null })) {
      throw notFound('allocation', ident, 'allocation');
    }
    if (allocation.state !== 'active' || !allocation.node_uuid) {
      throw conflict(
        'allocation_not_active',
        `allocation ${allocation.uuid} is ${allocation.state}: it has no node to deploy`,
      );
    }
    return allocation.node_uuid;
  }

  router.post('/', async (req, res) => {
    const request = parse(createDeployment, req.body);
    if (request.allocation !== undefined && request.node !== undefined)
      throw badRequest('allocation', 'give either node or allocation');
    const ident = request.allocation !== undefined ? await allocatedNode(req, request.allocation) : request.node;
    if (ident === undefined)
      throw badRequest('node', 'required: the UUID or name of the node to deploy (or an allocation)');
    const node = accessNode(req, await findNode(pool, ident), 'node:deploy', () => notFound('node', ident, 'node'));
    logNode(req, node.uuid);
    const foreign = request.traits.filter((trait) => !node.traits.includes(trait));
    if (foreign.length)
      throw badRequest('traits', `not traits of node ${node.name ?? node.uuid}: ${foreign.join(', ')}`);

    const caller = callerOf(req);
    const deployment = {
      uuid: randomUUID(),
      node_uuid: node.uuid,
      created_by: caller.userId,
      project: caller.projectId,
      image_source: request.image_source,
      traits: request.traits,
      request_id: requestContext(req).requestId,
    };
    await requestProvision(req, pool, operations, node, 'deploy', {
      instanceInfo: instanceInfoFor(request),
      deployment,
    });
    const created = (await findDeployment(pool, deployment.uuid))!;
    res
      .status(201)
      .location(`/v1/deployments/${created.uuid}`)
      .json(deploymentView(req, created, stateOf(created)));
  });

  router.get('/', async (req, res) => {
    const { limit, marker, node: nodeIdent } = parse(deploymentListQuery, req.query, 'query');
    const node = nodeIdent
      ? accessNode(req, await findNode(pool, nodeIdent), 'node:get', () => notFound('node', nodeIdent))
      : undefined;
    const deployments = await listDeployments(
      pool,
      { node_uuid: node?.uuid, visible_to: visibleTo(req) },
      { limit, marker },
    );
    res.json(
      pageView(
        req,
        'deployments',
        deployments,
        deployments.map((d) => deploymentView(req, d, stateOf(d))),
        limit,
      ),
    );
  });

  router.get('/:deployment', async (req, res) => {
    const deployment = await loadDeployment(req, 'node:get');
    const state = stateOf(deployment);
    const steps = STEPPING.has(state.status) ? await operations.queryPlan(deployment.node_uuid) : undefined;
    res.json(deploymentView(req, deployment, state, steps ?? null));
  });

  router.delete('/:deployment', async (req, res) => {
    const deployment = await loadDeployment(req, 'node:deploy');
    const { status } = stateOf(deployment);
    const node = await findNode(pool, deployment.node_uuid);
    if (!node || ENDED_STATUSES.has(status))
      throw conflict('deployment_ended', `deployment ${deployment.uuid} is ${status}: nothing to undeploy`);
    await requestProvision(req, pool, operations, node, 'undeploy', {
      endsDeployment: deployment.uuid,
    });
    res.status(202).location(`/v1/deployments/${deployment.uuid}`).end();
  });

  return router;
}
