// The event log: one row per power, provision, maintenance or fault change.
import type { RequestContext } from '../domain/context.js';
import type { Queryable } from './pool.js';
import { selectPage, type Page } from './paging.js';

export const EVENT_KINDS = [
  'power',
  'provision',
  'maintenance',
  'fault',
  'auth',
  'allocation',
  'reservation',
  'inspection',
] as const;
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

/** What happened: the kind of event and its particulars. */
export type NewEvent = Pick<EventRecord, 'node_uuid' | 'kind'> &
  Partial<Pick<EventRecord, 'verb' | 'from_state' | 'to_state' | 'severity' | 'message'>>;

/** Who caused it: the request's caller and, inside an operation, its workflow. */
export interface EventOrigin extends Partial<RequestContext> {
  workflowId?: string | null;
  /** The activity attempt's own key (workflow, run, activity): the event is written once per key. */
  activityKey?: string;
}

export const EVENT_COLUMNS =
  'uuid, created_at, node_uuid, kind, verb, from_state, to_state, severity, user_name, project, request_id, workflow_id, message';

/** Appends one event to the log; every writer (API and activities) goes through here. False: its activity key was written already. */
export async function recordEvent(db: Queryable, event: NewEvent, origin: EventOrigin = {}): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO events (node_uuid, kind, verb, from_state, to_state, severity, user_name, project, request_id, workflow_id, message, activity_key)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
     ON CONFLICT (activity_key) WHERE activity_key IS NOT NULL DO NOTHING`,
    [
      event.node_uuid,
      event.kind,
      event.verb ?? null,
      event.from_state ?? null,
      event.to_state ?? null,
      event.severity ?? 'info',
      origin.user ?? null,
      origin.project ?? null,
      origin.requestId ?? null,
      origin.workflowId ?? null,
      event.message ?? null,
      origin.activityKey ?? null,
    ],
  );
  return rowCount === 1;
}

/** The state an activity moved its node to, when an earlier execution of it (same key) already did. */
export async function transitionOfActivity(db: Queryable, activityKey: string): Promise<string | undefined> {
  const { rows } = await db.query<{ to_state: string }>(
    `SELECT to_state FROM events WHERE activity_key = $1 AND kind = 'provision' AND to_state IS NOT NULL`,
    [activityKey],
  );
  return rows[0]?.to_state;
}

/**
 * A record (event, deployment) is its project's and the node owner's: a lessee sees what it did on
 * the nodes it leases now, never what an earlier tenant of the same machine did.
 */
export const VISIBLE_RECORD =
  '(node_uuid IN (SELECT uuid FROM nodes WHERE owner = ?) OR (project = ? AND node_uuid IN (SELECT uuid FROM nodes WHERE lessee = ?)))';

export interface EventFilters {
  node_uuid?: string;
  kind?: EventKind;
  user_name?: string;
  project?: string;
  /** Only what this project may see: every event of the nodes it owns, its own events on the nodes it leases. */
  visible_to?: string;
  since?: Date;
  until?: Date;
}

/** Events oldest first, so a node's history reads like a story. */
export function listEvents(db: Queryable, filters: EventFilters, page: Page): Promise<EventRecord[]> {
  return selectPage<EventRecord>(
    db,
    'events',
    EVENT_COLUMNS,
    [
      ['node_uuid = ?', filters.node_uuid],
      ['kind = ?', filters.kind],
      ['user_name = ?', filters.user_name],
      ['project = ?', filters.project],
      [VISIBLE_RECORD, filters.visible_to],
      ['created_at >= ?', filters.since],
      ['created_at < ?', filters.until],
    ],
    page,
  );
}
