// A deployment's status is not stored: it is read from its node and from the node's deploy,
// rebuild and undeploy transitions since the deployment began, so it cannot drift from what the
// machine really does, and a node taken over by someone else's deploy is not shown as ours.
// Pure: the API gathers the facts, this decides.
import type { ProvisionState } from './provision.js';

export type DeploymentStatus =
  'deploying' | 'active' | 'quarantined' | 'failed' | 'deleting' | 'deleted' | 'superseded';

/** The provision verbs that begin or end what runs on a node. */
export const DEPLOYMENT_VERBS = ['deploy', 'rebuild', 'undeploy'] as const;

export interface DeploymentTransition {
  verb: string;
  request_id: string | null;
}

export interface DeploymentFacts {
  /** The request that made the deployment; its deploy transition carries the same id. */
  requestId: string;
  /** Whether DELETE /v1/deployments/{id} started its undeploy. */
  deleteRequested: boolean;
  /** Its node now; undefined once the node record is deleted. */
  node: { provision_state: ProvisionState; last_error: string | null } | undefined;
  /** The node's DEPLOYMENT_VERBS transitions since the deployment began, oldest first; three are enough. */
  transitions: DeploymentTransition[];
}

export interface DeploymentState {
  status: DeploymentStatus;
  /** Why it failed, when it did. */
  last_error: string | null;
}

/** Statuses from which nothing more happens to the deployment. */
export const ENDED_STATUSES: ReadonlySet<DeploymentStatus> = new Set<DeploymentStatus>([
  'deleting',
  'deleted',
  'superseded',
]);

const TEARING_DOWN: ReadonlySet<ProvisionState> = new Set<ProvisionState>(['deleting', 'cleaning', 'clean wait']);

export function deploymentState({ requestId, deleteRequested, node, transitions }: DeploymentFacts): DeploymentState {
  const [deploy, next, later] = transitions;
  const state = (status: DeploymentStatus, last_error: string | null = null): DeploymentState => ({
    status,
    last_error,
  });
  // A node is deleted only when nothing is deployed on it.
  if (!node) return state('deleted');
  // Not yet moved by the deploy that was started (its workflow holds the node's lock meanwhile).
  if (!deploy) return state('deploying');
  if (deploy.verb !== 'deploy' || deploy.request_id !== requestId) return state('superseded');
  if (next) {
    // Anyone's undeploy ends the deployment; anything else replaced it.
    if (next.verb !== 'undeploy') return state('superseded');
    if (later) return state('deleted');
    if (TEARING_DOWN.has(node.provision_state)) return state('deleting');
    // A tear-down that failed before the machine was stopped ("error") leaves the instance running.
    return node.provision_state === 'error' ? state('failed', node.last_error) : state('deleted');
  }
  if (deleteRequested) return state('deleting');
  switch (node.provision_state) {
    case 'deploying':
    case 'wait call-back':
      return state('deploying');
    case 'active':
      return state('active');
    case 'quarantined':
      return state('quarantined');
    case 'deploy failed':
      return state('failed', node.last_error);
    default:
      // Every other state is reached from "deploy failed" by an owner's verb (manage, then on).
      return state('failed');
  }
}
