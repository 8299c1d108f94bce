// The event log: one row per power, provision, maintenance or fault change.
import type { Queryable } from './pool.js';
import { selectPage, type Page } from './paging.js';

export const EVENT_KINDS = ['power', 'provision', 'maintenance', 'fault', 'auth'] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

export interface EventRecord {
  uuid: string;
  created_at: Date;
  node_uuid: string | null;
  kind: EventKind;
  verb: string | null;
  from_state: string | null;
  to_state: string | null;
  severity: 'info' | 'error';
  user_name: string | null;
  project: string | null;
  request_id: string | null;
  workflow_id: string | null;
  message: string | null;
}

export type NewEvent = Pick<EventRecord, 'node_uuid' | 'kind'> &
  Partial<Omit<EventRecord, 'uuid' | 'created_at' | 'node_uuid' | 'kind'>>;

const COLUMNS =
  'uuid, created_at, node_uuid, kind, verb, from_state, to_state, severity, user_name, project, request_id, workflow_id, message';

export async function insertEvent(db: Queryable, event: NewEvent): Promise<void> {
  await db.query(
    `INSERT INTO events (node_uuid, kind, verb, from_state, to_state, severity, user_name, project, request_id, workflow_id, message)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
    [
      event.node_uuid,
      event.kind,
      event.verb ?? null,
      event.from_state ?? null,
      event.to_state ?? null,
      event.severity ?? 'info',
      event.user_name ?? null,
      event.project ?? null,
      event.request_id ?? null,
      event.workflow_id ?? null,
      event.message ?? null,
    ],
  );
}

export interface EventFilters {
  node_uuid?: string;
  kind?: EventKind;
  user_name?: string;
  project?: string;
  /** Only events of nodes this project owns or leases. */
  visible_to?: string;
  since?: Date;
  until?: Date;
}

/** Events oldest first, so a node's history reads like a story. */
export function listEvents(db: Queryable, filters: EventFilters, page: Page): Promise<EventRecord[]> {
  return selectPage<EventRecord>(
    db,
    'events',
    COLUMNS,
    [
      ['node_uuid = ?', filters.node_uuid],
      ['kind = ?', filters.kind],
      ['user_name = ?', filters.user_name],
      ['project = ?', filters.project],
      ['node_uuid IN (SELECT uuid FROM nodes WHERE owner = ? OR lessee = ?)', filters.visible_to],
      ['created_at >= ?', filters.since],
      ['created_at < ?', filters.until],
    ],
    page,
  );
}
