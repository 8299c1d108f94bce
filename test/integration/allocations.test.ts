// The allocation API as Ironic users know it: a node of a class with traits is picked atomically
// (100 at once get 100 distinct nodes; the 101st gets an error), only available, healthy nodes the
// caller's project owns or leases are candidates, and PATCH, DELETE, backfill and the node's
// allocation work as in Ironic.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { insertNode, type NodeChanges } from '../../src/db/nodes.js';
import { startHarness, type Harness } from '../support/harness.js';
import { tenantTokens, type Tenant } from '../support/tenants.js';

describe('allocations', () => {
  let h: Harness;
  let tokens: Record<Tenant, string>;

  /** A node ready to allocate (available, power known), owned by acme unless told otherwise. */
  async function node(resourceClass: string, fields: NodeChanges = {}): Promise<string> {
    const uuid = randomUUID();
    await insertNode(h.pool, {
      uuid,
      driver: 'fake',
      resource_class: resourceClass,
      provision_state: 'available',
      power_state: 'power off',
      owner: 'acme',
      ...fields,
    });
    return uuid;
  }

  const allocate = (body: Record<string, unknown>, token?: string) => h.http('POST', '/v1/allocations', body, token);

  before(async () => {
    h = await startHarness();
    tokens = await tenantTokens(h);
  });
  after(async () => h?.close());

  it('gives 100 concurrent allocations 100 distinct nodes, and the 101st of 101 an error', async () => {
    const nodes = new Set(await Promise.all(Array.from({ length: 100 }, () => node('race'))));
    const first = await Promise.all(
      Array.from({ length: 100 }, () => allocate({ resource_class: 'race' }, tokens.alice)),
    );
    assert.deepEqual(
      first.map((r) => r.status),
      Array(100).fill(201),
    );
    assert.deepEqual(
      first.map((r) => r.body.state),
      Array(100).fill('active'),
    );
    const picked = new Set(first.map((r) => r.body.node_uuid));
    assert.equal(picked.size, 100);
    assert.deepEqual(
      [...picked].filter((uuid) => !nodes.has(uuid)),
      [],
    );

    await Promise.all(Array.from({ length: 100 }, () => node('race-101')));
    const second = await Promise.all(
      Array.from({ length: 101 }, () => allocate({ resource_class: 'race-101' }, tokens.alice)),
    );
    const errors = second.filter((r) => r.body.state === 'error');
    assert.equal(errors.length, 1);
    assert.match(errors[0].body.last_error, /no available node of resource class race-101/);
    assert.equal(new Set(second.filter((r) => r.body.state === 'active').map((r) => r.body.node_uuid)).size, 100);
    // Each picked node names its allocation and instance, as in Ironic.
    const shown = (await h.get(`/v1/nodes/${first[0].body.node_uuid}`)).body;
    assert.deepEqual([shown.allocation_uuid, shown.instance_uuid], [first[0].body.uuid, first[0].body.uuid]);
  });

  it('takes only available, healthy nodes the project owns or leases, with the traits asked for', async () => {
    const rc = 'rules';
    await node(rc, { maintenance: true });
    await node(rc, { retired: true });
    await node(rc, { provision_state: 'manageable' });
    await node(rc, { power_state: null });
    await node(rc, { owner: 'zed' });
    await node(rc, { traits: ['CUSTOM_A'] });
    const leased = await node(rc, { owner: 'zed', lessee: 'acme', traits: ['CUSTOM_A', 'CUSTOM_B'] });
    const withTraits = await allocate({ resource_class: rc, traits: ['CUSTOM_A', 'CUSTOM_B'] }, tokens.alice);
    assert.deepEqual(
      [withTraits.status, withTraits.body.state, withTraits.body.node_uuid, withTraits.body.owner],
      [201, 'active', leased, 'acme'],
    );
    const none = await allocate({ resource_class: rc, traits: ['CUSTOM_B'] }, tokens.alice);
    assert.deepEqual([none.status, none.body.state, none.body.node_uuid], [201, 'error', null]);
    // A node bigco neither owns nor leases is unknown to it, even when named.
    const stranger = await allocate({ resource_class: rc, candidate_nodes: [leased] }, tokens.bob);
    assert.deepEqual([stranger.status, stranger.body.error.field], [400, 'candidate_nodes.0']);
  });

  it('prefers pre-booted nodes, then the node named like the allocation, then enrolment order', async () => {
    const rc = 'order';
    const [oldest, named] = [await node(rc), await node(rc, { name: 'pick-me' })];
    const warm = await node(rc, {
      power_state: 'power on',
      traits: ['CUSTOM_PREBOOTED'],
    });
    assert.equal((await allocate({ resource_class: rc }, tokens.alice)).body.node_uuid, warm);
    assert.equal((await allocate({ resource_class: rc, name: 'pick-me' }, tokens.alice)).body.node_uuid, named);
    assert.equal((await allocate({ resource_class: rc }, tokens.alice)).body.node_uuid, oldest);
    const candidates = [await node(rc), await node(rc)];
    assert.equal(
      (await allocate({ resource_class: rc, candidate_nodes: [candidates[1]] }, tokens.alice)).body.node_uuid,
      candidates[1],
    );
  });

  it('lists with filters, shows, patches name and extra, and deletes to free the node, for its owner only', async () => {
    const nodeUuid = await node('crud', { name: 'crud-node' });
    const created = await allocate({ resource_class: 'crud', name: 'mine', extra: { ticket: 7 } }, tokens.alice);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const self = `/v1/allocations/${created.body.uuid}`;
    assert.equal(created.headers.get('location'), self);
    assert.equal((await h.http('GET', '/v1/allocations/mine', undefined, tokens.auditor)).body.uuid, created.body.uuid);
    assert.equal((await h.http('GET', self, undefined, tokens.eve)).status, 404);
    assert.equal((await h.http('GET', self, undefined, tokens.bob)).status, 404);
    assert.equal(
      (await h.http('GET', '/v1/nodes/crud-node/allocation', undefined, tokens.alice)).body.uuid,
      created.body.uuid,
    );

    const listed = async (query: string, token = tokens.alice) =>
      (await h.http('GET', `/v1/allocations?${query}`, undefined, token)).body.allocations.map((a: any) => a.uuid);
    assert.deepEqual(await listed('resource_class=crud'), [created.body.uuid]);
    assert.deepEqual(await listed('node=crud-node&state=active'), [created.body.uuid]);
    assert.deepEqual(await listed('resource_class=crud&state=error'), []);
    assert.deepEqual(await listed('resource_class=crud', tokens.eve), []);

    const merged = await h.http('PATCH', self, { name: 'renamed', extra: { ticket: 8 } }, tokens.alice);
    assert.deepEqual([merged.status, merged.body.name, merged.body.extra], [200, 'renamed', { ticket: 8 }]);
    const patched = await h.http('PATCH', self, [{ op: 'add', path: '/extra/team', value: 'ops' }], tokens.alice);
    assert.deepEqual(patched.body.extra, { ticket: 8, team: 'ops' });
    for (const [body, field] of [
      [{ resource_class: 'x' }, 'resource_class'],
      [{ node_uuid: nodeUuid }, 'node_uuid'],
      [{ name: 'a b' }, 'name'],
    ] as const) {
      const refused = await h.http('PATCH', self, body, tokens.alice);
      assert.deepEqual([refused.status, refused.body.error.field], [400, field]);
    }
    assert.equal((await h.http('PATCH', self, { name: 'x' }, tokens.auditor)).status, 403);

    // A deployed node keeps its allocation.
    await h.pool.query(`UPDATE nodes SET provision_state = 'active' WHERE uuid = $1`, [nodeUuid]);
    assert.deepEqual((await h.http('DELETE', self, undefined, tokens.alice)).body.error.code, 'illegal_state');
    await h.pool.query(`UPDATE nodes SET provision_state = 'available' WHERE uuid = $1`, [nodeUuid]);
    assert.equal((await h.http('DELETE', self, undefined, tokens.eve)).status, 404);
    assert.equal((await h.http('DELETE', self, undefined, tokens.alice)).status, 204);
    assert.equal((await h.get(self)).status, 404);
    const freed = (await h.get(`/v1/nodes/${nodeUuid}`)).body;
    assert.deepEqual([freed.allocation_uuid, freed.instance_uuid], [null, null]);
    assert.equal((await h.get(`/v1/nodes/${nodeUuid}/allocation`)).status, 404);
    const events = (await h.get(`/v1/events?node=${nodeUuid}&kind=allocation`)).body.events.map((e: any) => [
      e.event,
      e.user,
    ]);
    assert.deepEqual(events, [
      ['allocate', 'alice'],
      ['delete', 'alice'],
    ]);
  });

  it('backfills an allocation for a deployed node', async () => {
    const deployed = await node('backfill', { provision_state: 'active', traits: ['CUSTOM_X'] });
    const backfilled = await allocate({ node: deployed, traits: ['CUSTOM_X'] }, tokens.alice);
    assert.deepEqual(
      [backfilled.status, backfilled.body.state, backfilled.body.node_uuid, backfilled.body.resource_class],
      [201, 'active', deployed, 'backfill'],
    );
    const again = await allocate({ node: deployed }, tokens.alice);
    assert.deepEqual([again.status, again.body.error.code], [409, 'node_allocated']);
    assert.equal((await allocate({ node: deployed }, tokens.eve)).status, 404);
    assert.deepEqual(
      (await allocate({ node: deployed, resource_class: 'other' }, tokens.alice)).body.error.field,
      'resource_class',
    );
  });

  it('refuses bad input with the field named, and allocating for another project', async () => {
    const cases: Array<[Record<string, unknown>, number, string | undefined, string?]> = [
      [{}, 400, 'resource_class'],
      [{ resource_class: 'x', traits: ['lower'] }, 400, 'traits.0'],
      [{ resource_class: 'x', name: 'has space' }, 400, 'name'],
      [{ resource_class: 'x', uuid: 'nope' }, 400, 'uuid'],
      [{ resource_class: 'x', flavor: 'big' }, 400, 'flavor'],
      [{ resource_class: 'x', candidate_nodes: ['no-such-node'] }, 400, 'candidate_nodes.0'],
      [{ resource_class: 'x', owner: 'zed' }, 403, undefined],
      [{ resource_class: 'x' }, 403, undefined, tokens.auditor],
    ];
    for (const [body, status, field, token = tokens.alice] of cases) {
      const response = await allocate(body, token);
      assert.deepEqual([response.status, response.body.error.field], [status, field], JSON.stringify(response.body));
    }
    assert.deepEqual(
      (await h.http('GET', '/v1/allocations?resource_class=x', undefined, tokens.alice)).body.allocations,
      [],
    );
  });
});
