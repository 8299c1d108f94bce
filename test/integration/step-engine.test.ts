// The step engine under Temporal's time-skipping test server: RerunAfter sleeps durably (three
// one-minute waits pass in no real time), RunNext inserts its steps right after the step, and
// every step's start and end is in the event log in order.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { createActivities } from '../../src/activities/index.js';
import { listEvents } from '../../src/db/events.js';
import { findNode, insertNode } from '../../src/db/nodes.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { provisionWorkflow } from '../../src/workflows/provision.js';
import { createTestDatabase } from '../support/harness.js';
import { startTimeSkippingWorker, type TimeSkippingWorker } from '../support/time-skipping.js';
import { resultWithin } from '../support/workflows.js';

describe('step engine (time-skipping)', () => {
  let temporal: TimeSkippingWorker;
  let pool: Pool;

  before(async () => {
    pool = createPool(await createTestDatabase(`steps_${randomBytes(4).toString('hex')}`, pino({ level: 'warn' })), {
      max: 5,
    });
    temporal = await startTimeSkippingWorker(createActivities(pool), 'steps');
  });

  after(async () => {
    await temporal?.stop();
    await pool?.end();
  });

  /** A manual clean of a fake node with these steps and no ramdisk. */
  const startClean = (
    nodeUuid: string,
    cleanSteps: { interface: string; step: string; args: Record<string, unknown> }[],
  ) =>
    temporal.testEnv.client.workflow.start(provisionWorkflow, {
      workflowId: `node/${nodeUuid}`,
      taskQueue: temporal.taskQueue,
      args: [
        {
          nodeUuid,
          verb: 'clean',
          fromState: 'manageable',
          context: { user: 'tester', project: null, requestId: `req-steps-${nodeUuid}` },
          disableRamdisk: true,
          cleanSteps,
        },
      ],
    });

  it('reruns a step after durable sleeps and runs the steps another asks for next, in order', async (t) => {
    const nodeUuid = randomUUID();
    await insertNode(pool, { uuid: nodeUuid, name: 'stepper', driver: 'fake', provision_state: 'manageable' });
    const started = performance.now();
    const handle = await startClean(nodeUuid, [
      { interface: 'test', step: 'wait_three_times', args: { seconds: 60 } },
      { interface: 'test', step: 'spawn_two', args: {} },
    ]);
    assert.equal(await resultWithin(handle), 'manageable');
    t.diagnostic(`three 60 s reruns took ${Math.round(performance.now() - started)} ms of real time`);

    const description = await handle.describe();
    const workflowSeconds = (description.closeTime!.getTime() - description.startTime.getTime()) / 1000;
    assert.ok(workflowSeconds >= 180, `the workflow slept its three reruns (${workflowSeconds} s of workflow time)`);

    const events = await listEvents(pool, { node_uuid: nodeUuid, kind: 'provision' }, { limit: 100 });
    assert.deepEqual(
      events.filter((e) => e.verb?.endsWith(' clean step')).map((e) => `${e.verb} ${e.message}`),
      [
        'start clean step test.wait_three_times',
        'finish clean step test.wait_three_times',
        'start clean step test.spawn_two',
        'finish clean step test.spawn_two',
        'start clean step test.first_spawned',
        'finish clean step test.first_spawned',
        'start clean step test.second_spawned',
        'finish clean step test.second_spawned',
      ],
    );
    // While it waited the node showed "clean wait", where an abort is allowed.
    const states = events.filter((e) => e.to_state).map((e) => e.to_state);
    assert.deepEqual(states.filter((s) => s === 'clean wait').length, 3);
    const node = (await findNode(pool, nodeUuid))!;
    assert.deepEqual([node.provision_state, node.clean_step, node.last_error], ['manageable', null, null]);
  });

  it('fails the clean with the message of a step that reports failure, running nothing after it', async () => {
    const nodeUuid = randomUUID();
    await insertNode(pool, { uuid: nodeUuid, name: 'failing-stepper', driver: 'fake', provision_state: 'manageable' });
    const handle = await startClean(nodeUuid, [
      { interface: 'test', step: 'report_failure', args: { message: 'firmware task ended in Exception' } },
      { interface: 'test', step: 'first_spawned', args: {} },
    ]);
    await resultWithin(handle).catch(() => undefined);
    const node = (await findNode(pool, nodeUuid))!;
    assert.equal(node.provision_state, 'clean failed');
    assert.match(node.last_error ?? '', /clean step test\.report_failure failed: firmware task ended in Exception/);
    const events = await listEvents(pool, { node_uuid: nodeUuid, kind: 'provision' }, { limit: 100 });
    assert.ok(!events.some((e) => e.message === 'test.first_spawned'), 'no step ran after the failed one');
  });
});
