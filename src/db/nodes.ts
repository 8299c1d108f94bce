// The nodes table. SQL only; the rules live in src/domain.
import type { ProvisionState } from '../domain/provision.js';
import type { PowerState } from '../domain/power.js';
import type { Queryable } from './pool.js';
import { selectPage, type Condition, type Page } from './paging.js';

export interface NodeRecord {
  uuid: string;
  name: string | null;
  driver: string;
  driver_info: Record<string, unknown>;
  driver_internal_info: Record<string, unknown>;
  properties: Record<string, unknown>;
  instance_info: Record<string, unknown>;
  network_data: Record<string, unknown>;
  extra: Record<string, unknown>;
  resource_class: string | null;
  traits: string[];
  owner: string | null;
  lessee: string | null;
  provision_state: ProvisionState;
  target_provision_state: ProvisionState | null;
  power_state: PowerState | null;
  target_power_state: string | null;
  maintenance: boolean;
  maintenance_reason: string | null;
  fault: string | null;
  retired: boolean;
  retired_reason: string | null;
  last_error: string | null;
  clean_step: Record<string, unknown> | null;
  deploy_step: Record<string, unknown> | null;
  service_step: Record<string, unknown> | null;
  deployed_by: string | null;
  boot_interface: string;
  deploy_interface: string;
  inspect_interface: string;
  created_at: Date;
  updated_at: Date | null;
  provision_updated_at: Date | null;
  /** Set by an allocation (src/db/allocations.ts), never by a PATCH. */
  allocation_uuid: string | null;
  instance_uuid: string | null;
}

/** Columns a caller may set when creating or patching a node. */
export const WRITABLE_NODE_FIELDS = [
  'name',
  'driver',
  'driver_info',
  'properties',
  'instance_info',
  'network_data',
  'extra',
  'resource_class',
  'traits',
  'owner',
  'lessee',
  'retired',
  'retired_reason',
  'boot_interface',
  'deploy_interface',
  'inspect_interface',
] as const;

/** Columns the system itself sets (maintenance through its own endpoint, the rest by operations). */
export const SYSTEM_NODE_FIELDS = [
  'provision_state',
  'target_provision_state',
  'provision_updated_at',
  'power_state',
  'target_power_state',
  'maintenance',
  'maintenance_reason',
  'fault',
  'last_error',
  'driver_internal_info',
  'clean_step',
  'deploy_step',
  'service_step',
  'deployed_by',
] as const;

type NodeColumn = (typeof WRITABLE_NODE_FIELDS)[number] | (typeof SYSTEM_NODE_FIELDS)[number];
export type NodeChanges = Partial<Pick<NodeRecord, NodeColumn>>;

export const COLUMNS = `uuid, name, driver, driver_info, driver_internal_info, properties, instance_info, extra,
  resource_class, traits, owner, lessee, provision_state, target_provision_state, power_state,
  target_power_state, maintenance, maintenance_reason, fault, retired, retired_reason, last_error,
  clean_step, deploy_step, service_step, deployed_by, boot_interface, deploy_interface, inspect_interface,
  network_data, created_at, updated_at, provision_updated_at, allocation_uuid, instance_uuid`;

const JSON_COLUMNS = new Set([
  'driver_info',
  'driver_internal_info',
  'properties',
  'instance_info',
  'network_data',
  'extra',
  'clean_step',
  'deploy_step',
  'service_step',
]);

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID_PATTERN.test(value);
}

function toParam(column: string, value: unknown): unknown {
  return JSON_COLUMNS.has(column) && value !== null && value !== undefined ? JSON.stringify(value) : value;
}

export async function insertNode(db: Queryable, node: { uuid: string } & NodeChanges): Promise<NodeRecord> {
  const entries = Object.entries(node).filter(([, v]) => v !== undefined);
  const columns = entries.map(([k]) => k);
  const { rows } = await db.query<NodeRecord>(
    `INSERT INTO nodes (${columns.join(', ')}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')})
     RETURNING ${COLUMNS}`,
    entries.map(([k, v]) => toParam(k, v)),
  );
  return rows[0];
}

/** A node by UUID or by name, as Ironic's API accepts either. */
export async function findNode(
  db: Queryable,
  ident: string,
  opts: { forUpdate?: boolean } = {},
): Promise<NodeRecord | undefined> {
  const column = isUuid(ident) ? 'uuid' : 'name';
  const { rows } = await db.query<NodeRecord>(
    `SELECT ${COLUMNS} FROM nodes WHERE ${column} = $1${opts.forUpdate ? ' FOR UPDATE' : ''}`,
    [ident],
  );
  return rows[0];
}

export interface NodeFilters {
  provision_state?: string;
  driver?: string;
  maintenance?: boolean;
  resource_class?: string;
  owner?: string;
  /** Only nodes this project owns or leases. */
  visible_to?: string;
}

function nodeConditions(filters: NodeFilters): Condition[] {
  return [
    ['provision_state = ?', filters.provision_state],
    ['driver = ?', filters.driver],
    ['maintenance = ?', filters.maintenance],
    ['resource_class = ?', filters.resource_class],
    ['owner = ?', filters.owner],
    ['(owner = ? OR lessee = ?)', filters.visible_to],
  ];
}

/** One page of nodes in creation order. */
export function listNodes(db: Queryable, filters: NodeFilters, page: Page): Promise<NodeRecord[]> {
  return selectPage<NodeRecord>(db, 'nodes', COLUMNS, nodeConditions(filters), page);
}

/**
 * A node row's version: PostgreSQL's xmin, the transaction that wrote this version of the row. Every
 * UPDATE writes a new version, so a rendering keyed by it is never stale.
 */
export interface NodeVersion {
  uuid: string;
  row_version: string;
}

/** One page of nodes as listNodes orders it, only their UUIDs and row versions. */
export function listNodeVersions(db: Queryable, filters: NodeFilters, page: Page): Promise<NodeVersion[]> {
  return selectPage<NodeVersion>(db, 'nodes', 'uuid, xmin::text AS row_version', nodeConditions(filters), page);
}

/** The nodes of these UUIDs (any order; deleted ones left out), each with its row version. */
export async function findNodeVersions(db: Queryable, uuids: string[]): Promise<(NodeRecord & NodeVersion)[]> {
  const { rows } = await db.query<NodeRecord & NodeVersion>(
    `SELECT ${COLUMNS}, xmin::text AS row_version FROM nodes WHERE uuid = ANY($1::uuid[])`,
    [uuids],
  );
  return rows;
}

/** How many nodes are in each provision state (the states with none are left out). */
export async function countNodesByProvisionState(db: Queryable): Promise<{ provision_state: string; count: number }[]> {
  const { rows } = await db.query<{ provision_state: string; count: string }>(
    'SELECT provision_state, count(*) AS count FROM nodes GROUP BY provision_state ORDER BY provision_state',
  );
  return rows.map((r) => ({ provision_state: r.provision_state, count: Number(r.count) }));
}

export async function updateNode(db: Queryable, uuid: string, changes: NodeChanges): Promise<NodeRecord> {
  const entries = Object.entries(changes).filter(([, v]) => v !== undefined);
  const sets = entries.map(([k], i) => `${k} = $${i + 2}`);
  const { rows } = await db.query<NodeRecord>(
    `UPDATE nodes SET ${[...sets, 'updated_at = now()'].join(', ')} WHERE uuid = $1 RETURNING ${COLUMNS}`,
    [uuid, ...entries.map(([k, v]) => toParam(k, v))],
  );
  if (!rows[0]) throw new Error(`node ${uuid} not found`);
  return rows[0];
}

/**
 * Shows the target of an operation just started, unless the operation moved the node already (its
 * transitions set their own target): the node must still be as `seen`, state and time of change.
 */
export async function showProvisionTarget(
  db: Queryable,
  seen: Pick<NodeRecord, 'uuid' | 'provision_state' | 'provision_updated_at'>,
  target: ProvisionState,
): Promise<void> {
  await db.query(
    `UPDATE nodes SET target_provision_state = $4, updated_at = now()
     WHERE uuid = $1 AND provision_state = $2 AND provision_updated_at IS NOT DISTINCT FROM $3`,
    [seen.uuid, seen.provision_state, seen.provision_updated_at, target],
  );
}

/**
 * Merges `values` into the node's driver_internal_info in one statement, so writers of different
 * keys (an operation, the agent's heartbeat) never clobber each other.
 */
export async function mergeDriverInternalInfo(
  db: Queryable,
  uuid: string,
  values: Record<string, unknown>,
): Promise<void> {
  await db.query(
    'UPDATE nodes SET driver_internal_info = driver_internal_info || $2::jsonb, updated_at = now() WHERE uuid = $1',
    [uuid, JSON.stringify(values)],
  );
}

export async function deleteNode(db: Queryable, uuid: string): Promise<void> {
  await db.query('DELETE FROM nodes WHERE uuid = $1', [uuid]);
}

/** Adds a trait in one statement, so concurrent additions do not lose each other. */
export async function addTrait(db: Queryable, uuid: string, trait: string): Promise<void> {
  await db.query(
    'UPDATE nodes SET traits = array_append(traits, $2), updated_at = now() WHERE uuid = $1 AND NOT $2 = ANY(traits)',
    [uuid, trait],
  );
}

/** Removes a trait in one statement; false when the node did not have it. */
export async function removeTrait(db: Queryable, uuid: string, trait: string): Promise<boolean> {
  const { rowCount } = await db.query(
    'UPDATE nodes SET traits = array_remove(traits, $2), updated_at = now() WHERE uuid = $1 AND $2 = ANY(traits)',
    [uuid, trait],
  );
  return rowCount === 1;
}
