// Asking for a provision verb, shared by PUT /v1/nodes/{id}/states/provision and the deployment
// API: the state machine is asked first (409), then the operation starts under the node's lock.
import { randomUUID } from 'node:crypto';
import type { Request } from 'express';
import { encrypt } from 'unixcrypt';
import { RESCUE_PASSWORD_HASH_KEY } from '../db/agent.js';
import { insertDeployment, markDeploymentDeleted, type NewDeployment } from '../db/deployments.js';
import { showProvisionTarget, type NodeRecord } from '../db/nodes.js';
import type { Pool } from '../db/pool.js';
import { dropProvisionRequest, saveProvisionRequest } from '../db/provision-requests.js';
import { bootsRamdisk } from '../domain/drivers.js';
import { FAILED_STATES, IllegalTransition, nextState, type ProvisionState, type Verb } from '../domain/provision.js';
import { findSecretPath } from '../domain/secrets.js';
import { reservedStepProblem, type RequestedStep } from '../domain/steps.js';
import { requestContext } from './context.js';
import { badRequest, conflict, parse } from './errors.js';
import type { Operations } from './operations.js';
import { deployImageInfo } from './schemas.js';

export interface ProvisionOptions {
  cleanSteps?: RequestedStep[];
  serviceSteps?: RequestedStep[];
  /** For rescue: the caller's rescue password, hashed at once; only the hash is kept (on the node, never in history). */
  rescuePassword?: string;
  disableRamdisk?: boolean;
  /** For deploy and rebuild: the node's instance_info for this deploy (image, config drive…), replacing what it has. */
  instanceInfo?: Record<string, unknown>;
  /** The caller's record of the deploy (POST /v1/deployments), kept only if the operation starts. */
  deployment?: NewDeployment;
  /** The deployment this undeploy ends (DELETE /v1/deployments/{id}), marked only if the operation starts. */
  endsDeployment?: string;
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
  checkRequestedSteps('clean_steps', 'clean', verb, options.cleanSteps);
  checkRequestedSteps('service_steps', 'service', verb, options.serviceSteps);
  if (verb === 'rescue' && !options.rescuePassword)
    throw badRequest('rescue_password', 'rescue needs a rescue_password');
  if (verb !== 'rescue' && options.rescuePassword !== undefined)
    throw badRequest('rescue_password', 'rescue_password goes only with target "rescue"');
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

  if (verb === 'abort' && !isFailedState(node.provision_state)) {
    // Abort is no new operation: it is a message to the one holding the node. (From a failed
    // service it is a transition of its own: back to active, the instance untouched.)
    if (!(await operations.signalAbort(node.uuid, requestContext(req))))
      throw conflict('illegal_state', 'no operation is running to abort');
    return;
  }
  if (verb === 'unhold') {
    // Unhold, likewise, tells the held clean or service to go on.
    if (!(await operations.signalUnhold(node.uuid, requestContext(req))))
      throw conflict('illegal_state', 'no held operation is running to unhold');
    return;
  }
  // Hashed before anything else sees it: the hash goes on the node, the password nowhere.
  const rescuePasswordHash = options.rescuePassword && encrypt(options.rescuePassword);
  // No lock or transaction is held while Temporal answers (it may be slow or away). What the
  // operation needs (instance_info, the rescue password's hash) and the caller's records (its
  // deployment) are handed over in a request row the operation's first transition applies, with
  // the transition, and only then: a start Temporal refused or never answered drops the row, so it
  // changes nothing.
  const handOver =
    options.instanceInfo || options.deployment || options.endsDeployment || rescuePasswordHash
      ? randomUUID()
      : undefined;
  if (handOver) {
    await saveProvisionRequest(pool, {
      uuid: handOver,
      node_uuid: node.uuid,
      instance_info: options.instanceInfo,
      internal_info: rescuePasswordHash ? { [RESCUE_PASSWORD_HASH_KEY]: rescuePasswordHash } : undefined,
      deployment: options.deployment,
      ends_deployment: options.endsDeployment,
    });
  }
  // The node as the operation starts on it: with this deploy's image, which the Temporal UI shows.
  const starting = options.instanceInfo ? { ...node, instance_info: options.instanceInfo } : node;
  try {
    await operations.startProvision(starting, {
      nodeUuid: node.uuid,
      verb,
      fromState: node.provision_state,
      context: requestContext(req),
      cleanSteps: options.cleanSteps,
      serviceSteps: options.serviceSteps,
      // The fake deploy interface never boots the ramdisk: only out-of-band steps run.
      disableRamdisk: options.disableRamdisk || !bootsRamdisk(node.deploy_interface),
      handOver,
    });
  } catch (err) {
    if (handOver) await dropProvisionRequest(pool, handOver);
    throw err;
  }
  // Shown from the moment the request is accepted, not from the operation's first transition:
  // Ironic's clients poll right after the 202 and take a stable state without a target as the
  // operation having ended, and a deployment's caller reads it at once. Both writes are no-ops when
  // the operation's first transition came first (it writes them too, from the hand-over).
  await showProvisionTarget(pool, node, next.target_provision_state ?? next.provision_state);
  if (options.deployment) await insertDeployment(pool, options.deployment);
  if (options.endsDeployment) await markDeploymentDeleted(pool, options.endsDeployment);
}

function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value.trim() !== '';
}

const isFailedState = (state: ProvisionState) => (FAILED_STATES as readonly ProvisionState[]).includes(state);

/** Steps go only with their verb, which needs them; their arguments carry no credentials and fit a reserved step's. */
function checkRequestedSteps(
  field: 'clean_steps' | 'service_steps',
  stepsVerb: Verb,
  verb: Verb,
  steps: RequestedStep[] | undefined,
): void {
  if (verb === stepsVerb && !steps?.length) throw badRequest(field, `${stepsVerb} needs ${field}`);
  if (verb !== stepsVerb && steps) throw badRequest(field, `${field} go only with target "${stepsVerb}"`);
  steps?.forEach((step, index) => {
    // Step arguments travel in the workflow's history, which the Temporal UI shows: no credentials
    // there, however deep (a BIOS AdminPassword among the settings).
    const secret = findSecretPath(step.args);
    if (secret) throw badRequest([field, index, 'args', ...secret].join('.'), 'credentials may not be step arguments');
    const problem = reservedStepProblem(step);
    if (problem) throw badRequest([field, index, 'args', ...problem.path].join('.'), problem.message);
  });
}
