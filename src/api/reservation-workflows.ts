// The API's side of reservations on Temporal: a workflow per reservation (reservation/<uuid>)
// with its search attributes, the updates that cancel it or move its end, and the Schedules of
// recurring reservations.
import {
  ScheduleNotFoundError,
  WorkflowUpdateFailedError,
  type Client,
  type ScheduleDescription,
} from '@temporalio/client';
import type { SearchAttributePair } from '@temporalio/common';
import type { ReservationRecord, ReservationScheduleRecord } from '../db/reservations.js';
import type { RequestContext } from '../domain/context.js';
import { Lessee, ReservationId, ResourceClass } from '../workflows/contract.js';
import {
  cancelReservationUpdate,
  changeReservationEndUpdate,
  reservationRequestId,
  reservationScheduleId,
  reservationWorkflowId,
  type ReservationInput,
} from '../workflows/reservation-contract.js';
import { conflict } from './errors.js';
import { withTemporalDeadline } from './temporal-deadline.js';

/** How a refused update reads: the validator's reason, as a 409. */
function refused(err: unknown): never {
  if (err instanceof WorkflowUpdateFailedError)
    throw conflict('reservation_change_refused', err.cause?.message ?? err.message);
  throw err;
}

export interface ScheduleState {
  paused: boolean;
  note: string | null;
  next_runs: Date[];
  recent_runs: Date[];
}

export class ReservationWorkflows {
  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
  ) {}

  private searchAttributes(
    record: Pick<ReservationRecord, 'lessee' | 'resource_class'>,
    uuid?: string,
  ): SearchAttributePair[] {
    return [
      ...(uuid ? [{ key: ReservationId, value: uuid }] : []),
      { key: Lessee, value: record.lessee },
      { key: ResourceClass, value: record.resource_class },
    ];
  }

  async start(reservation: ReservationRecord, context: RequestContext): Promise<void> {
    const input: ReservationInput = {
      reservationUuid: reservation.uuid,
      startAt: reservation.start_at.toISOString(),
      endAt: reservation.end_at.toISOString(),
      count: reservation.count,
      deploy: reservation.deploy !== null,
      context: { ...context, requestId: reservationRequestId(reservation.uuid) },
    };
    // Inside the transaction that records the reservation: bounded, so Temporal away is a 503, not a held lock.
    await withTemporalDeadline(this.client, () =>
      this.client.workflow.start('reservationWorkflow', {
        workflowId: reservationWorkflowId(reservation.uuid),
        taskQueue: this.taskQueue,
        args: [input],
        typedSearchAttributes: this.searchAttributes(reservation, reservation.uuid),
      }),
    );
  }

  /** Asks the reservation to end now (or never start); 409 with the reason when it cannot. */
  async cancel(uuid: string, user: string): Promise<void> {
    await this.client.workflow
      .getHandle(reservationWorkflowId(uuid))
      .executeUpdate(cancelReservationUpdate, { args: [{ user }] })
      .catch(refused);
  }

  async changeEnd(uuid: string, endAt: Date): Promise<void> {
    await this.client.workflow
      .getHandle(reservationWorkflowId(uuid))
      .executeUpdate(changeReservationEndUpdate, { args: [{ endAt: endAt.toISOString() }] })
      .catch(refused);
  }

  async createSchedule(schedule: ReservationScheduleRecord): Promise<void> {
    await withTemporalDeadline(this.client, () =>
      this.client.schedule.create({
        scheduleId: reservationScheduleId(schedule.uuid),
        spec: schedule.cron
          ? { cronExpressions: [schedule.cron] }
          : { intervals: [{ every: `${schedule.every_seconds}s` }] },
        action: {
          type: 'startWorkflow',
          workflowType: 'scheduledReservationWorkflow',
          workflowId: reservationScheduleId(schedule.uuid),
          taskQueue: this.taskQueue,
          args: [{ scheduleUuid: schedule.uuid }],
          typedSearchAttributes: this.searchAttributes(schedule),
        },
        memo: { owner: schedule.owner, lessee: schedule.lessee },
      }),
    );
  }

  /** The schedule's state in Temporal; undefined when Temporal no longer has it. */
  async describeSchedule(uuid: string): Promise<ScheduleState | undefined> {
    let description: ScheduleDescription;
    try {
      description = await this.client.schedule.getHandle(reservationScheduleId(uuid)).describe();
    } catch (err) {
      if (err instanceof ScheduleNotFoundError) return undefined;
      throw err;
    }
    return {
      paused: description.state.paused,
      note: description.state.note ?? null,
      next_runs: description.info.nextActionTimes.slice(0, 5),
      recent_runs: description.info.recentActions.map((a) => a.takenAt),
    };
  }

  async pauseSchedule(uuid: string, paused: boolean, note: string): Promise<void> {
    const handle = this.client.schedule.getHandle(reservationScheduleId(uuid));
    await (paused ? handle.pause(note) : handle.unpause(note));
  }

  async deleteSchedule(uuid: string): Promise<void> {
    await this.client.schedule
      .getHandle(reservationScheduleId(uuid))
      .delete()
      .catch((err) => {
        if (!(err instanceof ScheduleNotFoundError)) throw err;
      });
  }
}
