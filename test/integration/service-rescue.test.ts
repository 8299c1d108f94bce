// Servicing and rescuing deployed lab machines: a service with a firmware update (out-of-band) and
// an agent step (in-band) ends active with the new BIOS, the disk untouched and the instance booted
// again; a held service waits for an operator's unhold; a failed one can be given up on. Rescue boots
// the agent with the caller's password, which only ever leaves the API as a crypt(3) hash; unrescue
// boots the instance again.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { verify } from 'unixcrypt';
import { simRescuePasswordPath } from '../../src/agent/platform/sim.js';
import { hashFilePrefix, startImageServer, writeDiskImage, type ImageServer } from '../../src/sim/images.js';
import { startHarness, type Harness } from '../support/harness.js';
import { assertNoSecret, historyText } from '../support/secrets.js';
import { tenantTokens } from '../support/tenants.js';
import { ended } from '../support/workflows.js';

const MiB = 1024 ** 2;
const RESCUE_PASSWORD = 'Rescue-me-7f3c9a-please';

describe('service and rescue active lab machines', () => {
  let h: Harness;
  let images: ImageServer;
  let imageHash: string;
  const imageBytes = 32 * MiB;

  const node = async (uuid: string) => (await h.get(`/v1/nodes/${uuid}`)).body;
  const provision = (uuid: string, body: Record<string, unknown>, token?: string) =>
    h.http('PUT', `/v1/nodes/${uuid}/states/provision`, body, token);
  /** Asks for the verb (as the admin, or the holder of `token`) and waits for its operation to end. */
  const run = async (uuid: string, body: Record<string, unknown>, token?: string) => {
    const response = await provision(uuid, body, token);
    assert.equal(response.status, 202, JSON.stringify(response.body));
    await ended(h, uuid);
    return node(uuid);
  };
  const history = async (uuid: string) => (await h.get(`/v1/nodes/${uuid}/history?limit=1000`)).body.history as any[];
  const transitions = async (uuid: string, since: string) =>
    (await history(uuid))
      .filter((e) => e.kind === 'provision' && e.from_state && e.created_at >= since)
      .map((e) => `${e.from_state}→${e.to_state}`);
  const untilState = async (uuid: string, state: string) => {
    for (let tries = 0; tries < 600; tries++) {
      const current = await node(uuid);
      if (current.provision_state === state) return current;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`node ${uuid} never reached "${state}"`);
  };

  async function deploy(uuid: string): Promise<void> {
    await run(uuid, { target: 'manage' });
    await run(uuid, { target: 'provide' });
    await h.http('PATCH', `/v1/nodes/${uuid}`, {
      instance_info: {
        image_source: images.url('disk.raw'),
        image_os_hash_algo: 'sha256',
        image_os_hash_value: imageHash,
      },
    });
    const deployed = await run(uuid, { target: 'active' });
    assert.equal(deployed.provision_state, 'active', deployed.last_error);
  }

  before(async () => {
    h = await startHarness({ labCount: 2, powerDelayMs: 100 });
    const file = (name: string) => path.join(path.dirname(h.logFile), name);
    imageHash = await writeDiskImage(file('disk.raw'), imageBytes);
    writeFileSync(file('bios-1.0.1.bin'), Buffer.alloc(4096, 0xb1));
    images = await startImageServer({ 'disk.raw': file('disk.raw'), 'bios-1.0.1.bin': file('bios-1.0.1.bin') });
    await Promise.all(h.nodeUuids.map(deploy));
  });
  after(async () => {
    await images?.close();
    await h?.close();
  });

  it('updates the firmware and checks the disks of an active node, then boots its instance again', async () => {
    const uuid = h.nodeUuids[0];
    const machine = h.lab!.machines[0].machine;
    const before = await node(uuid);
    const since = new Date().toISOString();
    assert.equal(machine.firmwareVersions.BIOS, '1.0.0');

    const serviced = await run(uuid, {
      target: 'service',
      service_steps: [
        { interface: 'firmware', step: 'update', args: { image_url: images.url('bios-1.0.1.bin') } },
        { interface: 'deploy', step: 'read_disks' },
      ],
    });
    assert.equal(serviced.provision_state, 'active', serviced.last_error);
    assert.equal(serviced.target_provision_state, null);
    assert.equal(serviced.service_step, null);
    assert.equal(serviced.last_error, null);
    assert.equal(machine.firmwareVersions.BIOS, '1.0.1', 'the new BIOS is flashed');
    // The agent step needed the ramdisk: one ramdisk boot, then the instance again.
    assert.equal(serviced.driver_internal_info.ramdisk_boots, before.driver_internal_info.ramdisk_boots + 1);
    assert.equal(serviced.driver_internal_info.instance_boots, before.driver_internal_info.instance_boots + 1);
    assert.deepEqual(
      [machine.powerState, machine.bootOverride.target, machine.bootOverride.enabled],
      ['On', 'Hdd', 'Continuous'],
    );
    assert.equal(await hashFilePrefix(machine.diskPath, imageBytes), imageHash, "the tenant's disk is untouched");

    const events = await history(uuid);
    const steps = events
      .filter((e) => e.event === 'finish service step' && e.created_at >= since)
      .map((e) => e.message);
    assert.deepEqual(steps, ['firmware.update', 'deploy.read_disks']);
    // Waits (the agent's boot, the firmware task) show as service wait; nothing else comes between.
    const path_ = await transitions(uuid, since);
    assert.equal(path_[0], 'active→servicing');
    assert.equal(path_.at(-1), 'servicing→active');
    assert.ok(path_.includes('servicing→service wait'), path_.join(', '));
    assert.deepEqual(new Set(path_.slice(1, -1)), new Set(['servicing→service wait', 'service wait→servicing']));
  });

  it('holds a service until unhold, touching nothing when only reserved steps run', async () => {
    const uuid = h.nodeUuids[0];
    const before = await node(uuid);
    const since = new Date().toISOString();
    const early = await provision(uuid, { target: 'unhold' });
    assert.equal(early.status, 409, 'nothing to unhold on an active node');

    const started = await provision(uuid, {
      target: 'service',
      service_steps: [
        { interface: 'deploy', step: 'hold' },
        { interface: 'deploy', step: 'wait', args: { seconds: 1 } },
      ],
    });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    const held = await untilState(uuid, 'service hold');
    assert.equal(held.target_provision_state, 'active');
    assert.deepEqual(held.service_step, { interface: 'deploy', step: 'hold', priority: 0, runner: 'workflow' });

    assert.equal((await provision(uuid, { target: 'unhold' })).status, 202);
    await ended(h, uuid);
    const after = await node(uuid);
    assert.equal(after.provision_state, 'active', after.last_error);
    assert.equal(after.driver_internal_info.instance_boots, before.driver_internal_info.instance_boots);
    assert.equal(after.driver_internal_info.ramdisk_boots, before.driver_internal_info.ramdisk_boots);
    assert.deepEqual(await transitions(uuid, since), [
      'active→servicing',
      'servicing→service hold',
      'service hold→servicing',
      'servicing→service wait',
      'service wait→servicing',
      'servicing→active',
    ]);
  });

  it('aborts a held service to service failed, from where abort gives the node back as active', async () => {
    const uuid = h.nodeUuids[0];
    assert.equal(
      (await provision(uuid, { target: 'service', service_steps: [{ interface: 'deploy', step: 'hold' }] })).status,
      202,
    );
    await untilState(uuid, 'service hold');
    assert.equal((await provision(uuid, { target: 'abort' })).status, 202);
    await ended(h, uuid);
    const failed = await node(uuid);
    assert.equal(failed.provision_state, 'service failed');
    assert.match(failed.last_error, /aborted on request while service hold/);

    const back = await run(uuid, { target: 'abort' });
    assert.equal(back.provision_state, 'active', back.last_error);
  });

  it('fails a service whose firmware image is missing, naming the step, and leaves the instance running', async () => {
    const uuid = h.nodeUuids[0];
    const machine = h.lab!.machines[0].machine;
    const failed = await run(uuid, {
      target: 'service',
      service_steps: [{ interface: 'firmware', step: 'update', args: { image_url: images.url('missing.bin') } }],
    });
    assert.equal(failed.provision_state, 'service failed');
    assert.match(failed.last_error, /service step firmware\.update failed/);
    assert.equal(machine.powerState, 'On');
    // Retried with a good image, it ends active.
    const retried = await run(uuid, {
      target: 'service',
      service_steps: [{ interface: 'firmware', step: 'update', args: { image_url: images.url('bios-1.0.1.bin') } }],
    });
    assert.equal(retried.provision_state, 'active', retried.last_error);
    assert.equal(machine.firmwareVersions.BIOS, '1.0.2');
  });

  it('refuses bad service and rescue requests with a 4xx naming the field, changing nothing', async () => {
    const uuid = h.nodeUuids[0];
    const cases: [Record<string, unknown>, number, RegExp][] = [
      [{ target: 'service' }, 400, /service_steps/],
      [{ target: 'rebuild', service_steps: [{ interface: 'deploy', step: 'hold' }] }, 400, /service_steps/],
      [
        {
          target: 'service',
          service_steps: [
            { interface: 'bios', step: 'apply_configuration', args: { settings: { AdminPassword: 'x' } } },
          ],
        },
        400,
        /service_steps\.0\.args\.settings\.AdminPassword/,
      ],
      [
        { target: 'service', service_steps: [{ interface: 'deploy', step: 'wait', args: { seconds: -3 } }] },
        400,
        /service_steps\.0\.args\.seconds/,
      ],
      [{ target: 'service', service_steps: [{ interface: 'deploy', step: 'hold', args: { x: 1 } }] }, 400, /args\.x/],
      [{ target: 'rescue' }, 400, /rescue_password/],
      [{ target: 'rescue', rescue_password: 'short' }, 400, /rescue_password/],
      [{ target: 'rescue', rescue_password: 42 }, 400, /rescue_password/],
      [
        { target: 'service', service_steps: [{ interface: 'deploy', step: 'hold' }], rescue_password: 'x'.repeat(9) },
        400,
        /rescue_password/,
      ],
      [{ target: 'unrescue' }, 409, /cannot unrescue a node in state \\"active\\"/],
    ];
    const before = await node(uuid);
    for (const [body, status, field] of cases) {
      const response = await provision(uuid, body);
      assert.equal(response.status, status, JSON.stringify({ body, answer: response.body }));
      assert.match(JSON.stringify(response.body), field);
    }
    const after = await node(uuid);
    assert.deepEqual(
      [after.provision_state, after.target_provision_state, after.updated_at],
      [before.provision_state, before.target_provision_state, before.updated_at],
    );
  });

  it("rescues with the lessee's password, hashed before it leaves the API, and unrescues back to active", async () => {
    const uuid = h.nodeUuids[1];
    const machine = h.lab!.machines[1].machine;
    // The instance is acme's: alice (acme) may rescue it but not service it, eve (zed) cannot see it.
    const tokens = await tenantTokens(h);
    assert.equal((await h.http('PATCH', `/v1/nodes/${uuid}`, { lessee: 'acme' })).status, 200);
    const rescueBody = { target: 'rescue', rescue_password: RESCUE_PASSWORD };
    assert.equal((await provision(uuid, rescueBody, tokens.eve)).status, 404);
    const hold = { target: 'service', service_steps: [{ interface: 'deploy', step: 'hold' }] };
    assert.equal((await provision(uuid, hold, tokens.alice)).status, 403);
    const before = await node(uuid);
    const passwordFile = simRescuePasswordPath(machine.diskPath);
    assert.equal(existsSync(passwordFile), false);

    const rescued = await run(uuid, rescueBody, tokens.alice);
    assert.equal(rescued.provision_state, 'rescue', rescued.last_error);
    assert.equal(rescued.target_provision_state, null);
    const hash = readFileSync(passwordFile, 'utf8');
    assert.match(hash, /^\$6\$/, 'a SHA-512 crypt hash reached the machine');
    assert.ok(verify(RESCUE_PASSWORD, hash), "it is the caller's password");
    // Handed over: the machine runs the rescue system, no agent session or password hash is kept.
    assert.equal(machine.powerState, 'On');
    assert.equal(rescued.driver_internal_info.ramdisk_boots, before.driver_internal_info.ramdisk_boots + 1);
    assert.equal(rescued.driver_internal_info.agent_url, undefined);
    assert.equal(rescued.driver_internal_info.rescue_password_hash, undefined);

    const unrescued = await run(uuid, { target: 'unrescue' }, tokens.alice);
    assert.equal(unrescued.provision_state, 'active', unrescued.last_error);
    assert.equal(unrescued.driver_internal_info.instance_boots, before.driver_internal_info.instance_boots + 1);
    assert.deepEqual(
      [machine.powerState, machine.bootOverride.target, machine.bootOverride.enabled],
      ['On', 'Hdd', 'Continuous'],
    );
    assert.equal(await hashFilePrefix(machine.diskPath, imageBytes), imageHash, "the tenant's disk is untouched");

    // The password and its hash: in no response, workflow history or log line.
    const secrets = [RESCUE_PASSWORD, hash];
    for (const where of [`/v1/nodes/${uuid}`, `/v1/nodes/${uuid}/history?limit=1000`, '/v1/events?limit=1000']) {
      assertNoSecret(where, JSON.stringify((await h.get(where)).body), secrets);
    }
    let histories = 0;
    for await (const workflow of h.client.workflow.list({ query: `WorkflowId = 'node/${uuid}'` })) {
      const events = await h.client.workflow.getHandle(workflow.workflowId, workflow.runId).fetchHistory();
      assertNoSecret(`the history of ${workflow.workflowId} (${workflow.runId})`, historyText(events), secrets);
      histories++;
    }
    assert.ok(histories >= 5, `expected manage, provide, deploy, rescue and unrescue runs, found ${histories}`);
    assertNoSecret('the logs', h.logs(), secrets);
  });
});
