// The reservation workflow under Temporal's time-skipping test server, with mocked activities (an
// in-memory fleet): a reservation two days ahead starts and ends on time in seconds of real time;
// cancel before and during; extend and shorten, with refusals answered synchronously; a worker
// restarted between start and end still ends it; a node that fails at start is replaced.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Worker } from '@temporalio/worker';
import type { HeldNode, SlotClaim } from '../../src/activities/reservations.js';
import type { ProvisionState } from '../../src/domain/provision.js';
import type { ReservationStatus } from '../../src/domain/reservations.js';
import {
  cancelReservationUpdate,
  changeReservationEndUpdate,
  reservationStatusQuery,
  type ReservationInput,
} from '../../src/workflows/reservation-contract.js';
import { startTimeSkipping } from '../support/time-skipping.js';
import { resultWithin } from '../support/workflows.js';

const HOUR = 3600_000;
const DAY = 24 * HOUR;

/** What the mocked activities did, at which (skipped) time. */
interface Happening {
  at: number;
  what: string;
  node?: string;
  detail?: string;
}

/** An in-memory fleet: nodes by name, their state, and the deploys that fail. */
class Fleet {
  log: Happening[] = [];
  states = new Map<string, ProvisionState>();
  taken = new Set<string>();
  failing = new Set<string>();

  constructor(
    private readonly env: TestWorkflowEnvironment,
    names: string[],
  ) {
    for (const name of names) this.states.set(name, 'available');
  }

  private async record(what: string, node?: string, detail?: string) {
    this.log.push({ at: await this.env.currentTimeMs(), what, node, detail });
  }

  times(what: string): number[] {
    return this.log.filter((h) => h.what === what).map((h) => h.at);
  }

  nodes(what: string): string[] {
    return this.log.filter((h) => h.what === what).map((h) => h.node!);
  }

  activities() {
    return {
      claimReservationNode: async (claim: SlotClaim): Promise<HeldNode | null> => {
        const free = [...this.states].find(([name, state]) => state === 'available' && !this.taken.has(name));
        if (!free) return null;
        this.taken.add(free[0]);
        await this.record('claim', free[0], `${claim.slot}/${claim.attempt}`);
        return { nodeUuid: free[0], allocationUuid: `${claim.reservationUuid}/${claim.slot}/${claim.attempt}` };
      },
      prepareReservedDeploy: async (_reservation: string, node: string) => this.record('prepare', node),
      reservedNodeState: async (node: string) => {
        const state = this.states.get(node)!;
        return { provisionState: state, undeploy: state === 'active' || state === 'deploy failed' };
      },
      releaseReservationNode: async (_reservation: string, held: HeldNode, reason: string) => {
        this.taken.delete(held.nodeUuid);
        await this.record('release', held.nodeUuid, reason);
      },
      recordReservationStatus: async (
        _reservation: string,
        status: ReservationStatus,
        detail: { shortfall?: number; message: string },
      ) => {
        await this.record(
          `status ${status}`,
          undefined,
          detail.shortfall === undefined ? detail.message : `shortfall ${detail.shortfall}`,
        );
      },
      openScheduledReservation: async () => ({ refused: 'not in these tests' }),
      fakeProvision: async (node: string, verb: string): Promise<ProvisionState> => {
        await this.record(verb, node);
        const state: ProvisionState =
          verb === 'deploy' ? (this.failing.has(node) ? 'deploy failed' : 'active') : 'available';
        this.states.set(node, state);
        return state;
      },
    };
  }
}

describe('reservation workflow (time-skipping)', () => {
  let testEnv: TestWorkflowEnvironment;
  let code: string;

  before(async () => {
    testEnv = await startTimeSkipping();
    ({ code } = await bundleWorkflowCode({
      workflowsPath: fileURLToPath(new URL('../support/reservation-test-workflows.ts', import.meta.url)),
      logger: new DefaultLogger('WARN'),
    }));
  });
  after(async () => testEnv?.teardown());

  /** `cached: false` keeps no workflow in the worker between tasks (so none is sticky to a worker that is gone). */
  function worker(fleet: Fleet, taskQueue: string, cached = true): Promise<Worker> {
    return Worker.create({
      connection: testEnv.nativeConnection,
      taskQueue,
      activities: fleet.activities(),
      workflowBundle: { code },
      ...(!cached && { maxCachedWorkflows: 0 }),
    });
  }

  /** A reservation starting `startIn` from the server's now and lasting `length`. */
  async function reserve(taskQueue: string, startIn: number, length: number, fields: Partial<ReservationInput> = {}) {
    const now = await testEnv.currentTimeMs();
    const reservationUuid = randomUUID();
    const input: ReservationInput = {
      reservationUuid,
      startAt: new Date(now + startIn).toISOString(),
      endAt: new Date(now + startIn + length).toISOString(),
      count: 2,
      deploy: false,
      context: { user: 'alice', project: 'acme', requestId: `reservation-${reservationUuid}` },
      ...fields,
    };
    const handle = await testEnv.client.workflow.start('reservationWorkflow', {
      workflowId: `reservation/${reservationUuid}`,
      taskQueue,
      args: [input],
    });
    return { handle: handle as WorkflowHandle, start: Date.parse(input.startAt), end: Date.parse(input.endAt) };
  }

  async function refusal(promise: Promise<unknown>): Promise<string> {
    const err = await promise.then(
      () => assert.fail('the update was accepted'),
      (e) => e,
    );
    assert.ok(err instanceof WorkflowUpdateFailedError, String(err));
    return err.cause?.message ?? '';
  }

  const queue = () => `reservations-${randomBytes(4).toString('hex')}`;

  it('starts and ends a reservation two days ahead on time, in seconds of real time', async (t) => {
    const fleet = new Fleet(testEnv, ['n0', 'n1', 'n2']);
    const taskQueue = queue();
    const started = performance.now();
    const w = await worker(fleet, taskQueue);
    await w.runUntil(async () => {
      const { handle, start, end } = await reserve(taskQueue, 2 * DAY, 3 * HOUR);
      assert.equal(await resultWithin(handle), 'ended');
      assert.deepEqual(fleet.nodes('claim').sort(), ['n0', 'n1']);
      for (const at of fleet.times('claim'))
        assert.ok(at >= start && at < start + HOUR, `claimed at the start (${new Date(at).toISOString()})`);
      for (const at of fleet.times('release'))
        assert.ok(at >= end && at < end + HOUR, `released at the end (${new Date(at).toISOString()})`);
      assert.deepEqual(
        fleet.log.map((h) => h.what),
        ['status active', 'claim', 'claim', 'release', 'release', 'status ended'],
      );
    });
    t.diagnostic(
      `two days and three hours of reservation took ${Math.round(performance.now() - started)} ms of real time`,
    );
  });

  it('cancels before the start: nothing is claimed', async () => {
    const fleet = new Fleet(testEnv, ['n0', 'n1']);
    const taskQueue = queue();
    const w = await worker(fleet, taskQueue);
    await w.runUntil(async () => {
      const { handle } = await reserve(taskQueue, DAY, HOUR);
      await handle.executeUpdate(cancelReservationUpdate, { args: [{ user: 'bob' }] });
      assert.equal(await resultWithin(handle), 'cancelled');
      assert.deepEqual(
        fleet.log.map((h) => h.what),
        ['status cancelled'],
      );
    });
  });

  it('cancels during the reservation: the nodes are given back at once', async () => {
    const fleet = new Fleet(testEnv, ['n0', 'n1']);
    const taskQueue = queue();
    const w = await worker(fleet, taskQueue);
    await w.runUntil(async () => {
      const { handle, start, end } = await reserve(taskQueue, HOUR, DAY);
      await testEnv.sleep(2 * HOUR);
      assert.equal((await handle.query(reservationStatusQuery)).phase, 'active');
      await handle.executeUpdate(cancelReservationUpdate, { args: [{ user: 'bob' }] });
      assert.equal(await resultWithin(handle), 'cancelled');
      assert.deepEqual(fleet.nodes('release').sort(), ['n0', 'n1']);
      for (const at of fleet.times('release')) assert.ok(at > start && at < end, 'released before the planned end');
      assert.equal(fleet.log.at(-1)!.what, 'status cancelled');
    });
  });

  it('extends and shortens, and refuses an end before the start or in the past with the reason', async () => {
    const fleet = new Fleet(testEnv, ['n0', 'n1']);
    const taskQueue = queue();
    const w = await worker(fleet, taskQueue);
    await w.runUntil(async () => {
      const { handle, start, end } = await reserve(taskQueue, HOUR, 4 * HOUR);
      const moveEnd = (at: number) =>
        handle.executeUpdate(changeReservationEndUpdate, { args: [{ endAt: new Date(at).toISOString() }] });
      assert.equal(await refusal(moveEnd(start - HOUR)), 'end_at must be after start_at');
      await moveEnd(end + 5 * HOUR); // extend: ends 10 h from now
      await testEnv.sleep(6 * HOUR); // past the first end
      assert.equal((await handle.query(reservationStatusQuery)).phase, 'active');
      assert.deepEqual(fleet.times('release'), []);
      assert.equal(await refusal(moveEnd(start + 2 * HOUR)), 'end_at must be in the future');
      await moveEnd(end + 2 * HOUR); // shorten: ends 7 h from the start of the test
      assert.equal(await resultWithin(handle), 'ended');
      for (const at of fleet.times('claim'))
        assert.ok(at >= start, 'moving the end before the start does not start it early');
      for (const at of fleet.times('release'))
        assert.ok(
          at >= end + 2 * HOUR && at < end + 3 * HOUR,
          `released at the new end (${new Date(at).toISOString()})`,
        );
    });
  });

  it('ends the reservation when the worker was restarted between start and end', async () => {
    const fleet = new Fleet(testEnv, ['n0', 'n1']);
    const taskQueue = queue();
    let reservation!: Awaited<ReturnType<typeof reserve>>;
    const first = await worker(fleet, taskQueue, false);
    await first.runUntil(async () => {
      reservation = await reserve(taskQueue, HOUR, DAY);
      await testEnv.sleep(2 * HOUR);
      assert.equal((await reservation.handle.query(reservationStatusQuery)).phase, 'active');
    });
    assert.deepEqual(fleet.nodes('claim').sort(), ['n0', 'n1']);
    const second = await worker(fleet, taskQueue, false);
    await second.runUntil(async () => assert.equal(await resultWithin(reservation.handle), 'ended'));
    assert.deepEqual(fleet.nodes('release').sort(), ['n0', 'n1']);
    for (const at of fleet.times('release')) assert.ok(at >= reservation.end);
  });

  it('replaces a node that fails at start, and records the shortfall when no node is left', async () => {
    const fleet = new Fleet(testEnv, ['n0', 'n1', 'n2']);
    fleet.failing.add('n1');
    const taskQueue = queue();
    const w = await worker(fleet, taskQueue);
    await w.runUntil(async () => {
      const { handle } = await reserve(taskQueue, HOUR, DAY, { deploy: true });
      await testEnv.sleep(2 * HOUR);
      const status = await handle.query(reservationStatusQuery);
      assert.deepEqual([status.nodes.sort(), status.shortfall], [['n0', 'n2'], 0]);
      assert.deepEqual(fleet.nodes('deploy').sort(), ['n0', 'n1', 'n2']);
      assert.match(
        fleet.log.find((h) => h.what === 'release')!.detail!,
        /slot 1: the node failed at start \(the deploy ended in deploy failed\)/,
      );
      assert.equal(await resultWithin(handle), 'ended');
      // At the end, the deployed nodes are undeployed before they are given back.
      assert.deepEqual(fleet.nodes('undeploy').sort(), ['n0', 'n2']);
    });

    const short = new Fleet(testEnv, ['m0', 'm1']);
    short.failing.add('m0');
    const shortQueue = queue();
    const w2 = await worker(short, shortQueue);
    await w2.runUntil(async () => {
      const { handle } = await reserve(shortQueue, HOUR, HOUR, { deploy: true });
      assert.equal(await resultWithin(handle), 'ended');
      assert.ok(
        short.log.some((h) => h.what === 'status active' && h.detail === 'shortfall 1'),
        JSON.stringify(short.log),
      );
    });
  });
});
