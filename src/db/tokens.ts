// API tokens. The token itself is never stored: only its SHA-256.
import type { Role } from '../domain/policy.js';
import { sha256Hex } from '../domain/secrets.js';
import type { Queryable } from './pool.js';
import { selectPage, type Page } from './paging.js';

export interface TokenRecord {
  uuid: string;
  project_id: string;
  user_id: string;
  role: Role;
  created_at: Date;
  revoked_at: Date | null;
}

const COLUMNS = 'uuid, project_id, user_id, role, created_at, revoked_at';

export function hashToken(token: string): string {
  return sha256Hex(token);
}

/** Inserts a token; a token already stored (same hash) is left as it is. */
export async function insertToken(
  db: Queryable,
  token: string,
  fields: Pick<TokenRecord, 'uuid' | 'project_id' | 'user_id' | 'role'>,
): Promise<TokenRecord | undefined> {
  const { rows } = await db.query<TokenRecord>(
    `INSERT INTO api_tokens (uuid, token_hash, project_id, user_id, role) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (token_hash) DO NOTHING RETURNING ${COLUMNS}`,
    [fields.uuid, hashToken(token), fields.project_id, fields.user_id, fields.role],
  );
  return rows[0];
}

/** The live (not revoked) token with this value, if any. */
export async function findLiveToken(db: Queryable, token: string): Promise<TokenRecord | undefined> {
  const { rows } = await db.query<TokenRecord>(
    `SELECT ${COLUMNS} FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL`,
    [hashToken(token)],
  );
  return rows[0];
}

export async function hasLiveAdminToken(db: Queryable): Promise<boolean> {
  const { rowCount } = await db.query(`SELECT 1 FROM api_tokens WHERE role = 'admin' AND revoked_at IS NULL LIMIT 1`);
  return (rowCount ?? 0) > 0;
}

export function listTokens(db: Queryable, page: Page): Promise<TokenRecord[]> {
  return selectPage<TokenRecord>(db, 'api_tokens', COLUMNS, [], page);
}

/** Revokes; returns false when no such token exists. Revoking twice is harmless. */
export async function revokeToken(db: Queryable, uuid: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE uuid = $1`,
    [uuid],
  );
  return (rowCount ?? 0) > 0;
}
