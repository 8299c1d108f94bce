// Reservations: a project's claim on `count` nodes of an owner's class for a window, for a lessee
// (the seed's Blazar flow, with a workflow's durable timers as the scheduler), and recurring
// reservations as Temporal Schedules. Capacity is checked here, under a lock per owner and class,
// before anything is promised; the workflow's update validators refuse what its phase forbids.
import { randomUUID } from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { listAllocations } from '../db/allocations.js';
import { recordEvent } from '../db/events.js';
import { inTransaction, type Pool, type Queryable } from '../db/pool.js';
import {
  checkCapacity,
  deleteReservationSchedule,
  findReservation,
  findReservationSchedule,
  insertReservation,
  insertReservationSchedule,
  listReservationEvents,
  listReservations,
  listReservationSchedules,
  lockCapacity,
  updateReservation,
  type ReservationRecord,
  type ReservationScheduleRecord,
} from '../db/reservations.js';
import type { Action } from '../domain/policy.js';
import { HOLDING_STATUSES, RESERVATION_STATUSES, type Capacity } from '../domain/reservations.js';
import { maskSecrets } from '../domain/secrets.js';
import { reservationRequestId } from '../workflows/reservation-contract.js';
import { accessNode, authorize, callerOf, visibleTo } from './auth.js';
import { requestContext } from './context.js';
import { instanceInfoFor } from './deployments.js';
import { badRequest, conflict, notFound, parse } from './errors.js';
import type { ReservationWorkflows } from './reservation-workflows.js';
import { createDeployment, pageQuery, trait, uuid } from './schemas.js';
import { eventView, pageView } from './views.js';

const isoTime = z.iso
  .datetime({ offset: true, message: 'must be an ISO 8601 time with a zone, such as 2026-12-01T08:00:00Z' })
  .transform((s) => new Date(s));
/** A minute of leeway for a start given as "now" by a caller whose clock is a little behind. */
const START_LEEWAY_MS = 60_000;

const reservationFields = {
  resource_class: z.string().min(1).max(80),
  traits: z.array(trait).max(50).default([]),
  count: z.number().int().min(1).max(1000),
  lessee: z.string().min(1).max(255),
  /** Whose nodes; a member reserves its own project's, an admin names the owner. */
  owner: z.string().min(1).max(255).optional(),
  /** What to deploy on each node at start: the deployment API's image and config drive fields. */
  deploy: z.record(z.string(), z.unknown()).optional(),
};
export const createReservation = z.strictObject({ ...reservationFields, start_at: isoTime, end_at: isoTime });
export const changeReservation = z.strictObject({ end_at: isoTime });
export const reservationListQuery = pageQuery.extend({
  status: z.enum(RESERVATION_STATUSES).optional(),
  resource_class: z.string().optional(),
  lessee: z.string().optional(),
  schedule: uuid.optional(),
});

/** Five-field cron, as Temporal Schedules take it (minute hour day-of-month month day-of-week). */
const cron = z
  .string()
  .max(120)
  .regex(/^(\S+\s+){4}\S+$/, 'must be a five-field cron expression such as "0 8 * * 1-5"');
export const createSchedule = z
  .strictObject({
    ...reservationFields,
    cron: cron.optional(),
    every_seconds: z
      .number()
      .int()
      .min(1)
      .max(366 * 86400)
      .optional(),
    duration_seconds: z
      .number()
      .int()
      .min(1)
      .max(366 * 86400),
  })
  .refine((s) => (s.cron === undefined) !== (s.every_seconds === undefined), {
    path: ['cron'],
    message: 'give either cron or every_seconds',
  });
export const changeSchedule = z.strictObject({ paused: z.boolean(), note: z.string().max(255).optional() });

type ReservationRequest = z.infer<typeof createReservation>;

/** The deploy spec as the node's instance_info, checked like a deployment's. */
function deployInfo(deploy: Record<string, unknown> | undefined): Record<string, unknown> | null {
  if (deploy === undefined) return null;
  for (const field of ['node', 'allocation'])
    if (field in deploy) throw badRequest(`deploy.${field}`, 'a reservation picks the nodes itself');
  return instanceInfoFor(parse(createDeployment, deploy, 'deploy'));
}

/** The owner the caller reserves for: its own project, or (for an admin) the one it names. */
function ownerFor(req: Request, given: string | undefined): string {
  const caller = callerOf(req);
  const owner = given ?? (caller.role === 'admin' ? undefined : caller.projectId);
  if (!owner) throw badRequest('owner', 'required for an admin: the project whose nodes are reserved');
  authorize(req, 'reservation:create', { owner, lessee: null });
  return owner;
}

function shortfallMessage(request: { count: number; resource_class: string }, capacity: Capacity): string {
  return (
    `${capacity.shortfall} of ${request.count} nodes of class ${request.resource_class} are not free in the window: ` +
    `${capacity.nodes} match, ${capacity.reserved} are reserved by others at the busiest moment`
  );
}

/** 409 naming the shortfall, with the figures as fields too. */
function refuseCapacity(res: Response, request: { count: number; resource_class: string }, capacity: Capacity): void {
  res
    .status(409)
    .json({ error: { code: 'insufficient_capacity', message: shortfallMessage(request, capacity), ...capacity } });
}

function reservationView(
  req: Request,
  reservation: ReservationRecord,
  allocations: Array<{ uuid: string; node_uuid: string | null }>,
) {
  return {
    ...reservation,
    deploy: reservation.deploy && maskSecrets(reservation.deploy),
    allocations: allocations.map(({ uuid: allocation, node_uuid }) => ({ uuid: allocation, node_uuid })),
    links: [{ rel: 'self', href: `${req.protocol}://${req.get('host')}/v1/reservations/${reservation.uuid}` }],
  };
}

function scheduleView(req: Request, schedule: ReservationScheduleRecord, state: object | undefined) {
  return {
    ...schedule,
    deploy: schedule.deploy && maskSecrets(schedule.deploy),
    ...(state ?? { missing: 'Temporal has no such schedule' }),
    links: [{ rel: 'self', href: `${req.protocol}://${req.get('host')}/v1/reservation_schedules/${schedule.uuid}` }],
  };
}

async function recordReservationEvent(
  db: Queryable,
  req: Request,
  reservationUuid: string,
  verb: string,
  message: string,
): Promise<void> {
  const context = requestContext(req);
  await recordEvent(
    db,
    { node_uuid: null, kind: 'reservation', verb, message: `${message} (request ${context.requestId})` },
    { ...context, requestId: reservationRequestId(reservationUuid) },
  );
}

export function reservationsRouter(pool: Pool, workflows: ReservationWorkflows): Router {
  const router = Router();

  async function loadReservation(req: Request, action: Action): Promise<ReservationRecord> {
    const id = parse(uuid, req.params.reservation, 'reservation');
    const reservation = await findReservation(pool, id);
    return accessNode(req, reservation, action, () => notFound('reservation', id));
  }

  const allocationsOf = (reservationUuid: string) =>
    listAllocations(pool, { reservation_uuid: reservationUuid }, { limit: 1000 });

  router.post('/', async (req, res) => {
    const request: ReservationRequest = parse(createReservation, req.body);
    const owner = ownerFor(req, request.owner);
    if (request.end_at <= request.start_at) throw badRequest('end_at', 'must be after start_at');
    if (request.start_at.getTime() < Date.now() - START_LEEWAY_MS)
      throw badRequest('start_at', 'must not be in the past');
    const deploy = deployInfo(request.deploy);
    const caller = callerOf(req);
    const created = await inTransaction(pool, async (client) => {
      await lockCapacity(client, owner, request.resource_class);
      const capacity = await checkCapacity(client, { ...request, owner });
      if (capacity.shortfall > 0) return capacity;
      const reservation = await insertReservation(client, {
        ...request,
        owner,
        deploy,
        uuid: randomUUID(),
        created_by: caller.userId,
      });
      await recordReservationEvent(
        client,
        req,
        reservation.uuid,
        'create',
        `reserved ${request.count} nodes of class ${request.resource_class} for ${request.lessee}`,
      );
      // Started inside the transaction: a reservation Temporal does not have is never promised.
      await workflows.start(reservation, requestContext(req));
      return reservation;
    });
    if (!('uuid' in created)) return refuseCapacity(res, request, created);
    res
      .status(201)
      .location(`/v1/reservations/${created.uuid}`)
      .json(reservationView(req, created, []));
  });

  router.get('/', async (req, res) => {
    const { limit, marker, schedule, ...filters } = parse(reservationListQuery, req.query, 'query');
    const reservations = await listReservations(
      pool,
      { ...filters, schedule_uuid: schedule, visible_to: visibleTo(req) },
      { limit, marker },
    );
    const views = await Promise.all(
      reservations.map(async (r) => reservationView(req, r, await allocationsOf(r.uuid))),
    );
    res.json(pageView(req, 'reservations', reservations, views, limit));
  });

  router.get('/:reservation', async (req, res) => {
    const reservation = await loadReservation(req, 'reservation:get');
    res.json(reservationView(req, reservation, await allocationsOf(reservation.uuid)));
  });

  router.get('/:reservation/events', async (req, res) => {
    const reservation = await loadReservation(req, 'reservation:get');
    const { limit, marker } = parse(pageQuery, req.query, 'query');
    const events = await listReservationEvents(pool, reservationRequestId(reservation.uuid), { limit, marker });
    res.json(pageView(req, 'events', events, events.map(eventView), limit));
  });

  /** Extend or shorten: an extension is checked against capacity like a new reservation. */
  router.patch('/:reservation', async (req, res) => {
    const reservation = await loadReservation(req, 'reservation:update');
    const { end_at } = parse(changeReservation, req.body);
    if (!HOLDING_STATUSES.includes(reservation.status))
      throw conflict('reservation_change_refused', `the reservation is ${reservation.status}`);
    const refusedCapacity = await inTransaction(pool, async (client) => {
      await lockCapacity(client, reservation.owner, reservation.resource_class);
      if (end_at > reservation.end_at) {
        const capacity = await checkCapacity(client, { ...reservation, end_at, except: reservation.uuid });
        if (capacity.shortfall > 0) return capacity;
      }
      await workflows.changeEnd(reservation.uuid, end_at);
      await updateReservation(client, reservation.uuid, { end_at });
      await recordReservationEvent(
        client,
        req,
        reservation.uuid,
        'change end',
        `end moved from ${reservation.end_at.toISOString()} to ${end_at.toISOString()}`,
      );
      return undefined;
    });
    if (refusedCapacity) return refuseCapacity(res, reservation, refusedCapacity);
    const changed = (await findReservation(pool, reservation.uuid))!;
    res.json(reservationView(req, changed, await allocationsOf(changed.uuid)));
  });

  /** Cancel: before the start it never starts; during it, the nodes are given back now. */
  router.delete('/:reservation', async (req, res) => {
    const reservation = await loadReservation(req, 'reservation:cancel');
    if (!HOLDING_STATUSES.includes(reservation.status))
      throw conflict('reservation_change_refused', `the reservation is ${reservation.status}`);
    // The event is written first (so it precedes what the workflow records next) and kept only if the workflow accepts.
    await inTransaction(pool, async (client) => {
      await recordReservationEvent(client, req, reservation.uuid, 'cancel', 'cancel requested');
      await workflows.cancel(reservation.uuid, callerOf(req).userId);
    });
    res
      .status(202)
      .location(`/v1/reservations/${reservation.uuid}`)
      .json(reservationView(req, reservation, await allocationsOf(reservation.uuid)));
  });

  return router;
}

export function reservationSchedulesRouter(pool: Pool, workflows: ReservationWorkflows): Router {
  const router = Router();

  async function loadSchedule(req: Request, action: Action): Promise<ReservationScheduleRecord> {
    const id = parse(uuid, req.params.schedule, 'schedule');
    return accessNode(req, await findReservationSchedule(pool, id), action, () => notFound('reservation schedule', id));
  }

  router.post('/', async (req, res) => {
    const request = parse(createSchedule, req.body);
    const owner = ownerFor(req, request.owner);
    const schedule = await inTransaction(pool, async (client) => {
      const record = await insertReservationSchedule(client, {
        uuid: randomUUID(),
        owner,
        lessee: request.lessee,
        resource_class: request.resource_class,
        traits: request.traits,
        count: request.count,
        cron: request.cron ?? null,
        every_seconds: request.every_seconds ?? null,
        duration_seconds: request.duration_seconds,
        deploy: deployInfo(request.deploy),
        created_by: callerOf(req).userId,
      });
      await workflows.createSchedule(record);
      return record;
    });
    res
      .status(201)
      .location(`/v1/reservation_schedules/${schedule.uuid}`)
      .json(scheduleView(req, schedule, await workflows.describeSchedule(schedule.uuid)));
  });

  router.get('/', async (req, res) => {
    const { limit, marker } = parse(pageQuery, req.query, 'query');
    const schedules = await listReservationSchedules(pool, { visible_to: visibleTo(req) }, { limit, marker });
    const views = await Promise.all(
      schedules.map(async (s) => scheduleView(req, s, await workflows.describeSchedule(s.uuid))),
    );
    res.json(pageView(req, 'reservation_schedules', schedules, views, limit));
  });

  router.get('/:schedule', async (req, res) => {
    const schedule = await loadSchedule(req, 'reservation:get');
    res.json(scheduleView(req, schedule, await workflows.describeSchedule(schedule.uuid)));
  });

  /** Pause or resume: `{ "paused": true, "note": "why" }`; the note shows in the Temporal UI. */
  router.patch('/:schedule', async (req, res) => {
    const schedule = await loadSchedule(req, 'reservation:update');
    const { paused, note } = parse(changeSchedule, req.body);
    await workflows.pauseSchedule(
      schedule.uuid,
      paused,
      note ?? `${paused ? 'paused' : 'resumed'} by ${callerOf(req).userId}`,
    );
    res.json(scheduleView(req, schedule, await workflows.describeSchedule(schedule.uuid)));
  });

  /** Stops the recurrence; reservations it already opened run to their end. */
  router.delete('/:schedule', async (req, res) => {
    const schedule = await loadSchedule(req, 'reservation:update');
    await workflows.deleteSchedule(schedule.uuid);
    await deleteReservationSchedule(pool, schedule.uuid);
    res.status(204).end();
  });

  return router;
}
