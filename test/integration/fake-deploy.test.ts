// The no-hardware mode: the fake driver with the fake deploy interface runs Ironic's whole
// lifecycle through the API — manage, provide, deploy, power off and on, undeploy — with no BMC
// and no agent, through the real state machine, node lock, event log and Temporal workflows.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startHarness, type Harness } from '../support/harness.js';
import { finished } from '../support/workflows.js';

const IMAGE = {
  image_source: 'http://127.0.0.1:9/never-fetched.raw',
  image_os_hash_algo: 'sha256',
  image_os_hash_value: 'a'.repeat(64),
};

describe('fake deploy interface', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({});
  });
  after(() => h?.close());

  async function act(uuid: string, kind: 'provision' | 'power', target: string) {
    const response = await h.http('PUT', `/v1/nodes/${uuid}/states/${kind}`, { target });
    assert.equal(response.status, 202, JSON.stringify(response.body));
    await finished(h, uuid);
    return (await h.get(`/v1/nodes/${uuid}`)).body;
  }

  async function enroll(name: string) {
    const created = await h.http('POST', '/v1/nodes', { name, driver: 'fake', deploy_interface: 'fake' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.deploy_interface, 'fake');
    return created.body.uuid as string;
  }

  it('runs manage → provide → deploy → power off → power on → undeploy without an agent', async () => {
    const uuid = await enroll('fake-0');
    let node = await act(uuid, 'provision', 'manage');
    assert.equal(node.provision_state, 'manageable');
    node = await act(uuid, 'provision', 'provide');
    assert.deepEqual([node.provision_state, node.power_state, node.last_error], ['available', 'power off', null]);

    assert.equal(
      (await h.http('PATCH', `/v1/nodes/${uuid}`, [{ op: 'add', path: '/instance_info', value: IMAGE }])).status,
      200,
    );
    node = await act(uuid, 'provision', 'active');
    assert.deepEqual(
      [node.provision_state, node.target_provision_state, node.power_state, node.last_error],
      ['active', null, 'power on', null],
    );
    // Booted once, into the instance: no ramdisk, so no agent was waited for.
    assert.equal(node.driver_internal_info.ramdisk_boots ?? 0, 0);
    assert.equal(node.driver_internal_info.instance_boots, 1);

    node = await act(uuid, 'power', 'power off');
    assert.deepEqual([node.power_state, node.target_power_state], ['power off', null]);
    node = await act(uuid, 'power', 'power on');
    assert.deepEqual([node.power_state, node.target_power_state], ['power on', null]);

    node = await act(uuid, 'provision', 'deleted');
    assert.deepEqual(
      [node.provision_state, node.target_provision_state, node.power_state, node.last_error],
      ['available', null, 'power off', null],
    );
    // The tear-down powered the machine off; the cleaning after it, with nothing to run, does not again.
    const { events } = await h.client.workflow.getHandle(`node/${uuid}`).fetchHistory();
    const powerCalls = (events ?? []).filter((e) => {
      const data = e.markerRecordedEventAttributes?.details?.data?.payloads?.[0]?.data;
      return data && JSON.parse(Buffer.from(data).toString()).activity_type === 'bmcChangePower';
    });
    assert.equal(powerCalls.length, 1);

    const { body } = await h.get(`/v1/nodes/${uuid}/history?kind=provision`);
    const transitions = body.history.map((e: any) => `${e.from_state}→${e.to_state}`);
    for (const expected of [
      'enroll→verifying',
      'manageable→cleaning',
      'available→deploying',
      'deploying→active',
      'active→deleting',
      'cleaning→available',
    ]) {
      assert.ok(transitions.includes(expected), `${expected} in ${transitions.join(', ')}`);
    }
    assert.ok(
      !transitions.some((t: string) => t.endsWith('wait call-back') || t.endsWith('clean wait')),
      'no wait for an agent',
    );
  });

  it('still asks for an image before a deploy, and changes nothing when it is missing', async () => {
    const uuid = await enroll('fake-1');
    await act(uuid, 'provision', 'manage');
    await act(uuid, 'provision', 'provide');
    const refused = await h.http('PUT', `/v1/nodes/${uuid}/states/provision`, { target: 'active' });
    assert.equal(refused.status, 400);
    assert.match(refused.body.error.field ?? refused.body.error.message, /image_source/);
    assert.equal((await h.get(`/v1/nodes/${uuid}`)).body.provision_state, 'available');
  });

  it('refuses an unknown deploy interface naming the field', async () => {
    const refused = await h.http('POST', '/v1/nodes', { name: 'fake-2', driver: 'fake', deploy_interface: 'noop' });
    assert.equal(refused.status, 400);
    assert.match(JSON.stringify(refused.body.error), /deploy_interface/);
  });
});
