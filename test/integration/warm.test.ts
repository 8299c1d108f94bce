// Zero reboots, part 1: the boot verb keeps a node booted into its agent (pre-booted, with the
// CUSTOM_PREBOOTED trait and events saying so), a cleaning may end pre-booted (per node), a deploy
// from a pre-booted node costs the instance boot only, and an agent is never carried from one
// tenant to the next. Power changes are counted on the lab machine itself, as the BMC sees them.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { SimPowerState } from '../../src/sim/machine.js';
import { startImageServer, writeDiskImage, type ImageServer } from '../../src/sim/images.js';
import { startHarness, type Harness } from '../support/harness.js';
import { ended } from '../support/workflows.js';

const PREBOOTED = 'CUSTOM_PREBOOTED';

describe('pre-booted nodes', () => {
  let h: Harness;
  let images: ImageServer;
  let imageHash: string;

  before(async () => {
    h = await startHarness({ labCount: 3 });
    const file = path.join(path.dirname(h.logFile), 'disk.raw');
    imageHash = await writeDiskImage(file, 32 * 1024 ** 2);
    images = await startImageServer({ 'disk.raw': file });
  });
  after(async () => {
    await images?.close();
    await h?.close();
  });

  const node = async (uuid: string) => (await h.get(`/v1/nodes/${uuid}`)).body;
  const provision = async (uuid: string, body: Record<string, unknown>) => {
    const response = await h.http('PUT', `/v1/nodes/${uuid}/states/provision`, body);
    assert.equal(response.status, 202, JSON.stringify(response.body));
    await ended(h, uuid);
    return node(uuid);
  };
  const history = async (uuid: string) =>
    (await h.get(`/v1/nodes/${uuid}/history?limit=1000`)).body.history as Record<string, any>[];
  const makeAvailable = async (uuid: string) => {
    await provision(uuid, { target: 'manage' });
    const provided = await provision(uuid, { target: 'provide' });
    assert.equal(provided.provision_state, 'available', provided.last_error);
    return provided;
  };
  const setImage = (uuid: string) =>
    h.http('PATCH', `/v1/nodes/${uuid}`, {
      instance_info: {
        image_source: images.url('disk.raw'),
        image_os_hash_algo: 'sha256',
        image_os_hash_value: imageHash,
      },
    });
  /** The machine's power changes (as its BMC applied them) while `action` runs. */
  async function powerChangesDuring(index: number, action: () => Promise<void>): Promise<SimPowerState[]> {
    const changes: SimPowerState[] = [];
    const machine = h.lab!.machines[index].machine;
    const onPower = (state: SimPowerState) => changes.push(state);
    machine.on('power', onPower);
    try {
      await action();
    } finally {
      machine.off('power', onPower);
    }
    return changes;
  }

  it('boot keeps an available node in its agent, marked pre-booted; a deploy from it boots only the instance', async () => {
    const uuid = h.nodeUuids[0];
    await makeAvailable(uuid);
    assert.equal(h.lab!.machines[0].machine.powerState, 'Off', 'without fast-track cleaning ends powered off');

    const booted = await provision(uuid, { target: 'boot' });
    assert.deepEqual(
      [booted.provision_state, booted.target_provision_state, booted.power_state, booted.last_error],
      ['available', null, 'power on', null],
    );
    assert.ok(booted.traits.includes(PREBOOTED), `traits: ${booted.traits}`);
    const agentUrl = booted.driver_internal_info.agent_url;
    assert.equal((await fetch(`${agentUrl}/v1/status`)).status, 200, 'the agent answers');
    const events = (await history(uuid)).map((e) => e.event);
    assert.ok(events.includes('boot ramdisk') && events.includes('prebooted'), events.join(', '));
    assert.equal(events.at(-1), 'boot', 'the boot verb is in the history');

    // The marker is the system's: callers neither add nor remove it, and replacing the traits keeps it.
    const removal = await h.http('DELETE', `/v1/nodes/${uuid}/traits/${PREBOOTED}`);
    assert.deepEqual([removal.status, removal.body.error.field], [400, 'trait']);
    assert.equal((await h.http('PUT', `/v1/nodes/${uuid}/traits`, { traits: ['CUSTOM_GPU'] })).status, 204);
    assert.deepEqual((await node(uuid)).traits.sort(), ['CUSTOM_GPU', PREBOOTED]);
    assert.equal((await h.http('DELETE', `/v1/nodes/${uuid}/traits`)).status, 204);
    assert.deepEqual((await node(uuid)).traits, [PREBOOTED]);
    const patchTraits = (node: string, traits: string[]) =>
      h.http('PATCH', `/v1/nodes/${node}`, [{ op: 'replace', path: '/traits', value: traits }]);
    assert.equal((await patchTraits(uuid, [])).status, 200);
    assert.deepEqual((await node(uuid)).traits, [PREBOOTED], 'a PATCH of the traits keeps the marker');
    const other = h.nodeUuids[2];
    assert.equal((await h.http('PUT', `/v1/nodes/${other}/traits/${PREBOOTED}`)).status, 400);
    assert.equal((await patchTraits(other, [PREBOOTED])).status, 200);
    assert.deepEqual((await node(other)).traits, [], 'a PATCH cannot add the marker');

    // Booting a pre-booted node again keeps the agent it has: no power change.
    const again = await powerChangesDuring(0, async () => void (await provision(uuid, { target: 'boot' })));
    assert.deepEqual(again, []);
    assert.equal((await node(uuid)).driver_internal_info.agent_url, agentUrl);

    await setImage(uuid);
    const changes = await powerChangesDuring(0, async () => {
      const deployed = await provision(uuid, { target: 'active' });
      assert.equal(deployed.provision_state, 'active', deployed.last_error);
      assert.ok(!deployed.traits.includes(PREBOOTED), 'the marker goes with the agent');
    });
    assert.deepEqual(changes, ['Off', 'On'], 'one power cycle: the instance boot');
    const ended_ = (await history(uuid)).find((e) => e.event === 'prebooted ended');
    assert.equal(ended_?.message, 'the machine booted into the instance');
  });

  it('a cleaning ends pre-booted for a node with driver_info.fast_track; the cold deploy then costs 1 power cycle', async () => {
    const uuid = h.nodeUuids[1];
    const patched = await h.http('PATCH', `/v1/nodes/${uuid}`, [
      { op: 'add', path: '/driver_info/fast_track', value: true },
    ]);
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    const provided = await makeAvailable(uuid);
    assert.ok(provided.traits.includes(PREBOOTED), `traits: ${provided.traits}`);
    assert.equal(h.lab!.machines[1].machine.powerState, 'On');

    await setImage(uuid);
    const before = provided.driver_internal_info;
    const changes = await powerChangesDuring(1, async () => {
      const deployed = await provision(uuid, { target: 'active' });
      assert.equal(deployed.provision_state, 'active', deployed.last_error);
      const counted = (key: string) => Number(deployed.driver_internal_info[key] ?? 0) - Number(before[key] ?? 0);
      assert.deepEqual([counted('boots'), counted('instance_boots')], [1, 1], 'one reboot, into the instance');
    });
    assert.deepEqual(changes, ['Off', 'On'], 'one power cycle');
  });

  it("never hands one tenant's agent to the next: a warm node's agent session began after its last cleaning", async () => {
    const uuid = h.nodeUuids[1];
    const deployed = await node(uuid);
    assert.equal(deployed.provision_state, 'active');
    // The agent that wrote the tenant's image is gone with the instance boot.
    assert.equal(deployed.driver_internal_info.agent_session_started_at, undefined);

    const cleaned = await provision(uuid, { target: 'deleted' });
    assert.equal(cleaned.provision_state, 'available', cleaned.last_error);
    assert.ok(cleaned.traits.includes(PREBOOTED), `traits: ${cleaned.traits}`);
    const info = cleaned.driver_internal_info;
    assert.ok(
      Date.parse(info.agent_session_started_at) > Date.parse(info.cleaning_started_at),
      `session ${info.agent_session_started_at} began after cleaning ${info.cleaning_started_at}`,
    );
    // Each cleaning and each deploy boots a ramdisk of its own: nothing of the tenant's agent is left.
    const boots = (await history(uuid)).filter((e) => e.event === 'boot ramdisk' || e.event === 'boot instance');
    assert.deepEqual(
      boots.map((e) => e.event),
      ['boot ramdisk', 'boot instance', 'boot ramdisk'],
    );
  });

  it('refuses boot outside available and for the fake deploy interface, changing nothing', async () => {
    const uuid = h.nodeUuids[2];
    const refused = await h.http('PUT', `/v1/nodes/${uuid}/states/provision`, { target: 'boot' });
    assert.equal(refused.status, 409, JSON.stringify(refused.body));
    assert.match(refused.body.error.message, /enroll/);
    await makeAvailable(uuid);
    await h.http('PATCH', `/v1/nodes/${uuid}`, [{ op: 'replace', path: '/deploy_interface', value: 'fake' }]);
    const fake = await h.http('PUT', `/v1/nodes/${uuid}/states/provision`, { target: 'boot' });
    assert.deepEqual([fake.status, fake.body.error.field], [400, 'target']);
    const after_ = await node(uuid);
    assert.deepEqual([after_.provision_state, after_.target_provision_state], ['available', null]);
  });
});
