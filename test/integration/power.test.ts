import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startHarness, type Harness } from '../support/harness.js';
import { CurrentStep, Operation } from '../../src/workflows/contract.js';
import { ended, finished } from '../support/workflows.js';

describe('power through the API', () => {
  let h: Harness;
  before(async () => {
    // 1.5 s per power change: a change still holds its node when the test's next request comes.
    h = await startHarness({ labCount: 3, powerDelayMs: 1500 });
  });
  after(() => h?.close());

  /** Asks for a power change and waits for its operation to end, as the Temporal UI shows it. */
  async function power(uuid: string, target: string) {
    const response = await h.http('PUT', `/v1/nodes/${uuid}/states/power`, { target });
    assert.equal(response.status, 202);
    await finished(h, uuid);
    return (await h.get(`/v1/nodes/${uuid}`)).body;
  }

  it('powers on, off and reboots the emulated BMC; every change is in the history with its workflow id', async () => {
    const uuid = h.nodeUuids[0];
    const machine = h.lab!.machines[0].machine;

    let node = await power(uuid, 'power on');
    assert.deepEqual([node.power_state, node.target_power_state, machine.powerState], ['power on', null, 'On']);
    node = await power(uuid, 'power off');
    assert.deepEqual([node.power_state, node.target_power_state, machine.powerState], ['power off', null, 'Off']);
    await power(uuid, 'power on');

    const seen: string[] = [];
    machine.on('power', (state) => seen.push(state));
    node = await power(uuid, 'rebooting');
    assert.deepEqual(seen, ['Off', 'On'], 'the machine went off and on again');
    assert.deepEqual([node.power_state, node.target_power_state, machine.powerState], ['power on', null, 'On']);

    const { body } = await h.get(`/v1/nodes/${uuid}/history?kind=power`);
    assert.deepEqual(
      body.history.map((e: any) => [e.event, e.from_state, e.to_state]),
      [
        ['power on', null, 'power on'], // never verified: the state was unknown
        ['power off', 'power on', 'power off'],
        ['power on', 'power off', 'power on'],
        ['rebooting', 'power on', 'power on'],
      ],
    );
    for (const event of body.history) {
      assert.equal(event.workflow_id, `node/${uuid}`);
      assert.match(event.request_id, /^req-/);
    }
    // The workflow the event names is the one Temporal ran.
    const description = await h.client.workflow.getHandle(`node/${uuid}`).describe();
    assert.equal(description.type, 'powerWorkflow');
    assert.equal(description.taskQueue, h.config.taskQueue);
  });

  it('answers 409 to a second operation while the first holds the node, and names it', async () => {
    const uuid = h.nodeUuids[1];
    const [first, second] = await Promise.all([
      h.http('PUT', `/v1/nodes/${uuid}/states/power`, { target: 'power on' }),
      h.http('PUT', `/v1/nodes/${uuid}/states/power`, { target: 'power on' }),
    ]);
    assert.deepEqual([first.status, second.status].sort(), [202, 409]);
    const conflict = first.status === 409 ? first : second;
    assert.equal(conflict.body.error.code, 'node_locked');
    assert.match(conflict.body.error.message, /locked by power:power on/);

    // A provision verb is refused the same way while the power operation runs.
    const verb = await h.http('PUT', `/v1/nodes/${uuid}/states/provision`, { target: 'manage' });
    assert.equal(verb.status, 409);
    assert.match(verb.body.error.message, /locked by power:power on/);

    // While the machine gets there, the node shows the target, and the Temporal UI the operation and its phase.
    let shown = false;
    for (let tries = 0; !shown && tries < 100; tries++) {
      shown = (await h.get(`/v1/nodes/${uuid}`)).body.target_power_state === 'power on';
      if (!shown) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.ok(shown, 'target_power_state "power on" was shown while the change ran');
    const attributes = (await h.client.workflow.getHandle(`node/${uuid}`).describe()).typedSearchAttributes;
    assert.deepEqual(
      [attributes.get(Operation), attributes.get(CurrentStep)],
      ['power:power on', 'power on: ask the BMC and wait until the machine is there'],
    );
    await finished(h, uuid);
    assert.equal((await h.get(`/v1/nodes/${uuid}`)).body.power_state, 'power on');
    assert.equal((await h.http('PUT', `/v1/nodes/${uuid}/states/provision`, { target: 'manage' })).status, 202);
    await finished(h, uuid);
  });

  it('records a readable last_error when the BMC rejects a power change', async () => {
    // Its own node, verified and powered on here, so the test needs no other's state.
    const uuid = h.nodeUuids[2];
    assert.equal((await h.http('PUT', `/v1/nodes/${uuid}/states/provision`, { target: 'manage' })).status, 202);
    await finished(h, uuid);
    assert.equal((await h.http('PUT', `/v1/nodes/${uuid}/states/power`, { target: 'power on' })).status, 202);
    await finished(h, uuid);
    await h.http('PATCH', `/v1/nodes/${uuid}`, { driver_info: { redfish_password: 'wrong-one' } });
    assert.equal((await h.http('PUT', `/v1/nodes/${uuid}/states/power`, { target: 'power off' })).status, 202);
    await ended(h, uuid);
    const node = (await h.get(`/v1/nodes/${uuid}`)).body;
    assert.match(node.last_error, /rejected the credentials/);
    assert.equal(node.power_state, 'power on');
  });
});
