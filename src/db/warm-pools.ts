// The warm_pools table and the nodes a pool keeps warm. SQL only; the plan is src/domain/warm-pools.ts.
import type { PoolMember } from '../domain/warm-pools.js';
import { PREBOOTED_SQL } from './agent.js';
import { isUuid } from './nodes.js';
import { selectPage, type Page } from './paging.js';
import type { Queryable } from './pool.js';

export interface WarmPoolRecord {
  uuid: string;
  name: string | null;
  resource_class: string;
  traits: string[];
  target_count: number | null;
  target_share: number | null;
  check_interval_seconds: number;
  owner: string | null;
  created_at: Date;
  updated_at: Date | null;
}

export type WarmPoolFields = Omit<WarmPoolRecord, 'created_at' | 'updated_at'>;
export type WarmPoolChanges = Partial<
  Pick<WarmPoolRecord, 'name' | 'traits' | 'target_count' | 'target_share' | 'check_interval_seconds'>
>;

// numeric comes back from pg as a string: read as a number.
const COLUMNS = `uuid, name, resource_class, traits, target_count, target_share::float8 AS target_share,
  check_interval_seconds, owner, created_at, updated_at`;

export async function insertWarmPool(db: Queryable, pool: WarmPoolFields): Promise<WarmPoolRecord> {
  const { rows } = await db.query<WarmPoolRecord>(
    `INSERT INTO warm_pools (uuid, name, resource_class, traits, target_count, target_share, check_interval_seconds, owner)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${COLUMNS}`,
    [
      pool.uuid,
      pool.name,
      pool.resource_class,
      pool.traits,
      pool.target_count,
      pool.target_share,
      pool.check_interval_seconds,
      pool.owner,
    ],
  );
  return rows[0];
}

/** A pool by UUID or by name. */
export async function findWarmPool(db: Queryable, ident: string): Promise<WarmPoolRecord | undefined> {
  const { rows } = await db.query<WarmPoolRecord>(
    `SELECT ${COLUMNS} FROM warm_pools WHERE ${isUuid(ident) ? 'uuid' : 'name'} = $1`,
    [ident],
  );
  return rows[0];
}

export function listWarmPools(
  db: Queryable,
  filters: { owner?: string; resource_class?: string },
  page: Page,
): Promise<WarmPoolRecord[]> {
  return selectPage<WarmPoolRecord>(
    db,
    'warm_pools',
    COLUMNS,
    [
      ['owner = ?', filters.owner],
      ['resource_class = ?', filters.resource_class],
    ],
    page,
  );
}

export async function updateWarmPool(db: Queryable, uuid: string, changes: WarmPoolChanges): Promise<WarmPoolRecord> {
  const entries = Object.entries(changes).filter(([, v]) => v !== undefined);
  const { rows } = await db.query<WarmPoolRecord>(
    `UPDATE warm_pools SET ${[...entries.map(([k], i) => `${k} = $${i + 2}`), 'updated_at = now()'].join(', ')}
     WHERE uuid = $1 RETURNING ${COLUMNS}`,
    [uuid, ...entries.map(([, v]) => v)],
  );
  return rows[0];
}

export async function deleteWarmPool(db: Queryable, uuid: string): Promise<void> {
  await db.query('DELETE FROM warm_pools WHERE uuid = $1', [uuid]);
}

/** Available nodes of the pool's class with its traits, of its owner (any, for an ownerless pool). */
const MATCHES = `provision_state = 'available' AND resource_class = $1 AND traits @> $2::text[]
  AND ($3::text IS NULL OR owner = $3) AND deploy_interface <> 'fake'`;

/** The pool's nodes in enrolment order, as its plan needs them. */
export async function warmPoolMembers(
  db: Queryable,
  pool: Pick<WarmPoolRecord, 'resource_class' | 'traits' | 'owner'>,
): Promise<PoolMember[]> {
  const { rows } = await db.query<PoolMember>(
    `SELECT uuid, ${PREBOOTED_SQL} AS warm,
       (target_provision_state IS NOT NULL OR allocation_uuid IS NOT NULL) AS busy,
       (NOT maintenance AND NOT retired AND last_error IS NULL AND power_state IS NOT NULL) AS usable
     FROM nodes WHERE ${MATCHES} ORDER BY id`,
    [pool.resource_class, pool.traits, pool.owner],
  );
  return rows;
}
