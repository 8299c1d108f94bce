// Inspection through the API, the workflow and the worker against sushy-tools' Redfish emulator (a
// BMC we did not write): what its fake driver tells out of band becomes the node's inventory, its
// local_gb and its port; what it does not tell (CPUs, memory) needs the agent, which a node that
// boots no ramdisk cannot give: that inspection fails saying so.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startHarness, type Harness } from '../support/harness.js';
import { ended } from '../support/workflows.js';
import { startSushyEmulator, type SushyEmulator } from './emulators.js';

const USERNAME = 'inspector';
const PASSWORD = 'sushy-inspect-S3cret';
const GiB = 1024 ** 3;
/** The drive emulators.ts gives every sushy system. */
const DRIVE_BYTES = 899527000000;

describe('inspection against sushy-tools', () => {
  let h: Harness;
  let sushy: SushyEmulator;
  let uuid: string;

  before(async () => {
    [h, sushy] = await Promise.all([
      startHarness(),
      startSushyEmulator({ systems: 1, username: USERNAME, password: PASSWORD }),
    ]);
    const { status, body } = await h.http('POST', '/v1/nodes', {
      name: 'sushy-0',
      driver: 'redfish',
      driver_info: {
        redfish_address: sushy.url,
        redfish_system_id: sushy.systems[0].uuid,
        redfish_username: USERNAME,
        redfish_password: PASSWORD,
      },
      // sushy's fake systems boot nothing: only out-of-band work is possible.
      deploy_interface: 'fake',
      inspect_interface: 'redfish',
    });
    assert.equal(status, 201, JSON.stringify(body));
    uuid = body.uuid;
    await provision('manage', 'manageable');
  });
  after(async () => {
    await h?.close();
    await sushy?.stop();
  });

  async function provision(target: string, expected: string) {
    const response = await h.http('PUT', `/v1/nodes/${uuid}/states/provision`, { target });
    assert.equal(response.status, 202, JSON.stringify(response.body));
    await ended(h, uuid);
    const node = (await h.get(`/v1/nodes/${uuid}`)).body;
    assert.equal(node.provision_state, expected, node.last_error);
    return node;
  }

  it('inspects out of band: disks and NICs into the inventory, local_gb and a port', async () => {
    const node = await provision('inspect', 'manageable');
    assert.equal(node.properties.local_gb, Math.floor(DRIVE_BYTES / GiB) - 1);
    assert.equal(node.properties.cpus, undefined, 'the fake driver says nothing of CPUs');

    const { body } = await h.get(`/v1/nodes/${uuid}/inventory`);
    assert.deepEqual(
      body.inventory.disks.map((d: any) => [d.name, d.size]),
      [['Drive 0', DRIVE_BYTES]],
    );
    assert.deepEqual(
      body.inventory.interfaces.map((nic: any) => nic.mac_address),
      [sushy.systems[0].mac],
    );
    assert.equal(body.plugin_data.inspected_by, 'bmc');
    assert.equal(body.plugin_data.bios_settings, undefined, 'sushy has no BIOS with its fake driver');
    const ports = (await h.get(`/v1/ports?node=${uuid}`)).body.ports;
    assert.deepEqual(
      ports.map((p: any) => p.address),
      [sushy.systems[0].mac],
    );
  });

  it('fails clearly when out of band is not enough and the node cannot boot the agent', async () => {
    assert.equal((await h.http('PATCH', `/v1/nodes/${uuid}`, { inspect_interface: 'auto' })).status, 200);
    const node = await provision('inspect', 'inspect failed');
    assert.match(node.last_error, /inspection needs the agent \(out of band left unknown: CPU count, memory\)/);
    await provision('manage', 'manageable');
  });
});
