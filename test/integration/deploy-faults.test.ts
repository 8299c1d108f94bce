// What an operator must be able to read and rely on when provisioning goes wrong, and the
// fast-track path when it goes right.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { planQuery } from '../../src/workflows/signals.js';
import { startImageServer, writeDiskImage, type ImageServer } from '../../src/sim/images.js';
import { startHarness, type Harness } from '../support/harness.js';
import { ended } from '../support/workflows.js';

const MiB = 1024 ** 2;

const provision = async (h: Harness, uuid: string, body: Record<string, unknown>) => {
  const response = await h.http('PUT', `/v1/nodes/${uuid}/states/provision`, body);
  assert.equal(response.status, 202, JSON.stringify(response.body));
  await ended(h, uuid);
  return (await h.get(`/v1/nodes/${uuid}`)).body;
};

describe('a ramdisk that never heartbeats', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ labCount: 2, powerDelayMs: 100, labAgents: false, agentBootTimeoutSeconds: 3 });
  });
  after(() => h?.close());

  it('fails cleaning and deploying with a clear last_error, and powers the machine off', async () => {
    const [cleaning, deploying] = h.nodeUuids;
    await provision(h, cleaning, { target: 'manage' });
    const cleanFailed = await provision(h, cleaning, { target: 'provide' });
    assert.equal(cleanFailed.provision_state, 'clean failed');
    assert.match(cleanFailed.last_error, /did not heartbeat within 3 s/);
    assert.equal(h.lab!.machines[0].machine.powerState, 'Off');

    // As if it had been cleaned by an earlier ramdisk that worked.
    await h.pool.query(`UPDATE nodes SET provision_state = 'available' WHERE uuid = $1`, [deploying]);
    await h.http('PATCH', `/v1/nodes/${deploying}`, {
      instance_info: {
        image_source: 'http://127.0.0.1:9/x.raw',
        image_os_hash_algo: 'sha256',
        image_os_hash_value: 'ab'.repeat(32),
      },
    });
    const deployFailed = await provision(h, deploying, { target: 'active' });
    assert.equal(deployFailed.provision_state, 'deploy failed');
    assert.match(deployFailed.last_error, /agent did not heartbeat/);
    assert.equal(deployFailed.power_state, 'power off');
    assert.equal(h.lab!.machines[1].machine.powerState, 'Off');
  });
});

describe('abort and the plan query', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h?.close());

  it('shows the plan while a manual clean waits, and aborts an abortable step', async () => {
    const node = (await h.http('POST', '/v1/nodes', { driver: 'fake', name: `abortable-${randomUUID().slice(0, 8)}` }))
      .body;
    await provision(h, node.uuid, { target: 'manage' });
    const started = await h.http('PUT', `/v1/nodes/${node.uuid}/states/provision`, {
      target: 'clean',
      disable_ramdisk: true,
      clean_steps: [
        { interface: 'test', step: 'wait_three_times', args: { seconds: 3600 } },
        { interface: 'test', step: 'spawn_two' },
      ],
    });
    assert.equal(started.status, 202);
    const waiting = await h.waitFor(`/v1/nodes/${node.uuid}`, (n) => n.provision_state === 'clean wait');
    assert.deepEqual(waiting.clean_step, { interface: 'test', step: 'wait_three_times', priority: 0, runner: 'bmc' });
    const plan = await h.client.workflow.getHandle(`node/${node.uuid}`).query(planQuery);
    assert.deepEqual(
      plan.map((s) => [s.name, s.status, s.reruns]),
      [
        ['test.wait_three_times', 'waiting', 1],
        ['test.spawn_two', 'pending', 0],
      ],
    );

    const abort = await h.http('PUT', `/v1/nodes/${node.uuid}/states/provision`, { target: 'abort' });
    assert.equal(abort.status, 202);
    const aborted = await h.waitFor(`/v1/nodes/${node.uuid}`, (n) => n.provision_state === 'clean failed');
    assert.match(aborted.last_error, /aborted/);
    assert.equal(aborted.clean_step, null);
    // Nothing is left to abort.
    assert.equal((await h.http('PUT', `/v1/nodes/${node.uuid}/states/provision`, { target: 'abort' })).status, 409);
  });

  it('refuses bad provision requests naming the field', async () => {
    const node = (await h.http('POST', '/v1/nodes', { driver: 'fake' })).body;
    await provision(h, node.uuid, { target: 'manage' });
    const cases: Array<[Record<string, unknown>, number, string?]> = [
      [{ target: 'clean' }, 400, 'clean_steps'],
      [{ target: 'provide', clean_steps: [{ interface: 'deploy', step: 'erase_devices' }] }, 400, 'clean_steps'],
      [{ target: 'clean', clean_steps: [{ interface: 'deploy' }] }, 400, 'clean_steps.0.step'],
      [{ target: 'reinstall' }, 400, 'target'],
      [{ target: 'abort' }, 409],
    ];
    for (const [body, status, field] of cases) {
      const response = await h.http('PUT', `/v1/nodes/${node.uuid}/states/provision`, body);
      assert.equal(response.status, status, JSON.stringify([body, response.body]));
      if (field) assert.equal(response.body.error.field, field);
    }
    assert.equal((await h.get(`/v1/nodes/${node.uuid}`)).body.provision_state, 'manageable');
  });
});

describe('fast-track', () => {
  let h: Harness;
  let images: ImageServer;
  let imageHash: string;
  before(async () => {
    h = await startHarness({ labCount: 1, powerDelayMs: 100, fastTrack: true });
    const image = path.join(path.dirname(h.logFile), 'disk.raw');
    imageHash = await writeDiskImage(image, 16 * MiB);
    images = await startImageServer({ 'disk.raw': image });
  });
  after(async () => {
    await images?.close();
    await h?.close();
  });

  it('keeps the agent up after cleaning, and deploys through it without rebooting into the ramdisk', async () => {
    const uuid = h.nodeUuids[0];
    await provision(h, uuid, { target: 'manage' });
    const available = await provision(h, uuid, { target: 'provide' });
    assert.equal(available.provision_state, 'available');
    assert.equal(available.power_state, 'power on', 'the agent stays up');
    await h.http('PATCH', `/v1/nodes/${uuid}`, {
      instance_info: {
        image_source: images.url('disk.raw'),
        image_os_hash_algo: 'sha256',
        image_os_hash_value: imageHash,
      },
    });
    const active = await provision(h, uuid, { target: 'active' });
    assert.equal(active.provision_state, 'active', active.last_error);
    assert.deepEqual(
      [
        active.driver_internal_info.ramdisk_boots,
        active.driver_internal_info.instance_boots,
        active.driver_internal_info.boots,
      ],
      [1, 1, 2],
      'one ramdisk boot for cleaning and the deploy together, then the instance',
    );
  });
});

describe('virtual-media boot', () => {
  let h: Harness;
  let images: ImageServer;
  let imageHash: string;
  before(async () => {
    const folder = mkdtempSync(path.join(process.env.TEST_SCRATCH_DIR!, 'vmedia-'));
    imageHash = await writeDiskImage(path.join(folder, 'disk.raw'), 16 * MiB);
    writeFileSync(path.join(folder, 'ramdisk.iso'), 'a ramdisk ISO stands here');
    images = await startImageServer({
      'disk.raw': path.join(folder, 'disk.raw'),
      'ramdisk.iso': path.join(folder, 'ramdisk.iso'),
    });
    h = await startHarness({ labCount: 1, powerDelayMs: 100, ramdiskIsoUrl: images.url('ramdisk.iso') });
  });
  after(async () => {
    await h?.close();
    await images?.close();
  });

  it('boots the ramdisk from the inserted ISO, ejects it afterwards, and boots the instance from disk', async () => {
    const uuid = h.nodeUuids[0];
    const { machine, bmcUrl } = h.lab!.machines[0];
    const boots: string[] = [];
    machine.on('boot', (bootTarget) => boots.push(bootTarget));
    await h.http('PATCH', `/v1/nodes/${uuid}`, { boot_interface: 'virtual-media' });
    await provision(h, uuid, { target: 'manage' });
    assert.equal((await provision(h, uuid, { target: 'provide' })).provision_state, 'available');
    await h.http('PATCH', `/v1/nodes/${uuid}`, {
      instance_info: {
        image_source: images.url('disk.raw'),
        image_os_hash_algo: 'sha256',
        image_os_hash_value: imageHash,
      },
    });
    const active = await provision(h, uuid, { target: 'active' });
    assert.equal(active.provision_state, 'active', active.last_error);
    assert.deepEqual(boots, ['Cd', 'Cd', 'Hdd']);

    const auth = `Basic ${Buffer.from(`${h.credentials.username}:${h.credentials.password}`).toString('base64')}`;
    const cd = await fetch(`${bmcUrl}/redfish/v1/Systems/${machine.systemId}/VirtualMedia/Cd`, {
      headers: { authorization: auth },
    });
    assert.equal((await cd.json()).Inserted, false, 'the ramdisk ISO was ejected');
  });
});
