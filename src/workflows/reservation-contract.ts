// What the API and the reservation workflows agree on: workflow and schedule IDs, inputs, and the
// updates that cancel a reservation or move its end. Safe to import from workflow code.
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { ReservationPhase } from '../domain/reservations.js';
import type { RequestContext } from '../domain/context.js';

export function reservationWorkflowId(reservationUuid: string): string {
  return `reservation/${reservationUuid}`;
}

/** The Temporal Schedule of a recurring reservation; what it starts gets this ID plus the fire time. */
export function reservationScheduleId(scheduleUuid: string): string {
  return `reservation-schedule/${scheduleUuid}`;
}

/** The request id every event of a reservation carries, so the event log tells its story. */
export function reservationRequestId(reservationUuid: string): string {
  return `reservation-${reservationUuid}`;
}

/** Times are ISO 8601 strings; the deploy spec stays in the database (it may hold user data). */
export interface ReservationInput {
  reservationUuid: string;
  startAt: string;
  endAt: string;
  count: number;
  /** Whether the reservation deploys its nodes at start (its spec is read by an activity). */
  deploy: boolean;
  context: RequestContext;
}

export interface ScheduledReservationInput {
  scheduleUuid: string;
}

export interface ReservationStatusView {
  phase: ReservationPhase;
  endAt: string;
  nodes: string[];
  shortfall: number;
  cancelled: boolean;
}

export const cancelReservationUpdate = defineUpdate<void, [{ user: string | null }]>('cancel');
/** Extend or shorten; the validator refuses it synchronously with the reason. */
export const changeReservationEndUpdate = defineUpdate<void, [{ endAt: string }]>('changeEnd');
export const reservationStatusQuery = defineQuery<ReservationStatusView>('reservationStatus');
