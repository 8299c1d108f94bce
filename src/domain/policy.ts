// Who may do what, in one table: Ironic's owner and lessee model for a standalone service (no
// Keystone): an admin may do everything, a node's owner project manages it, its lessee powers
// and deploys it. Pure: the API asks, and renders the answer as a status code.

export const ROLES = ['admin', 'member', 'reader'] as const;
export type Role = (typeof ROLES)[number];

/** Who is calling. An admin token's project is not used for access. */
export interface Caller {
  userId: string;
  projectId: string;
  role: Role;
}

/** How the caller relates to a node. */
export type Relation = 'owner' | 'lessee' | 'stranger';

export type Action =
  | 'node:create'
  | 'node:delete'
  | 'node:get'
  | 'node:update'
  | 'node:set_owner'
  | 'node:set_lessee'
  | 'node:power'
  | 'node:provision'
  | 'node:deploy'
  | 'node:maintenance'
  | 'port:create'
  | 'port:delete'
  | 'node:inventory'
  | 'deploy_template:manage'
  | 'inspection_rule:manage'
  | 'token:manage'
  | 'allocation:create'
  | 'allocation:get'
  | 'allocation:change'
  | 'reservation:create'
  | 'reservation:get'
  | 'reservation:update'
  | 'reservation:cancel'
  | 'warm_pool:get'
  | 'warm_pool:manage';

interface Rule {
  /** Relations (besides admin, who may do everything) that may act. */
  who: readonly Relation[];
  /** Whether readers may, or only members. */
  readOnly: boolean;
}

const rule = (who: readonly Relation[], readOnly = false): Rule => ({ who, readOnly });
const ADMIN_ONLY = rule([]);

export const POLICY: Readonly<Record<Action, Rule>> = {
  'node:create': ADMIN_ONLY,
  'node:delete': ADMIN_ONLY,
  'node:get': rule(['owner', 'lessee'], true),
  'node:update': rule(['owner']),
  // The owner is who the hardware belongs to: only an admin gives it away.
  'node:set_owner': ADMIN_ONLY,
  'node:set_lessee': rule(['owner']),
  // A lessee runs the machine it leases: power and (un)deploy, as in Ironic.
  'node:power': rule(['owner', 'lessee']),
  // Every other provision verb (manage, provide, clean, inspect…) changes the node itself.
  'node:provision': rule(['owner']),
  'node:deploy': rule(['owner', 'lessee']),
  'node:maintenance': rule(['owner']),
  'port:create': rule(['owner']),
  'port:delete': rule(['owner']),
  // What the hardware is: its owner's business (serials, MACs), not a lessee's.
  'node:inventory': rule(['owner'], true),
  // Templates apply to every node carrying their trait: fleet-wide, so an admin's.
  'deploy_template:manage': ADMIN_ONLY,
  // Rules change every inspected node, and read every inventory: fleet-wide, an admin's.
  'inspection_rule:manage': ADMIN_ONLY,
  'token:manage': ADMIN_ONLY,
  // Allocations and reservations relate to a caller like nodes do: { owner, lessee } of the record.
  // An allocation belongs to its owner project (whose nodes, owned or leased, it may take).
  'allocation:create': rule(['owner']),
  'allocation:get': rule(['owner'], true),
  'allocation:change': rule(['owner']),
  // A reservation is the owner's hardware promised to the lessee: the owner makes and resizes it,
  // either may end it early.
  'reservation:create': rule(['owner']),
  'reservation:get': rule(['owner', 'lessee'], true),
  'reservation:update': rule(['owner']),
  'reservation:cancel': rule(['owner', 'lessee']),
  // A warm pool keeps its owner's nodes booted (an admin's, without owner, any node): the owner's to run.
  'warm_pool:get': rule(['owner'], true),
  'warm_pool:manage': rule(['owner']),
};

/**
 * The states of an operation a lessee may start (deploy, rebuild, undeploy's teardown): the only
 * ones a lessee may abort. Cleaning, inspection and verification are the owner's, even the
 * cleaning after a lessee's undeploy: stopping it would hand the next tenant an unerased disk.
 */
const TENANT_OPERATION_STATES: ReadonlySet<string> = new Set([
  'deploying',
  'wait call-back',
  'deleting',
  'rescuing',
  'rescue wait',
  'unrescuing',
]);

/** What a caller must be allowed to do to abort the operation running in `provisionState`: the operation's own kind of caller. */
export function abortAction(provisionState: string): Action {
  return TENANT_OPERATION_STATES.has(provisionState) ? 'node:deploy' : 'node:provision';
}

export function relationTo(caller: Caller, node: { owner: string | null; lessee: string | null }): Relation {
  if (node.owner !== null && node.owner === caller.projectId) return 'owner';
  if (node.lessee !== null && node.lessee === caller.projectId) return 'lessee';
  return 'stranger';
}

/** Whether `caller` may see `node` at all; a node it may not see does not exist for it (404). */
export function canSee(caller: Caller, node: { owner: string | null; lessee: string | null }): boolean {
  return isAllowed(caller, 'node:get', node);
}

/**
 * Whether `caller` may see a record (event, deployment) that `recordProject` made on `node`: an
 * admin and the node's owner see all of them, a lessee only its own project's.
 */
export function canSeeRecord(
  caller: Caller,
  node: { owner: string | null; lessee: string | null },
  recordProject: string | null,
): boolean {
  if (caller.role === 'admin') return true;
  const relation = relationTo(caller, node);
  return relation === 'owner' || (relation === 'lessee' && recordProject === caller.projectId);
}

export function isAllowed(
  caller: Caller,
  action: Action,
  node?: { owner: string | null; lessee: string | null },
): boolean {
  if (caller.role === 'admin') return true;
  const { who, readOnly } = POLICY[action];
  if (caller.role === 'reader' && !readOnly) return false;
  return node !== undefined && who.includes(relationTo(caller, node));
}
