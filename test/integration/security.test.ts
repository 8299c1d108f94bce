// The holes a security review found (issue 11), each tried the way an attacker would, against the
// real API, database, Temporal and lab BMCs: every one must stay closed.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { findNode } from '../../src/db/nodes.js';
import { startHarness, type Harness } from '../support/harness.js';
import { assertNoSecret } from '../support/secrets.js';

describe('security', () => {
  let h: Harness;
  const tokens: Record<string, string> = {};

  async function makeToken(project_id: string, user_id: string, role = 'member'): Promise<string> {
    const response = await h.http('POST', '/v1/auth/tokens', { project_id, user_id, role });
    assert.equal(response.status, 201, JSON.stringify(response.body));
    return response.body.token as string;
  }

  before(async () => {
    h = await startHarness({ labCount: 1, powerDelayMs: 0 });
    tokens.owner = await makeToken('project-a', 'alice');
    tokens.lessee = await makeToken('project-b', 'bob');
    tokens.nextLessee = await makeToken('project-c', 'carol');
  });
  after(() => h?.close());

  const stored = async (uuid: string) => (await findNode(h.pool, uuid))!;

  describe('JSON Patch cannot read a secret', () => {
    const attempts: Array<[string, unknown[], string]> = [
      ['copy of driver_info into extra', [{ op: 'copy', from: '/driver_info', path: '/extra/loot' }], 'driver_info'],
      ['move of driver_info into extra', [{ op: 'move', from: '/driver_info', path: '/extra/loot' }], 'driver_info'],
      ['copy of the password itself', [{ op: 'copy', from: '/driver_info/redfish_password', path: '/extra/loot' }], 'driver_info.redfish_password'],
      ['copy of instance_info holding a config drive', [{ op: 'copy', from: '/instance_info', path: '/extra/loot' }], 'instance_info'],
      ['test of the password (an oracle)', [{ op: 'test', path: '/driver_info/redfish_password', value: 'guess' }], 'driver_info.redfish_password'],
      ['test of driver_info as a whole', [{ op: 'test', path: '/driver_info', value: {} }], 'driver_info'],
    ];

    before(async () => {
      const uuid = h.nodeUuids[0];
      const r = await h.http('PATCH', `/v1/nodes/${uuid}`, { instance_info: { configdrive: 'user-data-with-keys-0123', image_source: 'http://x/y.raw' } });
      assert.equal(r.status, 200, JSON.stringify(r.body));
    });

    for (const [what, body, field] of attempts) {
      it(`refuses a ${what} with 400 naming ${field}, and changes nothing`, async () => {
        const uuid = h.nodeUuids[0];
        const before = await stored(uuid);
        const response = await h.http('PATCH', `/v1/nodes/${uuid}`, body);
        assert.equal(response.status, 400, JSON.stringify(response.body));
        assert.equal(response.body.error.field, field);
        assertNoSecret('the answer', JSON.stringify(response.body), [h.credentials.password, 'user-data-with-keys-0123']);
        assert.deepEqual(await stored(uuid), before);
      });
    }

    it('answers a test of the right password exactly as one of a wrong guess', async () => {
      const uuid = h.nodeUuids[0];
      const guess = (value: string) => h.http('PATCH', `/v1/nodes/${uuid}`, [{ op: 'test', path: '/driver_info/redfish_password', value }]);
      const [right, wrong] = await Promise.all([guess(h.credentials.password), guess('wrong')]);
      assert.equal(right.status, 400);
      assert.deepEqual(right.body.error, wrong.body.error);
    });

    it('masks a secret-looking key wherever it is stored, extra included', async () => {
      const uuid = h.nodeUuids[0];
      const response = await h.http('PATCH', `/v1/nodes/${uuid}`, [{ op: 'add', path: '/extra/api_token', value: 'stored-in-extra-0123' }]);
      assert.equal(response.status, 200, JSON.stringify(response.body));
      assert.equal(response.body.extra.api_token, '******');
      assert.equal((await stored(uuid)).extra.api_token, 'stored-in-extra-0123', 'kept as given');
      assertNoSecret('the node', JSON.stringify((await h.get(`/v1/nodes/${uuid}`)).body), ['stored-in-extra-0123']);
    });

    it('wants the password again when the BMC address changes, so the stored one never reaches a new host', async () => {
      const uuid = h.nodeUuids[0];
      const { redfish_address: address } = (await stored(uuid)).driver_info as { redfish_address: string };
      const elsewhere = 'http://127.0.0.1:9';
      for (const body of [
        { driver_info: { redfish_address: elsewhere } },
        [{ op: 'replace', path: '/driver_info/redfish_address', value: elsewhere }],
      ]) {
        const refused = await h.http('PATCH', `/v1/nodes/${uuid}`, body);
        assert.equal(refused.status, 400, JSON.stringify(refused.body));
        assert.equal(refused.body.error.field, 'driver_info.redfish_password');
        assert.equal((await stored(uuid)).driver_info.redfish_address, address);
      }
      const moved = await h.http('PATCH', `/v1/nodes/${uuid}`, { driver_info: { redfish_address: elsewhere, redfish_password: 'for-the-new-bmc' } });
      assert.equal(moved.status, 200, JSON.stringify(moved.body));
      // Other driver_info changes keep the stored password as they always did.
      const back = await h.http('PATCH', `/v1/nodes/${uuid}`, { driver_info: { redfish_address: address, redfish_password: h.credentials.password } });
      assert.equal(back.status, 200);
      const renamed = await h.http('PATCH', `/v1/nodes/${uuid}`, { driver_info: { redfish_auth_type: 'basic' } });
      assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
      assert.equal((await stored(uuid)).driver_info.redfish_password, h.credentials.password);
    });
  });
});
