// JSON a caller may send but PostgreSQL or later readers cannot take: a lone UTF-16 surrogate,
// values nested thousands deep, oversized free-form fields. Each is a 400 naming the field, and
// changes nothing.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startHarness, type Harness } from '../support/harness.js';

/** {"a": {"a": … {}}}, `levels` objects deep. */
function nested(levels: number): Record<string, unknown> {
  let value: Record<string, unknown> = {};
  for (let i = 1; i < levels; i++) value = { a: value };
  return value;
}

describe('JSON shape limits', () => {
  let h: Harness;
  let uuid: string;
  before(async () => {
    h = await startHarness();
    uuid = (await h.http('POST', '/v1/nodes', { driver: 'fake', extra: { kept: 'yes' } })).body.uuid;
  });
  after(() => h?.close());

  const unchanged = async () => {
    const node = (await h.get(`/v1/nodes/${uuid}`)).body;
    assert.deepEqual(node.extra, { kept: 'yes' });
  };

  it('refuses a lone surrogate in any string or key, naming the field', async () => {
    const cases: Array<[string, string, string, string]> = [
      // JSON.stringify writes a lone surrogate as the escape "\ud800", as an attacker would.
      ['PATCH', `/v1/nodes/${uuid}`, JSON.stringify({ extra: { note: 'x\ud800' } }), 'extra.note'],
      ['PATCH', `/v1/nodes/${uuid}`, JSON.stringify([{ op: 'add', path: '/extra/note', value: '\udc00' }]), '0.value'],
      ['PATCH', `/v1/nodes/${uuid}`, JSON.stringify({ extra: { ['k\ud800']: 1 } }), 'extra'],
      ['POST', '/v1/nodes', JSON.stringify({ driver: 'fake', properties: { cpu: ['\ud83d'] } }), 'properties.cpu.0'],
      ['POST', '/v1/nodes', JSON.stringify({ driver: 'fake', name: 'a\udfff' }), 'name'],
      ['PUT', `/v1/nodes/${uuid}/maintenance`, JSON.stringify({ reason: '\ud800' }), 'reason'],
    ];
    for (const [method, path, body, field] of cases) {
      const response = await h.http(method, path, body);
      assert.equal(response.status, 400, `${method} ${path} ${body}: ${JSON.stringify(response.body)}`);
      assert.equal(response.body.error.field, field, body);
      assert.match(response.body.error.message, /surrogate/);
    }
    await unchanged();
    assert.equal((await h.get(`/v1/nodes/${uuid}`)).body.maintenance, false);
    // A well-formed pair (an emoji) is fine.
    const emoji = await h.http('POST', '/v1/nodes', { driver: 'fake', extra: { mood: '\ud83d\ude00' } });
    assert.equal(emoji.status, 201);
    assert.equal(emoji.body.extra.mood, '😀');
  });

  it('caps how deep and how large a free-form field may be', async () => {
    const cases: Array<[string, string, unknown, string]> = [
      ['PATCH', `/v1/nodes/${uuid}`, { extra: { deep: nested(3000) } }, 'extra.deep'],
      ['PATCH', `/v1/nodes/${uuid}`, [{ op: 'add', path: '/extra/deep', value: nested(32) }], 'extra'],
      ['PATCH', `/v1/nodes/${uuid}`, { driver_info: nested(33) }, 'driver_info'],
      ['PATCH', `/v1/nodes/${uuid}`, { extra: { big: 'x'.repeat(100 * 1024) } }, 'extra'],
      ['POST', '/v1/nodes', { driver: 'fake', properties: nested(34) }, 'properties'],
      [
        'PUT',
        `/v1/nodes/${uuid}/states/provision`,
        { target: 'active', configdrive: { meta_data: nested(100) } },
        'configdrive.meta_data',
      ],
    ];
    for (const [method, path, body, field] of cases) {
      const response = await h.http(method, path, body);
      assert.equal(response.status, 400, `${method} ${path}: ${JSON.stringify(response.body)}`);
      assert.equal(response.body.error.field, field);
    }
    await unchanged();
    // At the limit it is taken, and the node stays patchable afterwards.
    const atLimit = await h.http('PATCH', `/v1/nodes/${uuid}`, [{ op: 'add', path: '/extra/deep', value: nested(31) }]);
    assert.equal(atLimit.status, 200, JSON.stringify(atLimit.body));
    const later = await h.http('PATCH', `/v1/nodes/${uuid}`, [{ op: 'remove', path: '/extra/deep' }]);
    assert.equal(later.status, 200, JSON.stringify(later.body));
    await unchanged();
  });
});
