// What power sync reads from the nodes table: which nodes it checks, in id ranges a run hands out
// as batches. SQL only; the rules are in src/domain/power-sync.ts.
import { POWER_FAILURE_FAULT } from '../domain/power-sync.js';
import { COLUMNS, type NodeRecord } from './nodes.js';
import type { Queryable } from './pool.js';

/**
 * Nodes power sync checks: verified ones (an enrolled node's credentials are not yet known to
 * work, and a wrong password tried every minute can lock a BMC account), not in maintenance
 * unless for a power failure (whose BMC is tried again so the fault clears itself).
 */
const SYNCED = `provision_state <> 'enroll' AND (NOT maintenance OR fault = '${POWER_FAILURE_FAULT}')`;

export interface NodeIdRange {
  firstId: number;
  lastId: number;
  count: number;
}

/** The nodes to check, cut into ranges of `batchSize` in id order. */
export async function powerSyncRanges(db: Queryable, batchSize: number): Promise<NodeIdRange[]> {
  const { rows } = await db.query<{ first_id: string; last_id: string; count: string }>(
    `SELECT min(id) AS first_id, max(id) AS last_id, count(*) AS count
       FROM (SELECT id, (row_number() OVER (ORDER BY id) - 1) / $1 AS batch FROM nodes WHERE ${SYNCED}) numbered
      GROUP BY batch ORDER BY batch`,
    [batchSize],
  );
  return rows.map((r) => ({ firstId: Number(r.first_id), lastId: Number(r.last_id), count: Number(r.count) }));
}

/** The nodes of one range that are still to check. */
export async function nodesToSync(
  db: Queryable,
  range: Pick<NodeIdRange, 'firstId' | 'lastId'>,
): Promise<NodeRecord[]> {
  const { rows } = await db.query<NodeRecord>(
    `SELECT ${COLUMNS} FROM nodes WHERE id BETWEEN $1 AND $2 AND ${SYNCED} ORDER BY id`,
    [range.firstId, range.lastId],
  );
  return rows;
}
