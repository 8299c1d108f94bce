import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { startHarness, type Harness } from '../support/harness.js';
import { resultWithin } from '../support/workflows.js';

describe('a worker killed with -9 mid-operation', () => {
  let h: Harness;
  before(async () => {
    // No worker in this process: the workers are child processes the test can kill.
    h = await startHarness({ labCount: 1, powerDelayMs: 4000, inProcessWorker: false });
  });
  after(() => h?.close());

  it('leaves the operation to a new worker, which finishes the slow power transition', async () => {
    const uuid = h.nodeUuids[0];
    const machine = h.lab!.machines[0].machine;
    const first = h.spawnWorker();

    assert.equal((await h.http('PUT', `/v1/nodes/${uuid}/states/power`, { target: 'power on' })).status, 202);
    // The reset reached the BMC and the workflow awaits the slow transition (an activity reading the BMC).
    await h.waitFor(`/v1/nodes/${uuid}`, (n) => n.target_power_state === 'power on');
    const handle = h.client.workflow.getHandle(`node/${uuid}`);
    const awaiting = async () =>
      ((await handle.fetchHistory()).events ?? []).some(
        (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'bmcAwaitPowerState',
      );
    for (let i = 0; !(await awaiting()); i++) {
      assert.ok(i < 200, 'the workflow awaits the power transition');
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(machine.powerState, 'Off', 'the transition is still in progress');

    first.kill('SIGKILL');
    await once(first, 'exit');
    assert.equal((await handle.describe()).status.name, 'RUNNING');

    h.spawnWorker();
    const node = await h.waitFor(
      `/v1/nodes/${uuid}`,
      (n) => n.power_state === 'power on' && n.target_power_state === null,
      90_000,
    );
    assert.equal(node.last_error, null);
    assert.equal(machine.powerState, 'On');
    assert.equal(await resultWithin(handle), 'power on');
    const events = await h.get(`/v1/nodes/${uuid}/history?kind=power`);
    assert.equal(events.body.history.length, 1, 'one power change recorded, not two');
  });
});
