// The allocations table, and the one statement that picks a node for an allocation. SQL only;
// who may ask and what a request means live in the API and src/domain.
import type { Queryable } from './pool.js';
import { selectPage, type Page } from './paging.js';
import { PREBOOTED_SQL } from './agent.js';

export const ALLOCATION_STATES = ['allocating', 'active', 'error'] as const;
export type AllocationState = (typeof ALLOCATION_STATES)[number];

export interface AllocationRecord {
  uuid: string;
  name: string | null;
  state: AllocationState;
  resource_class: string | null;
  traits: string[];
  candidate_nodes: string[];
  node_uuid: string | null;
  owner: string | null;
  extra: Record<string, unknown>;
  last_error: string | null;
  reservation_uuid: string | null;
  created_at: Date;
  updated_at: Date | null;
}

export type NewAllocation = Pick<
  AllocationRecord,
  'uuid' | 'name' | 'resource_class' | 'traits' | 'candidate_nodes' | 'owner' | 'extra'
> &
  Partial<Pick<AllocationRecord, 'state' | 'node_uuid' | 'reservation_uuid'>>;

const COLUMNS = `uuid, name, state, resource_class, traits, candidate_nodes, node_uuid, owner, extra, last_error, reservation_uuid,
  created_at, updated_at`;

export async function insertAllocation(db: Queryable, allocation: NewAllocation): Promise<AllocationRecord> {
  const { rows } = await db.query<AllocationRecord>(
    `INSERT INTO allocations (uuid, name, state, resource_class, traits, candidate_nodes, node_uuid, owner, extra, reservation_uuid)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING ${COLUMNS}`,
    [
      allocation.uuid,
      allocation.name,
      allocation.state ?? 'allocating',
      allocation.resource_class,
      allocation.traits,
      allocation.candidate_nodes,
      allocation.node_uuid ?? null,
      allocation.owner,
      JSON.stringify(allocation.extra),
      allocation.reservation_uuid ?? null,
    ],
  );
  return rows[0];
}

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** An allocation by UUID or by name, as Ironic's API accepts either. */
export async function findAllocation(db: Queryable, ident: string): Promise<AllocationRecord | undefined> {
  const column = UUID_PATTERN.test(ident) ? 'uuid' : 'name';
  const { rows } = await db.query<AllocationRecord>(`SELECT ${COLUMNS} FROM allocations WHERE ${column} = $1`, [ident]);
  return rows[0];
}

export async function findAllocationOfNode(db: Queryable, nodeUuid: string): Promise<AllocationRecord | undefined> {
  const { rows } = await db.query<AllocationRecord>(`SELECT ${COLUMNS} FROM allocations WHERE node_uuid = $1`, [
    nodeUuid,
  ]);
  return rows[0];
}

export interface AllocationFilters {
  state?: AllocationState;
  resource_class?: string;
  node_uuid?: string;
  owner?: string;
  reservation_uuid?: string;
  /** Only allocations this project owns. */
  visible_to?: string;
}

/** One page of allocations in creation order. */
export function listAllocations(db: Queryable, filters: AllocationFilters, page: Page): Promise<AllocationRecord[]> {
  return selectPage<AllocationRecord>(
    db,
    'allocations',
    COLUMNS,
    [
      ['state = ?', filters.state],
      ['resource_class = ?', filters.resource_class],
      ['node_uuid = ?', filters.node_uuid],
      ['owner = ?', filters.owner],
      ['reservation_uuid = ?', filters.reservation_uuid],
      ['owner = ?', filters.visible_to],
    ],
    page,
  );
}

export async function updateAllocation(
  db: Queryable,
  uuid: string,
  changes: Partial<Pick<AllocationRecord, 'name' | 'extra' | 'state' | 'node_uuid' | 'last_error'>>,
): Promise<AllocationRecord> {
  const entries = Object.entries(changes).filter(([, v]) => v !== undefined);
  const sets = entries.map(([k], i) => `${k} = $${i + 2}`);
  const { rows } = await db.query<AllocationRecord>(
    `UPDATE allocations SET ${[...sets, 'updated_at = now()'].join(', ')} WHERE uuid = $1 RETURNING ${COLUMNS}`,
    [uuid, ...entries.map(([k, v]) => (k === 'extra' ? JSON.stringify(v) : v))],
  );
  return rows[0];
}

/** Deletes the allocation and frees its node: the node's allocation, and its instance when it was this one. */
export async function deleteAllocation(
  db: Queryable,
  allocation: Pick<AllocationRecord, 'uuid' | 'node_uuid'>,
): Promise<void> {
  if (allocation.node_uuid) {
    await db.query(
      `UPDATE nodes SET allocation_uuid = NULL, instance_uuid = CASE WHEN instance_uuid = $2 THEN NULL ELSE instance_uuid END,
       updated_at = now() WHERE uuid = $1 AND allocation_uuid = $2`,
      [allocation.node_uuid, allocation.uuid],
    );
  }
  await db.query('DELETE FROM allocations WHERE uuid = $1', [allocation.uuid]);
}

/** What an allocation asks of a node (Ironic's candidate filter). */
export interface CandidateCriteria {
  resource_class: string | null;
  traits: string[];
  /** Only these nodes, when not empty. */
  candidate_nodes: string[];
  /** Only nodes this project owns or leases (null: any, for an admin's allocation without owner). */
  project: string | null;
  /** Only nodes `project` owns and nobody leases: a reservation gives the lease itself. */
  ownedAndUnleased?: boolean;
  /** A node of this name goes first (Ironic 1.79). */
  preferredName: string | null;
}

const CANDIDATE_WHERE = `provision_state = 'available' AND NOT maintenance AND NOT retired AND power_state IS NOT NULL
  AND allocation_uuid IS NULL AND instance_uuid IS NULL
  AND ($1::text IS NULL OR resource_class = $1)
  AND traits @> $2::text[]
  AND (cardinality($3::uuid[]) = 0 OR uuid = ANY($3::uuid[]))
  AND ($4::text IS NULL OR owner = $4 OR (NOT $5::boolean AND lessee = $4))
  AND (NOT $5::boolean OR lessee IS NULL)`;

function candidateParams(criteria: CandidateCriteria): unknown[] {
  return [
    criteria.resource_class,
    criteria.traits,
    criteria.candidate_nodes,
    criteria.project,
    criteria.ownedAndUnleased === true,
  ];
}

/**
 * Claims one matching node for `allocationUuid` in one statement: pre-booted first, then the
 * preferred name, then enrolment order. Rows other transactions hold are skipped, so concurrent
 * claims never get the same node and never wait on each other. Answers the node's UUID, or
 * `busy` when every match was held by another claim at that moment (worth another try).
 */
export async function claimNode(
  db: Queryable,
  allocationUuid: string,
  criteria: CandidateCriteria,
): Promise<string | 'busy' | undefined> {
  const params = candidateParams(criteria);
  const { rows } = await db.query<{ uuid: string }>(
    `WITH picked AS (
       SELECT uuid FROM nodes WHERE ${CANDIDATE_WHERE}
       ORDER BY ${PREBOOTED_SQL} DESC, (name IS NOT DISTINCT FROM $6) DESC, id
       LIMIT 1 FOR UPDATE SKIP LOCKED)
     UPDATE nodes SET allocation_uuid = $7, instance_uuid = $7, updated_at = now()
     FROM picked WHERE nodes.uuid = picked.uuid RETURNING nodes.uuid`,
    [...params, criteria.preferredName, allocationUuid],
  );
  if (rows[0]) return rows[0].uuid;
  const held = await db.query(`SELECT 1 FROM nodes WHERE ${CANDIDATE_WHERE} LIMIT 1`, params);
  return held.rowCount ? 'busy' : undefined;
}

/** Gives an already deployed node the allocation (Ironic's backfill); false when it has another. */
export async function attachNode(db: Queryable, nodeUuid: string, allocationUuid: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE nodes SET allocation_uuid = $2, instance_uuid = coalesce(instance_uuid, $2), updated_at = now()
     WHERE uuid = $1 AND allocation_uuid IS NULL`,
    [nodeUuid, allocationUuid],
  );
  return rowCount === 1;
}

const CLAIM_TRIES = 5;
const CLAIM_RETRY_MS = 20;

/**
 * Records the allocation and claims its node; the row ends `active` with the node, or `error`
 * with why (Ironic keeps failed allocations too). A claim that found every match held by other
 * claims tries again a few times, as Ironic's allocation does: one of them may roll back.
 */
export async function allocate(
  db: Queryable,
  allocation: NewAllocation,
  criteria: CandidateCriteria,
): Promise<AllocationRecord> {
  const created = await insertAllocation(db, allocation);
  for (let attempt = 1; ; attempt++) {
    const claimed = await claimNode(db, created.uuid, criteria);
    if (claimed && claimed !== 'busy')
      return updateAllocation(db, created.uuid, { state: 'active', node_uuid: claimed });
    if (claimed === undefined || attempt === CLAIM_TRIES) {
      const traits = criteria.traits.length ? ` with traits ${criteria.traits.join(', ')}` : '';
      const why = `no available node of resource class ${criteria.resource_class ?? '(any)'}${traits} matches${claimed === 'busy' ? ' that is not being allocated right now' : ''}`;
      return updateAllocation(db, created.uuid, { state: 'error', last_error: why });
    }
    await new Promise((resolve) => setTimeout(resolve, CLAIM_RETRY_MS * attempt));
  }
}
