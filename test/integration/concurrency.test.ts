// Writes that race or repeat: PATCHes of one node at once, an operation asked for while the last
// one closes, and record activities retried after their first attempt committed (a worker that
// died before reporting it done).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createBmcActivities } from '../../src/activities/bmc.js';
import { createNodeStateActivities } from '../../src/activities/node-state.js';
import { createStepActivities } from '../../src/activities/steps.js';
import type { RequestContext } from '../../src/domain/context.js';
import type { NextState } from '../../src/domain/provision.js';
import type { Step } from '../../src/domain/steps.js';
import { nodeWorkflowId } from '../../src/workflows/contract.js';
import { startHarness, type Harness } from '../support/harness.js';

describe('concurrent and repeated writes', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ labCount: 1 });
  });
  after(() => h?.close());

  it('applies PATCHes of one node made at once, losing none', async () => {
    const uuid = (await h.http('POST', '/v1/nodes', { driver: 'fake' })).body.uuid;
    const keys = Array.from({ length: 20 }, (_, i) => `key${i}`);
    const responses = await Promise.all(
      keys.map((key, i) =>
        i % 2
          ? h.http('PATCH', `/v1/nodes/${uuid}`, [{ op: 'add', path: `/extra/${key}`, value: i }])
          : h.http('PATCH', `/v1/nodes/${uuid}`, { extra: { [key]: i } }),
      ),
    );
    assert.deepEqual(
      responses.map((r) => r.status),
      keys.map(() => 200),
    );
    const { extra } = (await h.get(`/v1/nodes/${uuid}`)).body;
    assert.deepEqual(Object.keys(extra).sort(), [...keys].sort(), 'every PATCH kept its key');
  });

  it('starts an operation asked for while the last one closes after recording its end; refuses it while one runs', async () => {
    const uuid = (await h.http('POST', '/v1/nodes', { driver: 'fake' })).body.uuid;
    // A workflow holding the node's lock that no worker runs: it closes when the test says so.
    // It "records its end" as an operation does: the node changes after it started (dated from
    // Temporal's clock, not PostgreSQL's), with no target shown.
    const holdNodeRecordingItsEnd = async () => {
      const holder = await h.client.workflow.start('holdsTheNode', {
        workflowId: nodeWorkflowId(uuid),
        taskQueue: `nobody-${uuid}`,
      });
      const { startTime } = await holder.describe();
      await h.pool.query('UPDATE nodes SET updated_at = $2 WHERE uuid = $1', [
        uuid,
        new Date(startTime.getTime() + 1000),
      ]);
      return holder;
    };

    // A client that saw that end and asks at once is served once the workflow closes.
    const closing = await holdNodeRecordingItsEnd();
    let answered = false;
    const request = h.http('PUT', `/v1/nodes/${uuid}/states/power`, { target: 'power on' }).finally(() => {
      answered = true;
    });
    await sleep(300);
    assert.equal(answered, false, 'the request waits for the closing operation');
    await closing.terminate('the operation closes');
    const started = await request;
    assert.equal(started.status, 202, JSON.stringify(started.body));
    await h.waitFor(`/v1/nodes/${uuid}`, (n) => n.power_state === 'power on' && !n.target_power_state);

    // One that does not close within the wait still holds the node: 409, naming it.
    const lingering = await holdNodeRecordingItsEnd();
    try {
      const refused = await h.http('PATCH', `/v1/nodes/${uuid}`, { extra: { k: 'v' } });
      assert.equal(refused.status, 409);
      assert.equal(refused.body.error.code, 'node_locked');
      assert.match(refused.body.error.message, /locked by holdsTheNode/);
    } finally {
      await lingering.terminate('test over');
    }
  });

  it('counts a boot and records a step once when the activity is retried', async () => {
    const uuid = (await h.http('POST', '/v1/nodes', { driver: 'fake' })).body.uuid;
    const records = { ...createNodeStateActivities(h.pool), ...createStepActivities(h.pool) };
    const context: RequestContext = { user: 'admin', project: null, requestId: 'req-retried' };
    const attempt = (n: number, activityId = '7') =>
      new MockActivityEnvironment({
        activityId,
        attempt: n,
        workflowExecution: { workflowId: `node/${uuid}`, runId: 'run-1' },
      });
    const step: Step = {
      interface: 'deploy',
      step: 'write_image',
      priority: 80,
      args: {},
      runner: 'agent',
      abortable: false,
      reboot_requested: false,
    };
    for (const n of [1, 2]) {
      await attempt(n).run(() => records.recordBoot(uuid, 'ramdisk', context));
      await attempt(n, '8').run(() =>
        records.recordStep({ nodeUuid: uuid, kind: 'deploy', step, phase: 'start', context }),
      );
    }
    // The same activity id in another run of the node's workflow is another boot.
    const otherRun = new MockActivityEnvironment({
      activityId: '7',
      workflowExecution: { workflowId: `node/${uuid}`, runId: 'run-2' },
    });
    await otherRun.run(() => records.recordBoot(uuid, 'ramdisk', context));
    const node = (await h.get(`/v1/nodes/${uuid}`)).body;
    assert.deepEqual([node.driver_internal_info.boots, node.driver_internal_info.ramdisk_boots], [2, 2]);
    const history = (await h.get(`/v1/nodes/${uuid}/history?limit=100`)).body.history as any[];
    assert.equal(history.filter((e) => e.event === 'boot ramdisk').length, 2);
    assert.equal(history.filter((e) => e.event === 'start deploy step').length, 1);
  });

  it('ends the agent session again when a boot runs again: the agent of the first power cycle keeps no token', async () => {
    const uuid = (await h.http('POST', '/v1/nodes', { driver: 'fake' })).body.uuid;
    const { recordBoot } = createNodeStateActivities(h.pool);
    const context: RequestContext = { user: 'admin', project: null, requestId: 'req-reboot' };
    // The same local activity run twice: its workflow task's completion was lost, so the task ran again.
    const boot = () =>
      new MockActivityEnvironment({
        activityId: '3',
        workflowExecution: { workflowId: `node/${uuid}`, runId: 'run-1' },
      }).run(() => recordBoot(uuid, 'ramdisk', context));
    await boot();
    // Meanwhile the first power cycle's agent looked up and took the node's token.
    await h.pool.query(
      `UPDATE nodes SET driver_internal_info = driver_internal_info || '{"agent_token_hash": "taken"}' WHERE uuid = $1`,
      [uuid],
    );
    await boot();
    const node = (await h.get(`/v1/nodes/${uuid}`)).body;
    assert.equal(node.driver_internal_info.agent_token_hash, undefined, 'the next agent can look up');
    assert.equal(node.driver_internal_info.boots, 1, 'still one boot counted');
  });

  it("takes a boot's power cycle once when its workflow task runs again, keeping the agent that cycle booted", async () => {
    const [uuid] = h.nodeUuids;
    const { machine } = h.lab!.machines[0];
    const { bmcSetPowerState } = createBmcActivities(h.pool);
    const { recordBoot } = createNodeStateActivities(h.pool);
    const context: RequestContext = { user: 'admin', project: null, requestId: 'req-guarded-boot' };
    const changes: string[] = [];
    machine.on('power', (state: string) => changes.push(state));
    const local = (activityId: string) =>
      new MockActivityEnvironment({ activityId, workflowExecution: { workflowId: `node/${uuid}`, runId: 'run-1' } });
    await local('1').run(() => bmcSetPowerState(uuid, 'power on'));
    // The boot's workflow task: its record and its two power calls, as local activities. The server
    // never took the task's completion, so the task runs them again, after the booted agent looked up.
    const bootTask = async () => {
      await local('4').run(() => recordBoot(uuid, 'ramdisk', context, { bootKey: 'run-1/boot-1' }));
      await local('5').run(() => bmcSetPowerState(uuid, 'power off', 'run-1/boot-1'));
      return local('6').run(() => bmcSetPowerState(uuid, 'power on', 'run-1/boot-1'));
    };
    await bootTask();
    await h.pool.query(
      `UPDATE nodes SET driver_internal_info = driver_internal_info || '{"agent_token_hash": "taken"}' WHERE uuid = $1`,
      [uuid],
    );
    assert.equal(await bootTask(), 'power on');
    assert.deepEqual(changes, ['On', 'Off', 'On'], 'one cycle');
    let node = (await h.get(`/v1/nodes/${uuid}`)).body;
    assert.equal(node.driver_internal_info.agent_token_hash, '******', 'the booted agent keeps its session');
    assert.equal(node.driver_internal_info.boots, 1);
    // The operation's next boot is another cycle.
    await local('9').run(() => bmcSetPowerState(uuid, 'power off', 'run-1/boot-2'));
    assert.deepEqual(changes, ['On', 'Off', 'On', 'Off']);
    node = (await h.get(`/v1/nodes/${uuid}`)).body;
    assert.deepEqual(node.driver_internal_info.boot_power_cycle, { boot: 'run-1/boot-2', done: 'power off' });
  });

  it('lets a workflow task whose completion was lost run its transitions again (Temporal restarted under it)', async () => {
    const uuid = (await h.http('POST', '/v1/nodes', { driver: 'fake' })).body.uuid;
    await h.pool.query(`UPDATE nodes SET provision_state = 'available' WHERE uuid = $1`, [uuid]);
    const { transitionProvision } = createNodeStateActivities(h.pool);
    const context: RequestContext = { user: 'admin', project: null, requestId: 'req-replayed' };
    const local = (activityId: string) =>
      new MockActivityEnvironment({ activityId, workflowExecution: { workflowId: `node/${uuid}`, runId: 'run-1' } });
    const deploy = { nodeUuid: uuid, event: 'deploy', from: 'available', context } as const;
    const wait = { nodeUuid: uuid, event: 'wait', from: 'deploying', context } as const;
    // The first workflow task ran both local activities; the server never took its completion, so
    // the next task replays the workflow from its start and runs them again, in the same order.
    for (const pass of ['first', 'replayed']) {
      const deployed = (await local('1').run(transitionProvision, deploy)) as NextState;
      const waiting = (await local('2').run(transitionProvision, wait)) as NextState;
      assert.deepEqual([deployed.provision_state, waiting.provision_state], ['deploying', 'wait call-back'], pass);
    }
    // Another operation on the node (a later run) is held to the node's real state.
    const stale = new MockActivityEnvironment({
      activityId: '1',
      workflowExecution: { workflowId: `node/${uuid}`, runId: 'run-2' },
    });
    await assert.rejects(stale.run(transitionProvision, deploy), /expected "available" for deploy/);
    const history = (await h.get(`/v1/nodes/${uuid}/history?kind=provision&limit=100`)).body.history as any[];
    assert.deepEqual(
      history.filter((e) => e.to_state).map((e) => e.to_state),
      ['deploying', 'wait call-back'],
      'each transition is in the log once',
    );
  });
});
