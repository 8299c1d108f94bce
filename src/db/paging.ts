import type { QueryResultRow } from 'pg';
import type { Queryable } from './pool.js';

export interface Page {
  limit: number;
  /** UUID of the last row of the previous page. */
  marker?: string;
}

/** A condition whose `?` placeholders all take one value; skipped when the value is undefined. */
export type Condition = [sql: string, value: unknown];

/** One page of `table` in insertion order, filtered by `conditions`. */
export async function selectPage<T extends QueryResultRow>(
  db: Queryable,
  table: string,
  columns: string,
  conditions: Condition[],
  page: Page,
): Promise<T[]> {
  const params: unknown[] = [];
  const where: string[] = [];
  const bind = (sql: string, value: unknown) => {
    params.push(value);
    where.push(sql.replaceAll('?', `$${params.length}`));
  };
  for (const [sql, value] of conditions) if (value !== undefined) bind(sql, value);
  if (page.marker) bind(`id > (SELECT id FROM ${table} WHERE uuid = ?)`, page.marker);
  params.push(page.limit);
  const { rows } = await db.query<T>(
    `SELECT ${columns} FROM ${table} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id LIMIT $${params.length}`,
    params,
  );
  return rows;
}
