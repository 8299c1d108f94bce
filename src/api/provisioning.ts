// Asking for a provision verb, shared by PUT /v1/nodes/{id}/states/provision and the deployment
// API: the state machine is asked first (409), then the operation starts under the node's lock.
import type { Request } from 'express';
import { updateNode, type NodeRecord } from '../db/nodes.js';
import { inTransaction, type Pool, type PoolClient } from '../db/pool.js';
import { bootsRamdisk } from '../domain/drivers.js';
import { IllegalTransition, nextState, type Verb } from '../domain/provision.js';
import { findSecretPath } from '../domain/secrets.js';
import type { RequestedStep } from '../domain/steps.js';
import { requestContext } from './context.js';
import { badRequest, conflict, parse } from './errors.js';
import type { Operations } from './operations.js';
import { deployImageInfo } from './schemas.js';

export interface ProvisionOptions {
  cleanSteps?: RequestedStep[];
  disableRamdisk?: boolean;
  /** For deploy and rebuild: the node's instance_info for this deploy (image, config drive…), replacing what it has. */
  instanceInfo?: Record<string, unknown>;
  /** The caller's own record of the operation (a deployment), kept only if the operation starts. */
  recordStart?: (db: PoolClient) => Promise<void>;
}

/** The verbs that write an image: the ones instance_info goes with. */
export const DEPLOY_VERBS: ReadonlySet<Verb> = new Set<Verb>(['deploy', 'rebuild']);

export async function requestProvision(
  req: Request,
  pool: Pool,
  operations: Operations,
  node: NodeRecord,
  verb: Verb,
  options: ProvisionOptions = {},
): Promise<void> {
  let next: ReturnType<typeof nextState>;
  try {
    next = nextState(node, verb);
  } catch (err) {
    if (err instanceof IllegalTransition) throw conflict('illegal_state', err.message);
    throw err;
  }
  if (verb === 'clean' && !options.cleanSteps?.length)
    throw badRequest('clean_steps', 'manual cleaning needs clean_steps');
  if (verb !== 'clean' && options.cleanSteps)
    throw badRequest('clean_steps', 'clean_steps go only with target "clean"');
  options.cleanSteps?.forEach((step, index) => {
    // Step arguments travel in the workflow's history, which the Temporal UI shows: no credentials
    // there, however deep (a BIOS AdminPassword among the settings).
    const secret = findSecretPath(step.args);
    if (secret)
      throw badRequest(['clean_steps', index, 'args', ...secret].join('.'), 'credentials may not be step arguments');
  });
  if (verb === 'boot' && !bootsRamdisk(node.deploy_interface))
    throw badRequest('target', `a node with deploy_interface "${node.deploy_interface}" boots no agent to keep up`);
  if (DEPLOY_VERBS.has(verb)) {
    // Refused here rather than on the machine: set the image on the node (PATCH) before deploying.
    parse(deployImageInfo, options.instanceInfo ?? node.instance_info, 'instance_info');
  }

  if (verb === 'adopt' && !isNonEmptyString(node.instance_info.image_source)) {
    // As Ironic: an adopted node says what it runs, so a later rebuild knows its image.
    throw badRequest('instance_info.image_source', 'adopt needs the image the machine runs; PATCH it first');
  }

  if (verb === 'abort') {
    // Abort is no new operation: it is a message to the one holding the node.
    if (!(await operations.signalAbort(node.uuid, requestContext(req))))
      throw conflict('illegal_state', 'no operation is running to abort');
    return;
  }
  // instance_info is the caller's own input to the deploy, not state: it is written before the
  // start, in a transaction committed only once the start won the node's lock. So a refused
  // request changes nothing, and the row lock the write takes keeps the new operation's
  // activities (which lock the node row first) from reading the node before the commit.
  //
  // The target is shown from the moment the request is accepted, not from the operation's first
  // step: Ironic's clients poll right after the 202 and take a stable state without a target as
  // the operation having ended.
  await inTransaction(pool, async (client) => {
    const target_provision_state = next.target_provision_state ?? next.provision_state;
    await updateNode(client, node.uuid, {
      target_provision_state,
      ...(options.instanceInfo && { instance_info: options.instanceInfo }),
    });
    await options.recordStart?.(client);
    await operations.startProvision(node, {
      nodeUuid: node.uuid,
      verb,
      fromState: node.provision_state,
      context: requestContext(req),
      cleanSteps: options.cleanSteps,
      // The fake deploy interface never boots the ramdisk: only out-of-band steps run.
      disableRamdisk: options.disableRamdisk || !bootsRamdisk(node.deploy_interface),
    });
  });
}

function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value.trim() !== '';
}
