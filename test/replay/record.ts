// Records the workflow histories test/unit/replay.test.ts replays: one real run of every verb on
// a lab machine (manage, provide, deploy, power off/on, undeploy, manual clean, an aborted clean,
// inspection out of band and in band, service with a hold, rescue and unrescue),
// each history written to test/replay/histories/<verb>.json. Run per release, and after a
// deliberate (patched) workflow change: `npm run record:histories`. It runs under test/run.ts,
// which starts PostgreSQL, Temporal and builds the bundle; it refuses to write a history that
// carries one of the run's secrets. Histories are written with @temporalio/proto's own
// toObject (readable JSON that fromObject reads back): the SDK's historyToJSON trips over the two
// protobufjs copies npm installs for @temporalio/common and @temporalio/proto.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import proto from '@temporalio/proto';
import { startImageServer, writeDiskImage, type ImageServer } from '../../src/sim/images.js';
import { nodeWorkflowId } from '../../src/workflows/contract.js';
import { startHarness, type Harness } from '../support/harness.js';

const HISTORIES = path.join('test', 'replay', 'histories');
const IMAGE_BYTES = 64 * 1024 ** 2;
const RESCUE_PASSWORD = 'replay-rescue-password';

describe('record workflow histories', () => {
  let h: Harness;
  let images: ImageServer;
  let imageHash: string;

  before(async () => {
    h = await startHarness({ labCount: 3 });
    const image = path.join(path.dirname(h.logFile), 'disk.raw');
    imageHash = await writeDiskImage(image, IMAGE_BYTES);
    const firmware = path.join(path.dirname(h.logFile), 'bios.bin');
    writeFileSync(firmware, Buffer.alloc(4096, 0xb1));
    images = await startImageServer({ 'disk.raw': image, 'bios.bin': firmware });
    mkdirSync(HISTORIES, { recursive: true });
  });
  after(async () => {
    await images?.close();
    await h?.close();
  });

  /** Everything of this run that must never reach a history. */
  const secrets = () => [h.credentials.password, h.config.adminToken!, h.config.agentTokenKey!, RESCUE_PASSWORD];

  /** Sends the request, awaits the node's operation and writes its history as `<name>.json`. */
  async function record(
    name: string,
    uuid: string,
    urlPath: string,
    body: Record<string, unknown>,
    whileRunning?: () => Promise<void>,
  ) {
    const response = await h.http('PUT', `/v1/nodes/${uuid}/${urlPath}`, body);
    assert.equal(response.status, 202, JSON.stringify(response.body));
    const handle = h.client.workflow.getHandle(nodeWorkflowId(uuid));
    await whileRunning?.();
    await handle.result().catch(() => undefined);
    const History = proto.temporal.api.history.v1.History;
    const history = History.toObject(History.fromObject(await handle.fetchHistory()), {
      longs: String,
      enums: String,
      bytes: String,
    });
    const json = JSON.stringify(history, null, 1);
    for (const secret of secrets()) assert.ok(!json.includes(secret), `the ${name} history carries no secret`);
    writeFileSync(path.join(HISTORIES, `${name}.json`), `${json}\n`);
  }

  it('records every verb on a lab machine', async () => {
    const uuid = h.nodeUuids[0];
    const node = async () => (await h.get(`/v1/nodes/${uuid}`)).body;
    await record('manage', uuid, 'states/provision', { target: 'manage' });
    await record('provide', uuid, 'states/provision', { target: 'provide' });
    assert.equal((await node()).provision_state, 'available');
    await h.http('PATCH', `/v1/nodes/${uuid}`, {
      instance_info: {
        image_source: images.url('disk.raw'),
        image_os_hash_algo: 'sha256',
        image_os_hash_value: imageHash,
        image_disk_format: 'raw',
      },
    });
    await record('deploy', uuid, 'states/provision', {
      target: 'active',
      configdrive: { meta_data: { hostname: 'replay-1' } },
    });
    assert.equal((await node()).provision_state, 'active', (await node()).last_error);
    await record('power-off', uuid, 'states/power', { target: 'power off' });
    await record('power-on', uuid, 'states/power', { target: 'power on' });
    await record('undeploy', uuid, 'states/provision', { target: 'deleted' });
    assert.equal((await node()).provision_state, 'available', (await node()).last_error);
    await record('manage-available', uuid, 'states/provision', { target: 'manage' });
    await record('clean', uuid, 'states/provision', {
      target: 'clean',
      clean_steps: [{ interface: 'deploy', step: 'erase_devices_metadata' }],
    });
    assert.equal((await node()).provision_state, 'manageable', (await node()).last_error);
  });

  it('records inspections out of band and in band on a second lab machine', async () => {
    const uuid = h.nodeUuids[1];
    await h.http('PUT', `/v1/nodes/${uuid}/states/provision`, { target: 'manage' });
    await h.client.workflow.getHandle(nodeWorkflowId(uuid)).result();
    await record('inspect', uuid, 'states/provision', { target: 'inspect' });
    await h.http('PATCH', `/v1/nodes/${uuid}`, { inspect_interface: 'agent' });
    await record('inspect-agent', uuid, 'states/provision', { target: 'inspect' });
    assert.equal((await h.get(`/v1/nodes/${uuid}`)).body.provision_state, 'manageable');
  });

  it('records a service (firmware, an agent step), a held service, a rescue and an unrescue on a third lab machine', async () => {
    const uuid = h.nodeUuids[2];
    const node = async () => (await h.get(`/v1/nodes/${uuid}`)).body;
    for (const target of ['manage', 'provide']) {
      await h.http('PUT', `/v1/nodes/${uuid}/states/provision`, { target });
      await h.client.workflow.getHandle(nodeWorkflowId(uuid)).result();
    }
    await h.http('PATCH', `/v1/nodes/${uuid}`, {
      instance_info: {
        image_source: images.url('disk.raw'),
        image_os_hash_algo: 'sha256',
        image_os_hash_value: imageHash,
      },
    });
    await h.http('PUT', `/v1/nodes/${uuid}/states/provision`, { target: 'active' });
    await h.client.workflow.getHandle(nodeWorkflowId(uuid)).result();
    assert.equal((await node()).provision_state, 'active', (await node()).last_error);
    await record('service', uuid, 'states/provision', {
      target: 'service',
      service_steps: [
        { interface: 'firmware', step: 'update', args: { image_url: images.url('bios.bin') } },
        { interface: 'deploy', step: 'read_disks' },
      ],
    });
    assert.equal((await node()).provision_state, 'active', (await node()).last_error);
    await record(
      'service-hold',
      uuid,
      'states/provision',
      { target: 'service', service_steps: [{ interface: 'deploy', step: 'hold' }] },
      async () => {
        await h.waitFor(`/v1/nodes/${uuid}`, (n) => n.provision_state === 'service hold');
        assert.equal((await h.http('PUT', `/v1/nodes/${uuid}/states/provision`, { target: 'unhold' })).status, 202);
      },
    );
    await record('rescue', uuid, 'states/provision', { target: 'rescue', rescue_password: RESCUE_PASSWORD });
    assert.equal((await node()).provision_state, 'rescue', (await node()).last_error);
    await record('unrescue', uuid, 'states/provision', { target: 'unrescue' });
    assert.equal((await node()).provision_state, 'active', (await node()).last_error);
  });

  it('records an aborted clean (RerunAfter, RunNext, abort) on a fake node', async () => {
    const created = await h.http('POST', '/v1/nodes', { driver: 'fake', name: 'replay-fake' });
    const uuid = created.body.uuid as string;
    await h.http('PUT', `/v1/nodes/${uuid}/states/provision`, { target: 'manage' });
    await h.client.workflow.getHandle(nodeWorkflowId(uuid)).result();
    await record('clean-rerun-run-next', uuid, 'states/provision', {
      target: 'clean',
      disable_ramdisk: true,
      clean_steps: [
        { interface: 'test', step: 'wait_three_times', args: { seconds: 1 } },
        { interface: 'test', step: 'spawn_two' },
      ],
    });
    await record(
      'clean-abort',
      uuid,
      'states/provision',
      {
        target: 'clean',
        disable_ramdisk: true,
        clean_steps: [{ interface: 'test', step: 'wait_three_times', args: { seconds: 3600 } }],
      },
      async () => {
        await h.waitFor(`/v1/nodes/${uuid}`, (n) => n.provision_state === 'clean wait');
        assert.equal((await h.http('PUT', `/v1/nodes/${uuid}/states/provision`, { target: 'abort' })).status, 202);
      },
    );
    assert.equal((await h.get(`/v1/nodes/${uuid}`)).body.provision_state, 'clean failed');
  });

  it('records an undeploy with the fake deploy interface (no agent, nothing to clean)', async () => {
    const created = await h.http('POST', '/v1/nodes', {
      driver: 'fake',
      deploy_interface: 'fake',
      name: 'replay-fake-deploy',
      instance_info: {
        image_source: 'http://127.0.0.1:9/never-fetched.raw',
        image_os_hash_algo: 'sha256',
        image_os_hash_value: 'a'.repeat(64),
      },
    });
    const uuid = created.body.uuid as string;
    for (const target of ['manage', 'provide', 'active']) {
      await h.http('PUT', `/v1/nodes/${uuid}/states/provision`, { target });
      await h.client.workflow.getHandle(nodeWorkflowId(uuid)).result();
    }
    await record('undeploy-fake', uuid, 'states/provision', { target: 'deleted' });
    assert.equal((await h.get(`/v1/nodes/${uuid}`)).body.provision_state, 'available');
  });
});
