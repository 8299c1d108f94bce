// The API as an operator meets it: enrolment, lists and paging, patches, ports, maintenance,
// events, and what bad input gets back (a 4xx naming the field, and nothing changed).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startHarness, type Harness } from '../support/harness.js';

const redfishInfo = {
  redfish_address: 'http://127.0.0.1:9',
  redfish_username: 'admin',
  redfish_password: 'hunter2-secret',
};

describe('nodes, ports and events API', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h?.close());

  async function createNode(body: Record<string, unknown>) {
    const response = await h.http('POST', '/v1/nodes', body);
    assert.equal(response.status, 201, JSON.stringify(response.body));
    return response.body;
  }

  it('enrolls a node in enroll, masks secrets, and finds it by uuid or name', async () => {
    const node = await createNode({
      name: 'rack1-u01',
      driver: 'redfish',
      driver_info: redfishInfo,
      resource_class: 'gpu',
    });
    assert.equal(node.provision_state, 'enroll');
    assert.equal(node.driver_info.redfish_password, '******');
    assert.equal(node.driver_info.redfish_username, 'admin');
    assert.equal((await h.get(`/v1/nodes/${node.uuid}`)).body.name, 'rack1-u01');
    assert.equal((await h.get('/v1/nodes/rack1-u01')).body.uuid, node.uuid);
  });

  it('lists with filters and pages with limit and marker, giving the next page as a URL', async () => {
    for (let i = 0; i < 5; i++) await createNode({ name: `page-${i}`, driver: 'fake', resource_class: 'paging' });
    const seen: string[] = [];
    let url: string | undefined = '/v1/nodes?resource_class=paging&limit=2';
    while (url) {
      const { status, body }: { status: number; body: any } = await h.get(url);
      assert.equal(status, 200);
      seen.push(...body.nodes.map((n: any) => n.name));
      url = body.next ? new URL(body.next).pathname + new URL(body.next).search : undefined;
    }
    assert.deepEqual(seen, ['page-0', 'page-1', 'page-2', 'page-3', 'page-4']);
    assert.equal((await h.get('/v1/nodes?driver=redfish')).body.nodes.length, 1);
    assert.equal((await h.get('/v1/nodes?provision_state=manageable')).body.nodes.length, 0);
    assert.equal((await h.get('/v1/nodes?maintenance=false&resource_class=paging')).body.nodes.length, 5);
  });

  it('lists every change to a node, whoever wrote it, as the node itself shows it', async () => {
    const node = await createNode({
      name: 'listed',
      driver: 'redfish',
      driver_info: redfishInfo,
      resource_class: 'seen',
    });
    const listed = async () => (await h.get('/v1/nodes?resource_class=seen')).body.nodes;
    assert.deepEqual(await listed(), [(await h.get(`/v1/nodes/${node.uuid}`)).body]);
    // Through the API, and as a worker writes: straight to the row, in a transaction of its own.
    await h.http('PATCH', `/v1/nodes/${node.uuid}`, [{ op: 'add', path: '/extra/rack', value: 'r9' }]);
    assert.equal((await listed())[0].extra.rack, 'r9');
    await h.pool.query(`UPDATE nodes SET power_state = 'power on' WHERE uuid = $1`, [node.uuid]);
    assert.equal((await listed())[0].power_state, 'power on');
    assert.deepEqual(await listed(), [(await h.get(`/v1/nodes/${node.uuid}`)).body]);
    assert.equal((await listed())[0].driver_info.redfish_password, '******');
    assert.equal((await h.http('DELETE', `/v1/nodes/${node.uuid}`)).status, 204);
    assert.deepEqual(await listed(), []);
  });

  it('answers a node list asked again with If-None-Match 304 until a node in it changes', async () => {
    const node = await createNode({ name: 'tagged', driver: 'fake', resource_class: 'tagged' });
    // As a browser's cache revalidates (fetch itself would add cache-control: no-cache, which forbids a 304).
    const list = (etag?: string) =>
      fetch(`${h.apiUrl}/v1/nodes?resource_class=tagged`, {
        headers: {
          authorization: `Bearer ${h.adminToken}`,
          ...(etag && { 'if-none-match': etag, 'cache-control': 'max-age=0' }),
        },
      });
    const first = await list();
    const etag = first.headers.get('etag')!;
    assert.match(etag, /^W\/"/);
    const again = await list(etag);
    assert.equal(again.status, 304, `${etag} then ${again.headers.get('etag')}`);
    await h.http('PATCH', `/v1/nodes/${node.uuid}`, [{ op: 'add', path: '/extra/rack', value: 'r1' }]);
    const changed = await list(etag);
    assert.equal(changed.status, 200);
    assert.equal((await changed.json()).nodes[0].extra.rack, 'r1');
    assert.notEqual(changed.headers.get('etag'), etag);
  });

  it('patches with JSON Patch and merge patch, and refuses read-only fields', async () => {
    const node = await createNode({ name: 'patchy', driver: 'fake' });
    let r = await h.http('PATCH', `/v1/nodes/${node.uuid}`, [
      { op: 'add', path: '/extra/rack', value: 'r7' },
      { op: 'replace', path: '/owner', value: 'project-a' },
    ]);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual([r.body.extra, r.body.owner], [{ rack: 'r7' }, 'project-a']);
    r = await h.http('PATCH', `/v1/nodes/${node.uuid}`, { extra: { rack: null, row: 3 }, lessee: 'project-b' });
    assert.deepEqual([r.body.extra, r.body.lessee, r.body.owner], [{ row: 3 }, 'project-b', 'project-a']);
    r = await h.http('PATCH', `/v1/nodes/${node.uuid}`, [{ op: 'remove', path: '/owner' }]);
    assert.equal(r.body.owner, null);

    r = await h.http('PATCH', `/v1/nodes/${node.uuid}`, [{ op: 'replace', path: '/provision_state', value: 'active' }]);
    assert.equal(r.status, 400);
    assert.equal(r.body.error.field, 'provision_state');
    r = await h.http('PATCH', `/v1/nodes/${node.uuid}`, { driver: 'redfish' });
    assert.equal(r.status, 400);
    assert.equal(r.body.error.field, 'driver_info.redfish_address');
    assert.equal((await h.get(`/v1/nodes/${node.uuid}`)).body.driver, 'fake');
  });

  it('manages a fake node and manages ports, maintenance and deletion', async () => {
    const node = await createNode({ name: 'lifecycle', driver: 'fake' });
    const port = await h.http('POST', '/v1/ports', { address: '52:54:00:AA:BB:CC', node_uuid: node.uuid });
    assert.equal(port.status, 201);
    assert.equal(port.body.address, '52:54:00:aa:bb:cc');
    assert.equal(
      (await h.http('POST', '/v1/ports', { address: '52:54:00:aa:bb:cc', node_uuid: node.uuid })).status,
      409,
    );
    assert.equal((await h.get(`/v1/ports?node=${node.uuid}`)).body.ports.length, 1);
    assert.equal((await h.get(`/v1/ports/${port.body.uuid}`)).body.node_uuid, node.uuid);

    assert.equal((await h.http('PUT', `/v1/nodes/${node.uuid}/maintenance`, { reason: 'fan noise' })).status, 202);
    let current = (await h.get(`/v1/nodes/${node.uuid}`)).body;
    assert.deepEqual([current.maintenance, current.maintenance_reason], [true, 'fan noise']);
    // Maintenance does not stop an operator from managing the node.
    assert.equal((await h.http('PUT', `/v1/nodes/${node.uuid}/states/provision`, { target: 'manage' })).status, 202);
    current = await h.waitFor(`/v1/nodes/${node.uuid}`, (n) => n.provision_state === 'manageable');
    assert.equal((await h.http('DELETE', `/v1/nodes/${node.uuid}/maintenance`)).status, 202);

    const maintenance = await h.get(`/v1/events?node=lifecycle&kind=maintenance`);
    assert.deepEqual(
      maintenance.body.events.map((e: any) => [e.event, e.message]),
      [
        ['set', 'fan noise'],
        ['unset', null],
      ],
    );

    const illegal = await h.http('PUT', `/v1/nodes/${node.uuid}/states/provision`, { target: 'deploy' });
    assert.equal(illegal.status, 409);
    assert.match(illegal.body.error.message, /"manageable"/);

    assert.equal((await h.http('DELETE', `/v1/ports/${port.body.uuid}`)).status, 204);
    assert.equal((await h.http('DELETE', `/v1/nodes/${node.uuid}`)).status, 204);
    assert.equal((await h.get(`/v1/nodes/${node.uuid}`)).status, 404);
    // The event log outlives the node.
    assert.ok((await h.get(`/v1/events?kind=provision`)).body.events.some((e: any) => e.node_uuid === node.uuid));
  });

  it('searches events by time range', async () => {
    const future = new Date(Date.now() + 3600_000).toISOString();
    assert.equal((await h.get(`/v1/events?since=${encodeURIComponent(future)}`)).body.events.length, 0);
    const past = new Date(Date.now() - 3600_000).toISOString();
    assert.ok(
      (await h.get(`/v1/events?since=${encodeURIComponent(past)}&until=${encodeURIComponent(future)}`)).body.events
        .length > 0,
    );
  });

  describe('bad input gets a 4xx naming the field and changes nothing', () => {
    const node = { uuid: '11111111-2222-4333-8444-555555555555' };
    let before: string;
    const snapshot = async () =>
      JSON.stringify((await h.get('/v1/nodes?limit=1000')).body) +
      JSON.stringify((await h.get('/v1/events?limit=1000')).body);
    it('setup', async () => {
      await createNode({ uuid: node.uuid, name: 'target-of-abuse', driver: 'fake' });
      before = await snapshot();
    });

    const cases: Array<[string, string, string, unknown, number, string?]> = [
      ['unknown field', 'POST', '/v1/nodes', { driver: 'fake', flavour: 'x' }, 400, 'flavour'],
      ['wrong type', 'POST', '/v1/nodes', { driver: 'fake', name: 42 }, 400, 'name'],
      ['unknown driver', 'POST', '/v1/nodes', { driver: 'carrier-pigeon' }, 400, 'driver'],
      ['missing driver', 'POST', '/v1/nodes', { name: 'x' }, 400, 'driver'],
      [
        'missing driver_info key',
        'POST',
        '/v1/nodes',
        { driver: 'redfish', driver_info: { redfish_address: 'http://x' } },
        400,
        'driver_info.redfish_username',
      ],
      [
        'unknown driver_info key',
        'POST',
        '/v1/nodes',
        { driver: 'fake', driver_info: { ipmi_address: 'x' } },
        400,
        'driver_info.ipmi_address',
      ],
      ['bad uuid', 'POST', '/v1/nodes', { driver: 'fake', uuid: 'not-a-uuid' }, 400, 'uuid'],
      [
        'name that looks like a uuid',
        'POST',
        '/v1/nodes',
        { driver: 'fake', name: '5e1ab000-0000-4000-8000-000000000001' },
        400,
        'name',
      ],
      ['duplicate name', 'POST', '/v1/nodes', { driver: 'fake', name: 'target-of-abuse' }, 409],
      ['invalid JSON', 'POST', '/v1/nodes', '{"driver": "fake",', 400, 'body'],
      ['array body', 'POST', '/v1/nodes', [1, 2], 400],
      ['huge body', 'POST', '/v1/nodes', { driver: 'fake', extra: { blob: 'x'.repeat(2_000_000) } }, 413],
      ['unknown node', 'GET', '/v1/nodes/no-such-node', undefined, 404],
      [
        'unknown node uuid',
        'PUT',
        '/v1/nodes/00000000-0000-4000-8000-000000000000/states/power',
        { target: 'power on' },
        404,
      ],
      ['bad power target', 'PUT', `/v1/nodes/${node.uuid}/states/power`, { target: 'power sideways' }, 400, 'target'],
      [
        'extra power field',
        'PUT',
        `/v1/nodes/${node.uuid}/states/power`,
        { target: 'power on', force: true },
        400,
        'force',
      ],
      [
        'unknown provision target',
        'PUT',
        `/v1/nodes/${node.uuid}/states/provision`,
        { target: 'explode' },
        400,
        'target',
      ],
      ['illegal verb', 'PUT', `/v1/nodes/${node.uuid}/states/provision`, { target: 'deploy' }, 409],
      ['bad limit', 'GET', '/v1/nodes?limit=0', undefined, 400, 'query.limit'],
      ['bad marker', 'GET', '/v1/nodes?marker=zzz', undefined, 400, 'query.marker'],
      ['unknown query parameter', 'GET', '/v1/nodes?colour=blue', undefined, 400, 'query.colour'],
      ['bad event kind', 'GET', '/v1/events?kind=weather', undefined, 400, 'query.kind'],
      ['bad time', 'GET', '/v1/events?since=yesterday', undefined, 400, 'query.since'],
      ['bad MAC', 'POST', '/v1/ports', { address: 'not-a-mac', node_uuid: node.uuid }, 400, 'address'],
      [
        'port for an unknown node',
        'POST',
        '/v1/ports',
        { address: '52:54:00:00:00:99', node_uuid: '00000000-0000-4000-8000-000000000000' },
        400,
        'node_uuid',
      ],
      ['bad port id', 'GET', '/v1/ports/xyz', undefined, 400, 'port'],
      [
        'patch of an unknown field',
        'PATCH',
        `/v1/nodes/${node.uuid}`,
        [{ op: 'add', path: '/colour', value: 'red' }],
        400,
        'colour',
      ],
      [
        'patch with a bad op',
        'PATCH',
        `/v1/nodes/${node.uuid}`,
        [{ op: 'frobnicate', path: '/name' }],
        400,
        'body.0.op',
      ],
      [
        'patch removing a missing key',
        'PATCH',
        `/v1/nodes/${node.uuid}`,
        [{ op: 'remove', path: '/extra/nothing' }],
        400,
      ],
      [
        'patch with a bad value',
        'PATCH',
        `/v1/nodes/${node.uuid}`,
        { boot_interface: 'carrier-pigeon' },
        400,
        'boot_interface',
      ],
      ['unknown route', 'GET', '/v1/nope', undefined, 404],
    ];
    for (const [what, method, path, body, status, field] of cases) {
      it(`${what}: ${status}${field ? ` naming ${field}` : ''}`, async () => {
        const response = await h.http(method, path, body);
        assert.equal(response.status, status, JSON.stringify(response.body));
        assert.equal(typeof response.body.error.message, 'string');
        assert.equal(typeof response.body.error.code, 'string');
        if (field) assert.equal(response.body.error.field, field);
      });
    }

    it('changed nothing', async () => {
      assert.equal(await snapshot(), before);
    });
  });
});
