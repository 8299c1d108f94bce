// End to end through the API, the workflows and the worker: IPMI nodes driven against ipmi_sim,
// a wrong BMC password left readable in last_error, and the capability matrix.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startHarness, type Harness } from '../support/harness.js';
import { assertNoSecret, historyText } from '../support/secrets.js';
import { ended, finished } from '../support/workflows.js';
import { startIpmiSim, type IpmiSim } from './emulators.js';

const USERNAME = 'admin';
const PASSWORD = 'api-ipmi-pw';

describe('ipmi nodes through the API against ipmi_sim', () => {
  let h: Harness;
  let sim: IpmiSim;
  const createNode = async (name: string, password: string) => {
    const { status, body } = await h.http('POST', '/v1/nodes', {
      name,
      driver: 'ipmi',
      driver_info: {
        ipmi_address: '127.0.0.1',
        ipmi_port: String(sim.port),
        ipmi_username: USERNAME,
        ipmi_password: password,
      },
    });
    assert.equal(status, 201, JSON.stringify(body));
    return body.uuid as string;
  };

  before(async () => {
    [h, sim] = await Promise.all([startHarness(), startIpmiSim({ username: USERNAME, password: PASSWORD })]);
  });
  after(async () => {
    await h?.close();
    await sim?.stop();
  });

  it('manages an ipmi node and powers it on, reaching the simulated chassis', async () => {
    const uuid = await createNode('ipmi-good', PASSWORD);
    assert.equal((await h.http('PUT', `/v1/nodes/${uuid}/states/provision`, { target: 'manage' })).status, 202);
    await finished(h, uuid);
    const managed = (await h.get(`/v1/nodes/${uuid}`)).body;
    assert.equal(managed.provision_state, 'manageable');
    assert.deepEqual([managed.power_state, managed.last_error], ['power off', null]);

    assert.equal((await h.http('PUT', `/v1/nodes/${uuid}/states/power`, { target: 'power on' })).status, 202);
    await finished(h, uuid);
    const powered = (await h.get(`/v1/nodes/${uuid}`)).body;
    assert.deepEqual([powered.power_state, powered.target_power_state], ['power on', null]);
    assert.equal(await sim.chassis('power'), '1');
  });

  it('leaves a node with a wrong BMC password in enroll, with a readable last_error, after one attempt', async () => {
    const wrong = 'wrong-ipmi-pw';
    const uuid = await createNode('ipmi-wrong-password', wrong);
    assert.equal((await h.http('PUT', `/v1/nodes/${uuid}/states/provision`, { target: 'manage' })).status, 202);
    await ended(h, uuid);
    const node = (await h.get(`/v1/nodes/${uuid}`)).body;
    assert.equal(node.provision_state, 'enroll');
    assert.match(node.last_error, /rejected the user name or password/);
    assertNoSecret('last_error', node.last_error, [wrong], USERNAME);

    const history = await h.client.workflow.getHandle(`node/${uuid}`).fetchHistory();
    const activityStarts = history.events!.filter((e) => e.activityTaskStartedEventAttributes);
    assert.ok(activityStarts.length > 0);
    assert.ok(
      activityStarts.every((e) => (e.activityTaskStartedEventAttributes!.attempt ?? 1) === 1),
      'a wrong password is not retried',
    );
    assertNoSecret('the workflow history', historyText(history), [wrong], USERNAME);
  });

  it('refuses bad ipmi driver_info with a 400 naming the key', async () => {
    const base = { ipmi_address: '127.0.0.1' };
    for (const [driverInfo, field] of [
      [{ ...base, ipmi_port: 70000 }, 'driver_info.ipmi_port'],
      [{ ...base, ipmi_port: 'x623' }, 'driver_info.ipmi_port'],
      [{ ...base, ipmi_password: 'p'.repeat(21) }, 'driver_info.ipmi_password'],
      [{ ipmi_port: 623 }, 'driver_info.ipmi_address'],
      [{ ...base, redfish_address: 'http://x' }, 'driver_info.redfish_address'],
    ] as const) {
      const { status, body } = await h.http('POST', '/v1/nodes', { driver: 'ipmi', driver_info: driverInfo });
      assert.equal(status, 400, JSON.stringify(body));
      assert.equal(body.error.field, field);
    }
  });

  it('publishes the capability matrix', async () => {
    const { status, body } = await h.get('/v1/drivers');
    assert.equal(status, 200);
    assert.deepEqual(
      body.drivers.map((d: any) => d.name),
      ['fake', 'redfish', 'ipmi'],
    );
    const ipmi = (await h.get('/v1/drivers/ipmi')).body;
    assert.equal(ipmi.capabilities.power, true);
    assert.equal(ipmi.capabilities.virtual_media, false);
    assert.deepEqual(
      ipmi.driver_info.find((f: any) => f.name === 'ipmi_password'),
      {
        name: 'ipmi_password',
        required: false,
        secret: true,
        type: 'string',
        description: 'BMC password (at most 20 bytes).',
        max_bytes: 20,
      },
    );
    const redfish = (await h.get('/v1/drivers/redfish')).body;
    assert.equal(redfish.capabilities.firmware_update, true);
    const properties = (await h.get('/v1/drivers/redfish/properties')).body;
    assert.match(properties.redfish_address, /Required\.$/);
    const unknown = await h.get('/v1/drivers/idrac');
    assert.equal(unknown.status, 404);
    assert.match(unknown.body.error.message, /driver "idrac" was not found/);
    assert.equal(
      (await h.http('GET', '/v1/drivers', undefined, null)).status,
      401,
      'the matrix needs a token like the rest of /v1',
    );
  });
});
