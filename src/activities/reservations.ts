// What a reservation does to the database: claim a node for a slot (its allocation derived from the
// reservation's UUID, the node leased to the lessee), hand the deploy spec to the node, give the
// node back, and record the reservation's status. Each is idempotent: a retry finds its work done.
import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { allocate, deleteAllocation, findAllocation } from '../db/allocations.js';
import { recordEvent } from '../db/events.js';
import { findNode, updateNode } from '../db/nodes.js';
import { inTransaction, type Pool, type Queryable } from '../db/pool.js';
import {
  checkCapacity,
  findReservation,
  findReservationSchedule,
  insertReservation,
  lockCapacity,
  updateReservation,
  type ReservationRecord,
} from '../db/reservations.js';
import { allowedEvents, type ProvisionState } from '../domain/provision.js';
import type { ReservationStatus } from '../domain/reservations.js';
import type { RequestContext } from '../domain/context.js';
import { reservationRequestId, type ReservationInput } from '../workflows/reservation-contract.js';
import { eventOrigin } from './node-state.js';

/** An RFC 4122 version-5 UUID: the same name in the same namespace always gives the same UUID. */
export function uuidV5(namespace: string, name: string): string {
  const hash = createHash('sha1')
    .update(Buffer.from(namespace.replaceAll('-', ''), 'hex'))
    .update(name)
    .digest();
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * The allocation of a reservation's slot: the first node's is the reservation's own UUID (as in the
 * seed's Blazar flow, where the lessee finds its allocation by the reservation UUID); the others,
 * and replacements of a failed node, are derived from it.
 */
export function slotAllocationUuid(reservationUuid: string, slot: number, attempt: number): string {
  return slot === 0 && attempt === 0 ? reservationUuid : uuidV5(reservationUuid, `slot-${slot}/attempt-${attempt}`);
}

export interface SlotClaim {
  reservationUuid: string;
  slot: number;
  /** 0, then one more for each replacement of a node that failed at start. */
  attempt: number;
  context: RequestContext;
}

export interface HeldNode {
  nodeUuid: string;
  allocationUuid: string;
}

async function requireReservation(db: Queryable, uuid: string): Promise<ReservationRecord> {
  const reservation = await findReservation(db, uuid);
  if (!reservation)
    throw ApplicationFailure.nonRetryable(`reservation ${uuid} no longer exists`, 'ReservationNotFound');
  return reservation;
}

async function reservationEvent(
  db: Queryable,
  context: RequestContext,
  event: { verb: string; node_uuid?: string | null; to_state?: string; severity?: 'info' | 'error'; message: string },
) {
  await recordEvent(db, { kind: 'reservation', node_uuid: null, ...event }, eventOrigin(context));
}

/** Provision states from which the reservation's end must tear the instance down. */
function needsUndeploy(state: ProvisionState): boolean {
  return state !== 'available' && allowedEvents(state).includes('undeploy');
}

export function createReservationActivities(pool: Pool) {
  return {
    /** Claims a matching node of the owner for one slot and leases it to the lessee; null when none is left. */
    async claimReservationNode(claim: SlotClaim): Promise<HeldNode | null> {
      // POST /v1/allocations accepts a UUID: should another allocation hold the slot's, the derived one serves.
      const candidates = new Set([
        slotAllocationUuid(claim.reservationUuid, claim.slot, claim.attempt),
        uuidV5(claim.reservationUuid, `slot-${claim.slot}/attempt-${claim.attempt}`),
      ]);
      return inTransaction(pool, async (client) => {
        let allocationUuid: string | undefined;
        for (const uuid of candidates) {
          const existing = await findAllocation(client, uuid);
          if (!existing) allocationUuid ??= uuid;
          // Made by an earlier attempt of this activity.
          else if (existing.reservation_uuid === claim.reservationUuid && existing.node_uuid)
            return { nodeUuid: existing.node_uuid, allocationUuid: uuid };
        }
        if (!allocationUuid) {
          const message = `slot ${claim.slot}: other allocations hold its UUIDs; it stays empty`;
          await reservationEvent(client, claim.context, { verb: 'claim', severity: 'error', message });
          return null;
        }
        const reservation = await requireReservation(client, claim.reservationUuid);
        const allocation = await allocate(
          client,
          {
            uuid: allocationUuid,
            name: null,
            resource_class: reservation.resource_class,
            traits: reservation.traits,
            candidate_nodes: [],
            owner: reservation.lessee,
            extra: { reservation: reservation.uuid, slot: claim.slot },
            reservation_uuid: reservation.uuid,
          },
          {
            resource_class: reservation.resource_class,
            traits: reservation.traits,
            candidate_nodes: [],
            project: reservation.owner,
            ownedAndUnleased: true,
            preferredName: null,
          },
        );
        if (!allocation.node_uuid) {
          // No error allocation is kept for a reservation: its shortfall says it.
          await deleteAllocation(client, allocation);
          return null;
        }
        await updateNode(client, allocation.node_uuid, { lessee: reservation.lessee });
        await reservationEvent(client, claim.context, {
          verb: 'claim',
          node_uuid: allocation.node_uuid,
          message: `slot ${claim.slot}: allocation ${allocationUuid} took the node and leased it to ${reservation.lessee}`,
        });
        return { nodeUuid: allocation.node_uuid, allocationUuid };
      });
    },

    /** Puts the reservation's deploy spec on the node as its instance_info, for the deploy that follows. */
    async prepareReservedDeploy(reservationUuid: string, nodeUuid: string): Promise<void> {
      const reservation = await requireReservation(pool, reservationUuid);
      if (!reservation.deploy)
        throw ApplicationFailure.nonRetryable(`reservation ${reservationUuid} has no deploy spec`, 'NoDeploySpec');
      await updateNode(pool, nodeUuid, { instance_info: reservation.deploy });
    },

    /** The node's provision state, and whether ending the reservation must undeploy it. */
    async reservedNodeState(nodeUuid: string): Promise<{ provisionState: ProvisionState | null; undeploy: boolean }> {
      const node = await findNode(pool, nodeUuid);
      return {
        provisionState: node?.provision_state ?? null,
        undeploy: node !== undefined && needsUndeploy(node.provision_state),
      };
    },

    /** Gives the node back: its lessee cleared (when still the reservation's) and its allocation deleted. */
    async releaseReservationNode(
      reservationUuid: string,
      held: HeldNode,
      reason: string,
      context: RequestContext,
    ): Promise<void> {
      await inTransaction(pool, async (client) => {
        const reservation = await requireReservation(client, reservationUuid);
        const allocation = await findAllocation(client, held.allocationUuid);
        if (!allocation) return;
        const node = await findNode(client, held.nodeUuid, { forUpdate: true });
        if (node && node.allocation_uuid === held.allocationUuid && node.lessee === reservation.lessee) {
          await updateNode(client, node.uuid, { lessee: null });
        }
        await deleteAllocation(client, allocation);
        await reservationEvent(client, context, { verb: 'release', node_uuid: held.nodeUuid, message: reason });
      });
    },

    /** Records where the reservation is (active, ended, cancelled), with how many nodes it lacks. */
    async recordReservationStatus(
      reservationUuid: string,
      status: ReservationStatus,
      detail: { shortfall?: number; message: string; error?: boolean },
      context: RequestContext,
    ): Promise<void> {
      await inTransaction(pool, async (client) => {
        const reservation = await requireReservation(client, reservationUuid);
        if (
          reservation.status === status &&
          (detail.shortfall === undefined || reservation.shortfall === detail.shortfall)
        )
          return;
        await updateReservation(client, reservationUuid, {
          status,
          shortfall: detail.shortfall,
          last_error: detail.error ? detail.message : undefined,
        });
        await reservationEvent(client, context, {
          verb: status,
          to_state: status,
          severity: detail.error ? 'error' : 'info',
          message: detail.message,
        });
      });
    },

    /**
     * Opens the reservation a schedule fires, for [fire time, fire time + duration): checked against
     * capacity like any other, and recorded as refused (with the shortfall) when it does not fit.
     */
    async openScheduledReservation(
      scheduleUuid: string,
      workflowId: string,
      startAt: string,
    ): Promise<ReservationInput | { refused: string }> {
      const schedule = await findReservationSchedule(pool, scheduleUuid);
      if (!schedule) return { refused: `schedule ${scheduleUuid} was deleted` };
      const uuid = uuidV5(scheduleUuid, workflowId);
      const start = new Date(startAt);
      const end = new Date(start.getTime() + schedule.duration_seconds * 1000);
      const context: RequestContext = {
        user: schedule.created_by,
        project: schedule.owner,
        requestId: reservationRequestId(uuid),
      };
      const input: ReservationInput = {
        reservationUuid: uuid,
        startAt: start.toISOString(),
        endAt: end.toISOString(),
        count: schedule.count,
        deploy: schedule.deploy !== null,
        context,
      };
      return inTransaction(pool, async (client) => {
        const existing = await findReservation(client, uuid);
        if (existing) return existing.status === 'refused' ? { refused: existing.last_error ?? 'refused' } : input;
        await lockCapacity(client, schedule.owner, schedule.resource_class);
        const capacity = await checkCapacity(client, { ...schedule, start_at: start, end_at: end });
        const refused =
          capacity.shortfall > 0
            ? `${capacity.shortfall} of ${schedule.count} nodes of class ${schedule.resource_class} are not free in the window`
            : null;
        const reservation = await insertReservation(client, {
          ...schedule,
          uuid,
          start_at: start,
          end_at: end,
          schedule_uuid: scheduleUuid,
          status: refused ? 'refused' : 'pending',
          shortfall: capacity.shortfall,
          last_error: refused,
        });
        await reservationEvent(client, context, {
          verb: refused ? 'refused' : 'create',
          to_state: reservation.status,
          severity: refused ? 'error' : 'info',
          message:
            refused ??
            `opened by schedule ${scheduleUuid} for ${schedule.count} nodes of class ${schedule.resource_class}`,
        });
        return refused ? { refused } : input;
      });
    },
  };
}
