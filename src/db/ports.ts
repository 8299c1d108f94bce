import type { Queryable } from './pool.js';
import { selectPage, type Page } from './paging.js';

export interface PortRecord {
  uuid: string;
  address: string;
  node_uuid: string;
  pxe_enabled: boolean;
  extra: Record<string, unknown>;
  created_at: Date;
  updated_at: Date | null;
}

const COLUMNS = 'uuid, address, node_uuid, pxe_enabled, extra, created_at, updated_at';

export async function insertPort(
  db: Queryable,
  port: Pick<PortRecord, 'uuid' | 'address' | 'node_uuid' | 'pxe_enabled' | 'extra'>,
): Promise<PortRecord> {
  const { rows } = await db.query<PortRecord>(
    `INSERT INTO ports (uuid, address, node_uuid, pxe_enabled, extra) VALUES ($1, $2, $3, $4, $5) RETURNING ${COLUMNS}`,
    [port.uuid, port.address, port.node_uuid, port.pxe_enabled, JSON.stringify(port.extra)],
  );
  return rows[0];
}

export async function findPort(db: Queryable, uuid: string): Promise<PortRecord | undefined> {
  const { rows } = await db.query<PortRecord>(`SELECT ${COLUMNS} FROM ports WHERE uuid = $1`, [uuid]);
  return rows[0];
}

export async function findPortByAddress(db: Queryable, address: string): Promise<PortRecord | undefined> {
  const { rows } = await db.query<PortRecord>(`SELECT ${COLUMNS} FROM ports WHERE address = $1`, [address]);
  return rows[0];
}

export interface PortFilters {
  node_uuid?: string;
  address?: string;
  /** Only ports of nodes this project owns or leases. */
  visible_to?: string;
}

export function listPorts(db: Queryable, filters: PortFilters, page: Page): Promise<PortRecord[]> {
  return selectPage<PortRecord>(
    db,
    'ports',
    COLUMNS,
    [
      ['node_uuid = ?', filters.node_uuid],
      ['address = ?', filters.address],
      ['node_uuid IN (SELECT uuid FROM nodes WHERE owner = ? OR lessee = ?)', filters.visible_to],
    ],
    page,
  );
}

export async function deletePort(db: Queryable, uuid: string): Promise<void> {
  await db.query('DELETE FROM ports WHERE uuid = $1', [uuid]);
}
