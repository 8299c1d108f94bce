import type { QueryResultRow } from 'pg';
import type { Queryable } from './pool.js';

export interface Page {
  limit: number;
  /** UUID of the last row of the previous page. */
  marker?: string;
  /** Order by this column (a trusted name, never the caller's text), then by insertion; default: insertion order. */
  sort?: { column: string; direction: 'asc' | 'desc' };
}

/** A condition whose `?` placeholders all take one value; skipped when the value is undefined. */
export type Condition = [sql: string, value: unknown];

/** One page of `table` in the page's order (insertion order by default), filtered by `conditions`. */
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
  // Keyset paging over (sort key, id): NULLs sort as '' so that the row comparison stays total.
  const key = page.sort ? `COALESCE(${page.sort.column}::text, '')` : undefined;
  const [after, direction] = page.sort?.direction === 'desc' ? ['<', 'DESC'] : ['>', 'ASC'];
  if (page.marker) {
    const keyed = key ? `${key}, id` : 'id';
    bind(`(${keyed}) ${after} (SELECT ${keyed} FROM ${table} WHERE uuid = ?)`, page.marker);
  }
  params.push(page.limit);
  const order = key ? `${key} ${direction}, id ${direction}` : 'id';
  const { rows } = await db.query<T>(
    `SELECT ${columns} FROM ${table} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY ${order} LIMIT $${params.length}`,
    params,
  );
  return rows;
}
