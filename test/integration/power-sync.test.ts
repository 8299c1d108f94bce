// Power sync on the lab: the Temporal Schedule the API makes, runs of it triggered by hand (the
// period is an hour here), and what an operator sees on the nodes and in their history when a
// machine's power changes behind Tempered's back or its BMC goes silent and comes back.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ensurePowerSyncSchedule } from '../../src/api/power-sync-schedule.js';
import { DEFAULT_POWER_SYNC_SETTINGS, type PowerSyncSettings } from '../../src/domain/power-sync.js';
import type { PowerSyncSummary } from '../../src/workflows/power-sync.js';
import { powerSyncScheduleId } from '../../src/workflows/power-sync-contract.js';
import { startHarness, type Harness } from '../support/harness.js';
import { assertNoSecret, historyText } from '../support/secrets.js';
import { finished, resultWithin } from '../support/workflows.js';

const SETTINGS: PowerSyncSettings = { ...DEFAULT_POWER_SYNC_SETTINGS, periodSeconds: 3600, failureLimit: 2 };

describe('power sync', () => {
  let h: Harness;
  const seenRuns = new Set<string>();
  let lastRunId = '';
  let lastRun = '';

  before(async () => {
    h = await startHarness({ labCount: 4, powerSync: SETTINGS });
    await Promise.all(
      h.nodeUuids.map(async (uuid) => {
        assert.equal((await h.http('PUT', `/v1/nodes/${uuid}/states/provision`, { target: 'manage' })).status, 202);
        await finished(h, uuid);
      }),
    );
  });
  after(async () => {
    await h?.client.schedule
      .getHandle(powerSyncScheduleId(h.config.taskQueue))
      .delete()
      .catch(() => undefined);
    await h?.close();
  });

  const schedule = () => h.client.schedule.getHandle(powerSyncScheduleId(h.config.taskQueue));
  const node = async (i: number) => (await h.get(`/v1/nodes/${h.nodeUuids[i]}`)).body;
  const history = async (i: number, kind?: string) =>
    (await h.get(`/v1/nodes/${h.nodeUuids[i]}/history${kind ? `?kind=${kind}` : ''}`)).body.history as any[];

  /** Fires the Schedule now, as its period would, and answers what the run found. */
  async function syncNow(): Promise<PowerSyncSummary> {
    for (const action of (await schedule().describe()).info.recentActions)
      seenRuns.add(action.action.workflow.firstExecutionRunId);
    await schedule().trigger();
    const deadline = Date.now() + 30_000;
    for (;;) {
      const run = (await schedule().describe()).info.recentActions.find(
        // By run: runs fired within one second share a workflow ID (the Schedule appends the time).
        (action) => !seenRuns.has(action.action.workflow.firstExecutionRunId),
      );
      if (run) {
        const { workflowId, firstExecutionRunId } = run.action.workflow;
        seenRuns.add(firstExecutionRunId);
        [lastRunId, lastRun] = [workflowId, firstExecutionRunId];
        return resultWithin(h.client.workflow.getHandle(workflowId, firstExecutionRunId));
      }
      assert.ok(Date.now() < deadline, 'the triggered run did not start');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  it('is a Temporal Schedule starting powerSyncWorkflow once per period, with the settings as its argument', async () => {
    const description = await schedule().describe();
    assert.deepEqual(
      description.spec.intervals?.map((i) => i.every),
      [3_600_000],
    );
    assert.equal(description.action.type, 'startWorkflow');
    assert.equal(description.action.workflowType, 'powerSyncWorkflow');
    assert.deepEqual(description.action.args, [SETTINGS]);
    assert.equal(description.policies.overlap, 'SKIP');
  });

  it('records a machine powered off behind its back; matching nodes write nothing', async () => {
    const uuid = h.nodeUuids[0];
    assert.equal((await h.http('PUT', `/v1/nodes/${uuid}/states/power`, { target: 'power on' })).status, 202);
    await finished(h, uuid);
    assert.equal((await node(0)).power_state, 'power on');
    const untouched = (await history(1)).length;

    h.lab!.machines[0].machine.reset('ForceOff');
    const summary = await syncNow();
    assert.equal(summary.nodes, 4);
    assert.deepEqual([summary.checked, summary.changed, summary.unchanged, summary.failed], [4, 1, 3, 0]);

    assert.equal((await node(0)).power_state, 'power off');
    const last = (await history(0, 'power')).at(-1);
    assert.deepEqual([last.event, last.from_state, last.to_state], ['sync', 'power on', 'power off']);
    assert.match(last.message, /changed outside Tempered/);
    assert.equal(last.workflow_id, lastRunId, 'the event names the run that found it');
    assert.equal(h.lab!.machines[0].machine.powerState, 'Off', 'recorded, not forced (the default)');
    assert.equal((await history(1)).length, untouched, 'a node whose power matches gets no event');
  });

  it('leaves alone a node in maintenance and a node an operation holds', async () => {
    const [inMaintenance, held] = [h.nodeUuids[1], h.nodeUuids[2]];
    assert.equal((await h.http('PUT', `/v1/nodes/${inMaintenance}/maintenance`, { reason: 'rack work' })).status, 202);
    // An operation nobody runs yet holds the node's lock (its workflow ID) all the same.
    const lock = await h.client.workflow.start('powerWorkflow', {
      workflowId: `node/${held}`,
      taskQueue: `${h.config.taskQueue}-nobody`,
      args: [{ nodeUuid: held, target: 'power on', context: { user: null, project: null, requestId: 'test' } }],
    });
    try {
      h.lab!.machines[1].machine.reset('On');
      h.lab!.machines[2].machine.reset('On');
      const summary = await syncNow();
      assert.equal(summary.nodes, 3, 'maintenance nodes are not synced');
      assert.deepEqual([summary.locked, summary.changed], [1, 0]);
      assert.equal((await node(1)).power_state, 'power off');
      assert.equal((await node(2)).power_state, 'power off');
    } finally {
      await lock.terminate('test over');
      h.lab!.machines[1].machine.reset('ForceOff');
      h.lab!.machines[2].machine.reset('ForceOff');
      await h.http('DELETE', `/v1/nodes/${inMaintenance}/maintenance`);
    }
  });

  it('a silent BMC becomes fault "power failure" with maintenance after N checks, cleared when it answers again', async () => {
    const bmc = h.lab!.machines[3].bmc;
    bmc.setSilent(true);
    try {
      let summary = await syncNow();
      assert.deepEqual([summary.failed, summary.faulted], [1, 0]);
      let n = await node(3);
      assert.deepEqual([n.fault, n.maintenance], [null, false], 'one silence is not yet a fault');

      summary = await syncNow();
      assert.deepEqual([summary.failed, summary.faulted], [0, 1]);
      n = await node(3);
      assert.deepEqual([n.fault, n.maintenance], ['power failure', true]);
      assert.match(n.maintenance_reason, /did not answer 2 checks in a row/);
      const faultEvents = (await history(3)).filter((e) => e.kind === 'fault' || e.kind === 'maintenance');
      assert.deepEqual(
        faultEvents.map((e) => [e.kind, e.event, e.from_state, e.to_state, e.severity]),
        [
          ['fault', 'set', null, 'power failure', 'error'],
          ['maintenance', 'set', 'false', 'true', 'error'],
        ],
      );

      // Still in maintenance for its fault, it is tried on every run.
      summary = await syncNow();
      assert.equal(summary.failed, 1);
    } finally {
      bmc.setSilent(false);
    }
    const summary = await syncNow();
    assert.equal(summary.recovered, 1);
    const n = await node(3);
    assert.deepEqual([n.fault, n.maintenance, n.maintenance_reason], [null, false, null]);
    assert.deepEqual(
      (await history(3))
        .filter((e) => e.kind === 'fault' || e.kind === 'maintenance')
        .slice(-2)
        .map((e) => [e.kind, e.event, e.from_state, e.to_state]),
      [
        ['fault', 'clear', 'power failure', null],
        ['maintenance', 'unset', 'true', 'false'],
      ],
    );

    const runHistory = await h.client.workflow.getHandle(lastRunId, lastRun).fetchHistory();
    assertNoSecret('the power sync run history', historyText(runHistory), [h.credentials.password]);
  });

  it('with force_power_state_during_sync, sets a machine back to its recorded state under the node lock', async () => {
    // What the API does at start when the setting changed: the Schedule is updated in place.
    await ensurePowerSyncSchedule(h.client, h.config.taskQueue, { ...SETTINGS, forcePowerState: true });
    assert.equal((await schedule().describe()).action.args?.[0].forcePowerState, true);

    const { machine } = h.lab!.machines[0];
    assert.equal((await node(0)).power_state, 'power off');
    machine.reset('On');
    const summary = await syncNow();
    assert.deepEqual([summary.changed, summary.restored], [1, 1]);
    assert.equal(machine.powerState, 'Off', 'the machine is off again, as recorded');
    assert.equal((await node(0)).power_state, 'power off');
    const events = (await history(0, 'power')).slice(-2);
    assert.deepEqual(
      events.map((e) => [e.event, e.from_state, e.to_state, e.workflow_id]),
      [
        ['sync', 'power off', 'power on', lastRunId],
        ['power off', 'power on', 'power off', `node/${h.nodeUuids[0]}`],
      ],
    );
  });
});
