// The inspection_rules table.
import type { InspectionRuleFields } from '../domain/inspection-rules.js';
import type { Queryable } from './pool.js';
import { selectPage, type Page } from './paging.js';

export interface InspectionRuleRecord extends InspectionRuleFields {
  uuid: string;
  created_at: Date;
  updated_at: Date | null;
}

const COLUMNS = 'uuid, description, priority, conditions, actions, created_at, updated_at';

export async function insertRule(
  db: Queryable,
  rule: InspectionRuleFields & { uuid: string },
): Promise<InspectionRuleRecord> {
  const { rows } = await db.query<InspectionRuleRecord>(
    `INSERT INTO inspection_rules (uuid, description, priority, conditions, actions) VALUES ($1, $2, $3, $4, $5)
     RETURNING ${COLUMNS}`,
    [rule.uuid, rule.description, rule.priority, JSON.stringify(rule.conditions), JSON.stringify(rule.actions)],
  );
  return rows[0];
}

export async function findRule(db: Queryable, uuid: string): Promise<InspectionRuleRecord | undefined> {
  const { rows } = await db.query<InspectionRuleRecord>(`SELECT ${COLUMNS} FROM inspection_rules WHERE uuid = $1`, [
    uuid,
  ]);
  return rows[0];
}

export function listRules(db: Queryable, page: Page): Promise<InspectionRuleRecord[]> {
  return selectPage<InspectionRuleRecord>(db, 'inspection_rules', COLUMNS, [], page);
}

/** Every rule in the order inspection applies them: priority, higher first, then oldest first. */
export async function rulesInOrder(db: Queryable): Promise<InspectionRuleRecord[]> {
  const { rows } = await db.query<InspectionRuleRecord>(
    `SELECT ${COLUMNS} FROM inspection_rules ORDER BY priority DESC, id`,
  );
  return rows;
}

export async function updateRule(
  db: Queryable,
  uuid: string,
  rule: InspectionRuleFields,
): Promise<InspectionRuleRecord> {
  const { rows } = await db.query<InspectionRuleRecord>(
    `UPDATE inspection_rules SET description = $2, priority = $3, conditions = $4, actions = $5, updated_at = now()
     WHERE uuid = $1 RETURNING ${COLUMNS}`,
    [uuid, rule.description, rule.priority, JSON.stringify(rule.conditions), JSON.stringify(rule.actions)],
  );
  return rows[0];
}

export async function deleteRule(db: Queryable, uuid: string): Promise<void> {
  await db.query('DELETE FROM inspection_rules WHERE uuid = $1', [uuid]);
}
