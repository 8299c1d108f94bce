import type { Queryable } from './pool.js';
import { selectPage, type Page } from './paging.js';

export interface TemplateStep {
  interface: string;
  step: string;
  args: Record<string, unknown>;
  priority: number;
}

export interface DeployTemplateRecord {
  uuid: string;
  name: string;
  steps: TemplateStep[];
  extra: Record<string, unknown>;
  created_at: Date;
  updated_at: Date | null;
}

const COLUMNS = 'uuid, name, steps, extra, created_at, updated_at';

export async function insertTemplate(
  db: Queryable,
  t: Pick<DeployTemplateRecord, 'uuid' | 'name' | 'steps' | 'extra'>,
): Promise<DeployTemplateRecord> {
  const { rows } = await db.query<DeployTemplateRecord>(
    `INSERT INTO deploy_templates (uuid, name, steps, extra) VALUES ($1, $2, $3, $4) RETURNING ${COLUMNS}`,
    [t.uuid, t.name, JSON.stringify(t.steps), JSON.stringify(t.extra)],
  );
  return rows[0];
}

/** By UUID or by name. */
export async function findTemplate(db: Queryable, ident: string): Promise<DeployTemplateRecord | undefined> {
  const { rows } = await db.query<DeployTemplateRecord>(
    `SELECT ${COLUMNS} FROM deploy_templates WHERE uuid::text = $1 OR name = $1`,
    [ident],
  );
  return rows[0];
}

export function listTemplates(db: Queryable, page: Page): Promise<DeployTemplateRecord[]> {
  return selectPage<DeployTemplateRecord>(db, 'deploy_templates', COLUMNS, [], page);
}

/** The templates named by any of these traits. */
export async function templatesForTraits(db: Queryable, traits: string[]): Promise<DeployTemplateRecord[]> {
  if (!traits.length) return [];
  const { rows } = await db.query<DeployTemplateRecord>(
    `SELECT ${COLUMNS} FROM deploy_templates WHERE name = ANY($1) ORDER BY name`,
    [traits],
  );
  return rows;
}

export async function updateTemplate(
  db: Queryable,
  uuid: string,
  t: Pick<DeployTemplateRecord, 'name' | 'steps' | 'extra'>,
): Promise<DeployTemplateRecord> {
  const { rows } = await db.query<DeployTemplateRecord>(
    `UPDATE deploy_templates SET name = $2, steps = $3, extra = $4, updated_at = now() WHERE uuid = $1 RETURNING ${COLUMNS}`,
    [uuid, t.name, JSON.stringify(t.steps), JSON.stringify(t.extra)],
  );
  return rows[0];
}

export async function deleteTemplate(db: Queryable, uuid: string): Promise<void> {
  await db.query('DELETE FROM deploy_templates WHERE uuid = $1', [uuid]);
}
