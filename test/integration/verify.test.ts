import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startHarness, type Harness } from '../support/harness.js';

describe('verify: enroll → manage → manageable', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ labCount: 4, powerDelayMs: 100 });
  });
  after(() => h?.close());

  it('manages three lab nodes: verifying, then manageable with the BMC power state learned', async () => {
    const nodes = h.nodeUuids.slice(0, 3);
    for (const uuid of nodes) {
      const { status, headers } = await h.http('PUT', `/v1/nodes/${uuid}/states/provision`, { target: 'manage' });
      assert.equal(status, 202);
      assert.match(headers.get('location') ?? '', new RegExp(`/v1/nodes/${uuid}/states$`));
    }
    for (const uuid of nodes) {
      const node = await h.waitFor(`/v1/nodes/${uuid}`, (n) => n.provision_state === 'manageable');
      assert.equal(node.target_provision_state, null);
      assert.equal(node.last_error, null);
      assert.equal(node.power_state, 'power off');
    }
    const history = await h.get(`/v1/nodes/${nodes[0]}/history?kind=provision`);
    assert.deepEqual(
      history.body.history.map((e: any) => [e.from_state, e.to_state]),
      [
        ['enroll', 'verifying'],
        ['verifying', 'manageable'],
      ],
    );
    assert.ok(history.body.history.every((e: any) => e.workflow_id === `node/${nodes[0]}`));
  });

  it('leaves a node with a wrong BMC password in enroll with a readable last_error', async () => {
    const uuid = h.nodeUuids[3];
    const wrong = 'not-the-password';
    assert.equal(
      (
        await h.http('PATCH', `/v1/nodes/${uuid}`, [
          { op: 'replace', path: '/driver_info/redfish_password', value: wrong },
        ])
      ).status,
      200,
    );
    assert.equal((await h.http('PUT', `/v1/nodes/${uuid}/states/provision`, { target: 'manage' })).status, 202);
    const node = await h.waitFor(`/v1/nodes/${uuid}`, (n) => n.provision_state === 'enroll' && n.last_error);
    assert.match(node.last_error, /credentials|401|unauthori[sz]ed/i);
    assert.ok(!node.last_error.includes(wrong));
    const events = await h.get(`/v1/events?node=${uuid}&kind=provision`);
    assert.deepEqual(
      events.body.events.map((e: any) => e.to_state),
      ['verifying', 'enroll'],
    );
  });
});
