// The reservations and reservation_schedules tables, and the facts a capacity check needs.
import {
  capacityFor,
  HOLDING_STATUSES,
  peakDemand,
  type Capacity,
  type ReservationStatus,
} from '../domain/reservations.js';
import { EVENT_COLUMNS, type EventRecord } from './events.js';
import type { Queryable } from './pool.js';
import { selectPage, type Page } from './paging.js';

export interface ReservationRequest {
  owner: string;
  lessee: string;
  resource_class: string;
  traits: string[];
  count: number;
  /** The node's instance_info to deploy at start, or null. */
  deploy: Record<string, unknown> | null;
}

export interface ReservationRecord extends ReservationRequest {
  uuid: string;
  start_at: Date;
  end_at: Date;
  status: ReservationStatus;
  shortfall: number;
  last_error: string | null;
  schedule_uuid: string | null;
  created_by: string;
  created_at: Date;
  updated_at: Date | null;
}

const COLUMNS = `uuid, owner, lessee, resource_class, traits, count, start_at, end_at, deploy, status, shortfall, last_error,
  schedule_uuid, created_by, created_at, updated_at`;

/**
 * Serialises capacity decisions on one owner's class until the transaction ends, so two requests
 * cannot both take the last nodes.
 */
export async function lockCapacity(db: Queryable, owner: string, resourceClass: string): Promise<void> {
  await db.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`reservations/${owner}/${resourceClass}`]);
}

/**
 * Whether `count` nodes fit in the window: the owner's nodes of the class with the traits (not
 * retired, not in maintenance, not leased other than by a reservation), minus the peak that other
 * reservations of the same owner and class hold in the window. Other reservations count whatever
 * their traits, so a trait-less request never takes nodes a trait-bound one was promised.
 */
export async function checkCapacity(
  db: Queryable,
  request: Pick<ReservationRequest, 'owner' | 'resource_class' | 'traits' | 'count'> & {
    start_at: Date;
    end_at: Date;
    except?: string;
  },
): Promise<Capacity> {
  const { rows: nodes } = await db.query<{ count: string }>(
    `SELECT count(*) FROM nodes WHERE owner = $1 AND resource_class = $2 AND traits @> $3::text[] AND NOT retired AND NOT maintenance
       AND (lessee IS NULL OR allocation_uuid IN (SELECT uuid FROM allocations WHERE reservation_uuid IS NOT NULL))`,
    [request.owner, request.resource_class, request.traits],
  );
  const { rows: others } = await db.query<{ start_at: Date; end_at: Date; count: number }>(
    `SELECT start_at, end_at, count FROM reservations WHERE owner = $1 AND resource_class = $2 AND status = ANY($3)
       AND start_at < $5 AND end_at > $4 AND uuid IS DISTINCT FROM $6`,
    [request.owner, request.resource_class, HOLDING_STATUSES, request.start_at, request.end_at, request.except ?? null],
  );
  const window = { start: request.start_at.getTime(), end: request.end_at.getTime() };
  const reserved = peakDemand(
    others.map((o) => ({ start: o.start_at.getTime(), end: o.end_at.getTime(), count: o.count })),
    window,
  );
  return capacityFor(request.count, Number(nodes[0].count), reserved);
}

export async function insertReservation(
  db: Queryable,
  reservation: ReservationRequest &
    Pick<ReservationRecord, 'uuid' | 'start_at' | 'end_at' | 'created_by'> &
    Partial<Pick<ReservationRecord, 'status' | 'shortfall' | 'last_error' | 'schedule_uuid'>>,
): Promise<ReservationRecord> {
  const { rows } = await db.query<ReservationRecord>(
    `INSERT INTO reservations (uuid, owner, lessee, resource_class, traits, count, start_at, end_at, deploy, status, shortfall, last_error,
       schedule_uuid, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
     ON CONFLICT (uuid) DO UPDATE SET uuid = EXCLUDED.uuid RETURNING ${COLUMNS}`,
    [
      reservation.uuid,
      reservation.owner,
      reservation.lessee,
      reservation.resource_class,
      reservation.traits,
      reservation.count,
      reservation.start_at,
      reservation.end_at,
      reservation.deploy === null ? null : JSON.stringify(reservation.deploy),
      reservation.status ?? 'pending',
      reservation.shortfall ?? 0,
      reservation.last_error ?? null,
      reservation.schedule_uuid ?? null,
      reservation.created_by,
    ],
  );
  return rows[0];
}

export async function findReservation(
  db: Queryable,
  uuid: string,
  opts: { forUpdate?: boolean } = {},
): Promise<ReservationRecord | undefined> {
  const { rows } = await db.query<ReservationRecord>(
    `SELECT ${COLUMNS} FROM reservations WHERE uuid = $1${opts.forUpdate ? ' FOR UPDATE' : ''}`,
    [uuid],
  );
  return rows[0];
}

export interface ReservationFilters {
  status?: ReservationStatus;
  resource_class?: string;
  lessee?: string;
  schedule_uuid?: string;
  /** Only reservations this project owns or leases. */
  visible_to?: string;
}

export function listReservations(db: Queryable, filters: ReservationFilters, page: Page): Promise<ReservationRecord[]> {
  return selectPage<ReservationRecord>(
    db,
    'reservations',
    COLUMNS,
    [
      ['status = ?', filters.status],
      ['resource_class = ?', filters.resource_class],
      ['lessee = ?', filters.lessee],
      ['schedule_uuid = ?', filters.schedule_uuid],
      ['(owner = ? OR lessee = ?)', filters.visible_to],
    ],
    page,
  );
}

export async function updateReservation(
  db: Queryable,
  uuid: string,
  changes: Partial<Pick<ReservationRecord, 'status' | 'shortfall' | 'last_error' | 'end_at'>>,
): Promise<void> {
  const entries = Object.entries(changes).filter(([, v]) => v !== undefined);
  const sets = entries.map(([k], i) => `${k} = $${i + 2}`);
  await db.query(`UPDATE reservations SET ${[...sets, 'updated_at = now()'].join(', ')} WHERE uuid = $1`, [
    uuid,
    ...entries.map(([, v]) => v),
  ]);
}

export interface ReservationScheduleRecord extends ReservationRequest {
  uuid: string;
  cron: string | null;
  every_seconds: number | null;
  duration_seconds: number;
  created_by: string;
  created_at: Date;
}

const SCHEDULE_COLUMNS = `uuid, owner, lessee, resource_class, traits, count, cron, every_seconds, duration_seconds, deploy, created_by, created_at`;

export async function insertReservationSchedule(
  db: Queryable,
  schedule: Omit<ReservationScheduleRecord, 'created_at'>,
): Promise<ReservationScheduleRecord> {
  const { rows } = await db.query<ReservationScheduleRecord>(
    `INSERT INTO reservation_schedules (uuid, owner, lessee, resource_class, traits, count, cron, every_seconds, duration_seconds, deploy, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING ${SCHEDULE_COLUMNS}`,
    [
      schedule.uuid,
      schedule.owner,
      schedule.lessee,
      schedule.resource_class,
      schedule.traits,
      schedule.count,
      schedule.cron,
      schedule.every_seconds,
      schedule.duration_seconds,
      schedule.deploy === null ? null : JSON.stringify(schedule.deploy),
      schedule.created_by,
    ],
  );
  return rows[0];
}

export async function findReservationSchedule(
  db: Queryable,
  uuid: string,
): Promise<ReservationScheduleRecord | undefined> {
  const { rows } = await db.query<ReservationScheduleRecord>(
    `SELECT ${SCHEDULE_COLUMNS} FROM reservation_schedules WHERE uuid = $1`,
    [uuid],
  );
  return rows[0];
}

export function listReservationSchedules(
  db: Queryable,
  filters: { visible_to?: string },
  page: Page,
): Promise<ReservationScheduleRecord[]> {
  return selectPage<ReservationScheduleRecord>(
    db,
    'reservation_schedules',
    SCHEDULE_COLUMNS,
    [['(owner = ? OR lessee = ?)', filters.visible_to]],
    page,
  );
}

export async function deleteReservationSchedule(db: Queryable, uuid: string): Promise<void> {
  await db.query('DELETE FROM reservation_schedules WHERE uuid = $1', [uuid]);
}

/** The reservation's story: every event its API calls and its workflow wrote, oldest first. */
export function listReservationEvents(db: Queryable, requestId: string, page: Page): Promise<EventRecord[]> {
  return selectPage<EventRecord>(db, 'events', EVENT_COLUMNS, [['request_id = ?', requestId]], page);
}
