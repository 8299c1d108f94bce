// Adoption: a lab machine already running its OS becomes an active node without a reboot, a
// ramdisk, or a byte written to its disk.
import assert from 'node:assert/strict';
import { open, stat } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { startHarness, type Harness } from '../support/harness.js';
import { ended, finished } from '../support/workflows.js';

const INSTALLED = Buffer.from('an operating system installed long before Tempered');

async function diskHead(path: string): Promise<Buffer> {
  const file = await open(path, 'r');
  try {
    const head = Buffer.alloc(1024 * 1024);
    await file.read(head, 0, head.length, 0);
    return head;
  } finally {
    await file.close();
  }
}

describe('adopt', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ labCount: 2 });
  });
  after(() => h?.close());

  async function provision(uuid: string, target: string) {
    return h.http('PUT', `/v1/nodes/${uuid}/states/provision`, { target });
  }

  async function manage(uuid: string) {
    assert.equal((await provision(uuid, 'manage')).status, 202);
    await finished(h, uuid);
  }

  it('takes over a running machine as active: no power change, no ramdisk, the disk untouched', async () => {
    const uuid = h.nodeUuids[0];
    const { machine } = h.lab!.machines[0];
    await manage(uuid);
    // The machine runs its own OS from its own disk, as it did before anyone enrolled it.
    const disk = await open(machine.diskPath, 'r+');
    await disk.write(INSTALLED, 0, INSTALLED.length, 0);
    await disk.close();
    machine.reset('On');
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(machine.powerState, 'On');
    const headBefore = await diskHead(machine.diskPath);
    const mtimeBefore = (await stat(machine.diskPath)).mtimeMs;

    const refused = await provision(uuid, 'adopt');
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error.field, 'instance_info.image_source');
    assert.equal((await h.get(`/v1/nodes/${uuid}`)).body.provision_state, 'manageable', 'a refusal changes nothing');

    const image = 'http://images.example.com/already-there.qcow2';
    assert.equal((await h.http('PATCH', `/v1/nodes/${uuid}`, { instance_info: { image_source: image } })).status, 200);
    const powerChanges: string[] = [];
    machine.on('power', (state) => powerChanges.push(state));
    const accepted = await provision(uuid, 'adopt');
    assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
    assert.equal(await finished(h, uuid), 'active');

    const node = (await h.get(`/v1/nodes/${uuid}`)).body;
    assert.deepEqual(
      [node.provision_state, node.target_provision_state, node.power_state, node.last_error],
      ['active', null, 'power on', null],
    );
    assert.ok(node.deployed_by, 'the node says who adopted it');
    assert.equal(node.instance_info.image_source, image);
    assert.deepEqual(powerChanges, [], 'the machine was never powered off or on');
    assert.equal(machine.powerState, 'On');
    assert.deepEqual(
      [machine.bootOverride.target, machine.bootOverride.enabled],
      ['Hdd', 'Continuous'],
      'it boots its own disk from now on',
    );
    assert.ok((await diskHead(machine.diskPath)).equals(headBefore), 'the disk reads as before');
    assert.equal((await stat(machine.diskPath)).mtimeMs, mtimeBefore, 'nothing wrote to the disk');

    const { body } = await h.get(`/v1/nodes/${uuid}/history`);
    const events = body.history.map((e: any) => [e.kind, e.event, e.from_state, e.to_state]);
    assert.deepEqual(events.filter(([kind]: string[]) => kind === 'provision').slice(-2), [
      ['provision', 'adopt', 'manageable', 'adopting'],
      ['provision', 'done', 'adopting', 'active'],
    ]);
    assert.ok(!events.some(([, event]: string[]) => /^boot /.test(event)), 'no boot was recorded');

    // An active node is not adopted again.
    assert.equal((await provision(uuid, 'adopt')).status, 409);
  });

  it('ends in "adopt failed" when the BMC refuses the credentials, and may be adopted again once it does', async () => {
    const uuid = h.nodeUuids[1];
    await manage(uuid);
    const info = { instance_info: { image_source: 'http://images.example.com/os.qcow2' } };
    assert.equal((await h.http('PATCH', `/v1/nodes/${uuid}`, info)).status, 200);
    // The BMC refuses the stored credentials: adoption cannot validate it.
    const wrong = { driver_info: { redfish_password: 'not-the-password' } };
    assert.equal((await h.http('PATCH', `/v1/nodes/${uuid}`, wrong)).status, 200);
    assert.equal((await provision(uuid, 'adopt')).status, 202);
    await ended(h, uuid);
    let node = (await h.get(`/v1/nodes/${uuid}`)).body;
    assert.equal(node.provision_state, 'adopt failed');
    assert.ok(node.last_error, 'the failure says why');

    const right = { driver_info: { redfish_password: h.credentials.password } };
    assert.equal((await h.http('PATCH', `/v1/nodes/${uuid}`, right)).status, 200);
    assert.equal((await provision(uuid, 'adopt')).status, 202);
    assert.equal(await finished(h, uuid), 'active');
    node = (await h.get(`/v1/nodes/${uuid}`)).body;
    assert.equal(node.provision_state, 'active');
    assert.equal(node.last_error, null);
  });
});
