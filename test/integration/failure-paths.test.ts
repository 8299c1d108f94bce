// Paths an operator meets when something is wrong, on real services: an agent lookup naming MACs
// of two machines, an image larger than the disk, a BMC that goes away in the middle of a power
// change, and an operation cancelled from the Temporal UI.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startImageServer, writeDiskImage, type ImageServer } from '../../src/sim/images.js';
import { env, startHarness, type Harness } from '../support/harness.js';
import { ended } from '../support/workflows.js';

const MiB = 1024 ** 2;
/** Room for the agent's 64 MiB config drive partition, and not for the image. */
const DISK_BYTES = 96 * MiB;
const IMAGE_BYTES = 128 * MiB;

describe('failure paths', () => {
  let h: Harness;
  let images: ImageServer;
  let imageHash: string;
  before(async () => {
    h = await startHarness({ labCount: 3, lightLab: true, diskSizeBytes: DISK_BYTES, powerDelayMs: 1000 });
    const file = path.join(mkdtempSync(path.join(env('TEST_SCRATCH_DIR'), 'failure-paths-')), 'big.raw');
    imageHash = await writeDiskImage(file, IMAGE_BYTES);
    images = await startImageServer({ 'big.raw': file });
  });
  after(async () => {
    await images?.close();
    await h?.close();
  });

  const node = async (uuid: string) => (await h.get(`/v1/nodes/${uuid}`)).body;
  const machineOf = async (uuid: string) => {
    const { name } = await node(uuid);
    return h.lab!.machines.find((m) => m.name === name)!;
  };
  const setState = (uuid: string, state: string) =>
    h.pool.query('UPDATE nodes SET provision_state = $2 WHERE uuid = $1', [uuid, state]);

  it('gives no token to a lookup whose MACs belong to two nodes', async () => {
    const [first, second] = h.nodeUuids;
    const macs = [...(await machineOf(first)).macs.slice(0, 1), ...(await machineOf(second)).macs.slice(0, 1)];
    await setState(first, 'clean wait');
    await setState(second, 'clean wait');
    try {
      for (const query of [`addresses=${macs.join(',')}`, `addresses=${macs.join(',')}&node_uuid=${first}`]) {
        const lookup = await h.asAgent('GET', `/v1/lookup?${query}`);
        assert.equal(lookup.status, 404, `${query}: ${JSON.stringify(lookup.body)}`);
        assert.equal(JSON.stringify(lookup.body).includes('agent_token'), false);
      }
      for (const uuid of [first, second]) {
        assert.equal((await node(uuid)).driver_internal_info.agent_token_hash, undefined, 'no session began');
      }
    } finally {
      await setState(first, 'enroll');
      await setState(second, 'enroll');
    }
  });

  it('fails a deploy whose image is larger than the disk, naming both sizes, and powers the machine off', async () => {
    const uuid = h.nodeUuids[0];
    await setState(uuid, 'available');
    // Named by a root device hint: unhinted, a disk this small is not taken for the root device at all.
    await h.pool.query(
      `UPDATE nodes SET properties = properties || '{"root_device": {"name": "vda"}}' WHERE uuid = $1`,
      [uuid],
    );
    const deploy = await h.http('POST', '/v1/deployments', {
      node: uuid,
      image_source: images.url('big.raw'),
      os_hash_algo: 'sha256',
      os_hash_value: imageHash,
    });
    assert.equal(deploy.status, 201, JSON.stringify(deploy.body));
    await ended(h, uuid);
    const failed = await node(uuid);
    assert.equal(failed.provision_state, 'deploy failed');
    assert.match(failed.last_error, new RegExp(`${IMAGE_BYTES} bytes\\) is larger than the \\d+ bytes`));
    const { machine } = await machineOf(uuid);
    assert.equal(machine.powerState, 'Off', 'a half-deployed machine is not left running');
    const disk = await readFile(machine.diskPath);
    assert.ok(
      disk.subarray(0, MiB).every((byte) => byte === 0),
      'nothing was written to the disk',
    );
    const deployment = (await h.get(`/v1/deployments/${deploy.body.uuid}`)).body;
    assert.equal(deployment.status, 'failed');
  });

  it('fails a power change whose BMC goes away mid-way: the reason on the node, no target left', async () => {
    const uuid = h.nodeUuids[2];
    const { bmc } = await machineOf(uuid);
    const before = await node(uuid);
    assert.equal((await h.http('PUT', `/v1/nodes/${uuid}/states/power`, { target: 'power on' })).status, 202);
    await h.waitFor(`/v1/nodes/${uuid}`, (n) => n.target_power_state === 'power on');
    // The BMC took the request (the machine takes a second to power on), then falls off the network.
    bmc.setSilent(true);
    await ended(h, uuid, 180_000);
    const failed = await node(uuid);
    assert.equal(failed.target_power_state, null, 'the node keeps no target it will never reach');
    assert.match(failed.last_error, /could not be reached/);
    assert.equal(failed.power_state, before.power_state, 'the recorded power state is the last one known');
    const events = (await h.get(`/v1/nodes/${uuid}/history?kind=power`)).body.history as any[];
    assert.ok(events.some((e) => e.severity === 'error' && /could not be reached/.test(e.message)));
  });
});

describe('an operation cancelled from the Temporal UI', () => {
  let h: Harness;
  // Machines whose ramdisk never calls back: cleaning waits in "clean wait" until it is cancelled.
  before(async () => {
    h = await startHarness({ labCount: 1, lightLab: true, labAgents: false });
  });
  after(() => h?.close());

  it('ends in clean failed with the reason, the machine powered off, the node free for the next operation', async () => {
    const uuid = h.nodeUuids[0];
    await h.pool.query(`UPDATE nodes SET provision_state = 'manageable' WHERE uuid = $1`, [uuid]);
    assert.equal((await h.http('PUT', `/v1/nodes/${uuid}/states/provision`, { target: 'provide' })).status, 202);
    await h.waitFor(`/v1/nodes/${uuid}`, (n) => n.provision_state === 'clean wait' && n.power_state === 'power on');
    // What the UI's "Request Cancellation" sends.
    await h.client.workflow.getHandle(`node/${uuid}`).cancel();
    await ended(h, uuid);
    const cancelled = (await h.get(`/v1/nodes/${uuid}`)).body;
    assert.deepEqual(
      [cancelled.provision_state, cancelled.target_provision_state, cancelled.last_error],
      ['clean failed', null, 'the operation was cancelled'],
    );
    assert.equal(cancelled.power_state, 'power off');
    assert.equal(h.lab!.machines[0].machine.powerState, 'Off');
    const description = await h.client.workflow.getHandle(`node/${uuid}`).describe();
    assert.equal(description.status.name, 'CANCELLED');
    // The lock is free: the operator can act on the node again.
    assert.equal((await h.http('PUT', `/v1/nodes/${uuid}/states/provision`, { target: 'manage' })).status, 202);
    await ended(h, uuid);
  });
});
