// One workflow per reservation; its durable timers are the scheduler. It sleeps until the start,
// claims a node per slot (deploying it when the reservation has a deploy spec, and replacing a node
// that fails), sleeps until the end, then undeploys the nodes and gives them back. Cancel and a new
// end arrive as updates whose validators refuse, synchronously, what the phase does not allow.
import { WorkflowExecutionAlreadyStartedError, type SearchAttributePair } from '@temporalio/common';
import {
  ApplicationFailure,
  condition,
  executeChild,
  log,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import { cancelProblem, endChangeProblem, type ReservationPhase } from '../domain/reservations.js';
import type { HeldNode } from '../activities/reservations.js';
import type { ProvisionState, Verb } from '../domain/provision.js';
import { records } from './activities.js';
import { Lessee, nodeWorkflowId, NodeUuid, Operation, ReservationId, type ProvisionInput } from './contract.js';
import { failureMessage } from './failures.js';
import {
  cancelReservationUpdate,
  changeReservationEndUpdate,
  reservationStatusQuery,
  reservationWorkflowId,
  type ReservationInput,
  type ScheduledReservationInput,
} from './reservation-contract.js';

/** Replacements tried per slot when its node fails at start. */
const MAX_ATTEMPTS_PER_SLOT = 3;
/** While another operation holds a node at the end, try its undeploy again this often, this many times. */
const LOCKED_RETRY = { every: '1 minute', times: 30 } as const;

class NodeLocked extends Error {}

class Reservation {
  phase: ReservationPhase = 'pending';
  endAt: number;
  held: HeldNode[] = [];
  shortfall = 0;
  cancelled = false;
  /** Bumped by each accepted new end, so a sleep until the old end wakes up. */
  endChanges = 0;

  constructor(readonly input: ReservationInput) {
    this.endAt = Date.parse(input.endAt);
  }

  get uuid() {
    return this.input.reservationUuid;
  }

  async run(): Promise<'ended' | 'cancelled'> {
    const start = Date.parse(this.input.startAt);
    await this.sleepUntil(() => start);
    if (this.cancelled) return this.finish('cancelled', 'cancelled before it started');

    this.phase = 'starting';
    await records.recordReservationStatus(
      this.uuid,
      'active',
      { message: `started: claiming ${this.input.count} nodes` },
      this.input.context,
    );
    // Slots fill side by side: each claim is atomic, and deploys of different nodes do not wait on each other.
    await Promise.all(Array.from({ length: this.input.count }, (_, slot) => this.fillSlot(slot)));
    if (this.shortfall > 0) {
      const message = `${this.shortfall} of ${this.input.count} nodes could not be provided at start`;
      await records.recordReservationStatus(
        this.uuid,
        'active',
        { shortfall: this.shortfall, message, error: true },
        this.input.context,
      );
    }

    this.phase = 'active';
    await this.sleepUntil(() => this.endAt);
    this.phase = 'ending';
    await Promise.all(this.held.map((held) => this.giveBack(held)));
    this.held = [];
    return this.cancelled
      ? this.finish('cancelled', 'cancelled; its nodes are given back')
      : this.finish('ended', 'ended; its nodes are given back');
  }

  /** Durable timers until `at()`, read again whenever the end moves; a cancel cuts them short. */
  async sleepUntil(at: () => number): Promise<void> {
    while (!this.cancelled && at() > Date.now()) {
      const changes = this.endChanges;
      await condition(() => this.cancelled || this.endChanges !== changes, at() - Date.now());
    }
  }

  async finish(status: 'ended' | 'cancelled', message: string): Promise<'ended' | 'cancelled'> {
    await records.recordReservationStatus(this.uuid, status, { message }, this.input.context);
    this.phase = 'ended';
    return status;
  }

  /** A node for the slot: claimed, deployed when asked; a node that fails is given back and another tried. */
  async fillSlot(slot: number): Promise<void> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS_PER_SLOT && !this.cancelled; attempt++) {
      const held = await records.claimReservationNode({
        reservationUuid: this.uuid,
        slot,
        attempt,
        context: this.input.context,
      });
      if (!held) break;
      const failure = this.input.deploy ? await this.deploy(held) : undefined;
      if (!failure) {
        this.held.push(held);
        return;
      }
      log.warn('a reserved node failed at start; trying another', { node: held.nodeUuid, failure });
      await records.releaseReservationNode(
        this.uuid,
        held,
        `slot ${slot}: the node failed at start (${failure}); trying another`,
        this.input.context,
      );
    }
    this.shortfall++;
  }

  /** Deploys the reservation's spec on the node; answers why it failed, or undefined. */
  async deploy(held: HeldNode): Promise<string | undefined> {
    try {
      await records.prepareReservedDeploy(this.uuid, held.nodeUuid);
      const state = await this.provision(held.nodeUuid, 'deploy', 'available');
      return state === 'active' ? undefined : `the deploy ended in ${state}`;
    } catch (err) {
      return failureMessage(err);
    }
  }

  /** Tears the node's instance down when it has one, then clears its lease and allocation. */
  async giveBack(held: HeldNode): Promise<void> {
    let outcome = 'the reservation ended';
    try {
      for (let tries = 1; ; tries++) {
        const { provisionState, undeploy } = await records.reservedNodeState(held.nodeUuid);
        if (!undeploy || !provisionState) break;
        try {
          const state = await this.provision(held.nodeUuid, 'undeploy', provisionState);
          outcome = `the reservation ended; the node was undeployed and is ${state}`;
          break;
        } catch (err) {
          if (!(err instanceof NodeLocked) || tries >= LOCKED_RETRY.times) throw err;
          await sleep(LOCKED_RETRY.every);
        }
      }
    } catch (err) {
      outcome = `the reservation ended, but undeploying the node failed: ${failureMessage(err)}`;
    }
    await records.releaseReservationNode(this.uuid, held, outcome, this.input.context);
  }

  /** Runs a provision verb as a child holding the node's lock (node/<uuid>), as the API would. */
  async provision(nodeUuid: string, verb: Verb, fromState: ProvisionState): Promise<ProvisionState> {
    const input: ProvisionInput = { nodeUuid, verb, fromState, context: this.input.context };
    // Search attributes only where the server knows them (the reservation's own are set by the API).
    const registered = workflowInfo().typedSearchAttributes.get(ReservationId) !== undefined;
    const searchAttributes: SearchAttributePair[] = [
      { key: NodeUuid, value: nodeUuid },
      { key: Operation, value: verb },
    ];
    try {
      return await executeChild<(input: ProvisionInput) => Promise<ProvisionState>>('provisionWorkflow', {
        workflowId: nodeWorkflowId(nodeUuid),
        args: [input],
        ...(registered && { typedSearchAttributes: searchAttributes }),
      });
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError)
        throw new NodeLocked(`node ${nodeUuid} is locked by another operation`);
      throw err;
    }
  }
}

export async function reservationWorkflow(input: ReservationInput): Promise<'ended' | 'cancelled'> {
  const reservation = new Reservation(input);
  setHandler(
    cancelReservationUpdate,
    ({ user }) => {
      log.info('reservation cancelled', { user });
      reservation.cancelled = true;
    },
    {
      validator: (_request) => {
        const problem = cancelProblem(reservation.phase, reservation.cancelled);
        if (problem) throw ApplicationFailure.nonRetryable(problem, 'ReservationChangeRefused');
      },
    },
  );
  setHandler(
    changeReservationEndUpdate,
    ({ endAt }) => {
      reservation.endAt = Date.parse(endAt);
      reservation.endChanges++;
    },
    {
      validator: ({ endAt }) => {
        const problem = endChangeProblem(reservation.phase, Date.parse(input.startAt), Date.parse(endAt), Date.now());
        if (problem) throw ApplicationFailure.nonRetryable(problem, 'ReservationChangeRefused');
      },
    },
  );
  setHandler(reservationStatusQuery, () => ({
    phase: reservation.phase,
    endAt: new Date(reservation.endAt).toISOString(),
    nodes: reservation.held.map((h) => h.nodeUuid),
    shortfall: reservation.shortfall,
    cancelled: reservation.cancelled,
  }));
  return reservation.run();
}

/**
 * What a recurring reservation's Temporal Schedule starts: it opens a reservation for this firing
 * (checked against capacity) and runs it as a child, reservation/<uuid>, like any other.
 */
export async function scheduledReservationWorkflow({ scheduleUuid }: ScheduledReservationInput): Promise<string> {
  const info = workflowInfo();
  const opened = await records.openScheduledReservation(scheduleUuid, info.workflowId, info.runStartTime.toISOString());
  if ('refused' in opened) return `refused: ${opened.refused}`;
  const registered = info.typedSearchAttributes.get(Lessee) !== undefined;
  const inherited = info.typedSearchAttributes.updateCopy([{ key: ReservationId, value: opened.reservationUuid }]);
  const outcome = await executeChild(reservationWorkflow, {
    workflowId: reservationWorkflowId(opened.reservationUuid),
    args: [opened],
    ...(registered && { typedSearchAttributes: inherited }),
  });
  return `${opened.reservationUuid} ${outcome}`;
}
