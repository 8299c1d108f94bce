// The Ironic API conventions Tempered follows for Ironic's clients: version discovery,
// microversion negotiation, the error body, fields, sorting, validate and the boot device.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MAX_API_VERSION, MIN_API_VERSION } from '../../src/api/ironic.js';
import { startHarness, type Harness } from '../support/harness.js';

describe('Ironic API conventions', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ labCount: 2 });
  });
  after(() => h?.close());

  const raw = (path: string, headers: Record<string, string> = {}) =>
    fetch(`${h.apiUrl}${path}`, { headers: { authorization: `Bearer ${h.config.adminToken}`, ...headers } });

  it("answers version discovery at / and /v1 without a token, in Ironic's shape", async () => {
    for (const path of ['/', '/v1', '/v1/']) {
      const response = await fetch(`${h.apiUrl}${path}`);
      assert.equal(response.status, 200, path);
      const body = await response.json();
      const version = path === '/' ? body.default_version : body.version;
      assert.deepEqual(
        {
          id: version.id,
          status: version.status,
          min: version.min_version,
          max: version.version,
          href: version.links[0].href,
        },
        { id: 'v1', status: 'CURRENT', min: MIN_API_VERSION, max: MAX_API_VERSION, href: `${h.apiUrl}/v1/` },
      );
      if (path === '/') assert.deepEqual(body.versions, [body.default_version]);
      else assert.equal(body.nodes[0].href, `${h.apiUrl}/v1/nodes/`);
    }
  });

  it('negotiates the microversion: latest, one in range, 406 beyond, 400 for nonsense', async () => {
    const versionOf = (r: Response) => [r.status, r.headers.get('x-openstack-ironic-api-version')];
    assert.deepEqual(versionOf(await raw('/v1/nodes')), [200, MAX_API_VERSION]);
    assert.deepEqual(versionOf(await raw('/v1/nodes', { 'X-OpenStack-Ironic-API-Version': 'latest' })), [
      200,
      MAX_API_VERSION,
    ]);
    assert.deepEqual(versionOf(await raw('/v1/nodes', { 'X-OpenStack-Ironic-API-Version': '1.31' })), [200, '1.31']);
    assert.deepEqual(versionOf(await raw('/v1/nodes', { 'OpenStack-API-Version': 'baremetal 1.46' })), [200, '1.46']);

    const tooNew = await raw('/v1/nodes', { 'X-OpenStack-Ironic-API-Version': '1.999' });
    assert.equal(tooNew.status, 406);
    assert.equal(tooNew.headers.get('x-openstack-ironic-api-minimum-version'), MIN_API_VERSION);
    assert.equal(tooNew.headers.get('x-openstack-ironic-api-maximum-version'), MAX_API_VERSION);
    const nonsense = await raw('/v1/nodes', { 'X-OpenStack-Ironic-API-Version': 'two' });
    assert.equal(nonsense.status, 400);
    assert.equal((await nonsense.json()).error.field, 'header.x-openstack-ironic-api-version');
  });

  it("puts Ironic's error_message beside its own error", async () => {
    const { status, body } = await h.get('/v1/nodes/no-such-node');
    assert.equal(status, 404);
    assert.equal(body.error.code, 'not_found');
    assert.deepEqual(JSON.parse(body.error_message), {
      faultstring: body.error.message,
      faultcode: 'Client',
      debuginfo: null,
    });
  });

  it('lists /v1/nodes/detail, picks fields, sorts by sort_key and sort_dir, pages in that order', async () => {
    const names = (body: any) => body.nodes.map((n: any) => n.name);
    // The lab enrolls concurrently: creation order is not name order.
    assert.deepEqual(names((await h.get('/v1/nodes/detail')).body).sort(), ['lab-000', 'lab-001']);
    assert.deepEqual(names((await h.get('/v1/nodes?sort_key=name')).body), ['lab-000', 'lab-001']);
    assert.deepEqual(names((await h.get('/v1/nodes?sort_key=name&sort_dir=desc')).body), ['lab-001', 'lab-000']);
    const firstPage = (await h.get('/v1/nodes?sort_key=name&sort_dir=desc&limit=1')).body;
    assert.deepEqual(names(firstPage), ['lab-001']);
    const next = new URL(firstPage.next);
    assert.deepEqual(names((await h.get(`${next.pathname}${next.search}`)).body), ['lab-000']);

    const picked = (await h.get('/v1/nodes?fields=uuid,provision_state')).body.nodes;
    assert.deepEqual(Object.keys(picked[0]).sort(), ['provision_state', 'uuid']);
    assert.deepEqual(Object.keys((await h.get('/v1/nodes/lab-000?fields=name')).body), ['name']);

    for (const [query, field] of [
      ['fields=uuid,driver_password', 'query.fields.1'],
      ['sort_key=driver_info', 'query.sort_key'],
      ['sort_dir=up', 'query.sort_dir'],
    ]) {
      const { status, body } = await h.get(`/v1/nodes?${query}`);
      assert.deepEqual([status, body.error.field], [400, field], query);
    }
  });

  it('validates a node per interface and reads and sets its boot device through the BMC', async () => {
    const validation = (await h.get('/v1/nodes/lab-000/validate')).body;
    assert.deepEqual(validation.power, { result: true, reason: null });
    assert.equal(validation.deploy.result, false);
    assert.match(validation.deploy.reason, /^instance_info\.image_source/);
    assert.deepEqual(validation.console, { result: null, reason: 'not supported' });

    assert.equal(
      (await h.http('PUT', '/v1/nodes/lab-000/management/boot_device', { boot_device: 'cdrom', persistent: true }))
        .status,
      204,
    );
    assert.deepEqual((await h.get('/v1/nodes/lab-000/management/boot_device')).body, {
      boot_device: 'cdrom',
      persistent: true,
    });
    const supported = (await h.get('/v1/nodes/lab-000/management/boot_device/supported')).body.supported_boot_devices;
    assert.ok(supported.includes('pxe') && supported.includes('disk'));
    const bad = await h.http('PUT', '/v1/nodes/lab-000/management/boot_device', { boot_device: 'floppy' });
    assert.deepEqual([bad.status, bad.body.error.field], [400, 'boot_device']);
  });
});
