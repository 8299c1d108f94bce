// The OpenAPI document as a client generator and a reader of the reference page meet it: served
// without a token, listing every route both listeners mount (and nothing they do not), and
// describing what the API really answers. The harness checks every response of every integration
// test against it; here a whole lifecycle runs through it, errors included.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { createAgentApp, createApp } from '../../src/api/app.js';
import { createApiMetrics } from '../../src/api/metrics.js';
import { openApiDocument } from '../../src/api/openapi.js';
import { Operations } from '../../src/api/operations.js';
import { RefusalLog } from '../../src/api/refusals.js';
import { startImageServer, writeDiskImage, type ImageServer } from '../../src/sim/images.js';
import { startHarness, type Harness } from '../support/harness.js';
import { createResponseChecker, documentedRoutes, mountedRoutes } from '../support/openapi.js';
import { ended } from '../support/workflows.js';

const MiB = 1024 ** 2;

describe('OpenAPI document', () => {
  let h: Harness;
  let images: ImageServer;
  let imageHash: string;

  before(async () => {
    h = await startHarness({ labCount: 1 });
    const file = path.join(path.dirname(h.logFile), 'disk.raw');
    imageHash = await writeDiskImage(file, 16 * MiB);
    images = await startImageServer({ 'disk.raw': file });
  });
  after(async () => {
    await images?.close();
    await h?.close();
  });

  it('is served at /v1/openapi.json without a token, as OpenAPI 3.1', async () => {
    const response = await fetch(`${h.apiUrl}/v1/openapi.json`);
    assert.equal(response.status, 200);
    const document = await response.json();
    assert.equal(document.openapi, '3.1.0');
    assert.deepEqual(document, JSON.parse(JSON.stringify(openApiDocument())));
    // Request schemas are the ones the routes parse with: strict objects, the same limits.
    const create = document.paths['/v1/nodes'].post.requestBody.content['application/json'].schema;
    assert.equal(create.additionalProperties, false);
    assert.deepEqual(create.required, ['driver']);
    const limit = document.paths['/v1/nodes'].get.parameters.find((p: { name: string }) => p.name === 'limit');
    assert.deepEqual([limit.in, limit.schema.maximum], ['query', 1000]);
  });

  it('documents every route both listeners mount, and only those', () => {
    const logger = pino({ level: 'silent' });
    const metrics = createApiMetrics(h.pool);
    const operations = new Operations(h.client, h.config.taskQueue);
    const refusals = new RefusalLog(h.pool, logger, h.config.refusalWindowSeconds);
    const tenantApi = createApp({
      pool: h.pool,
      operations,
      logger,
      authMode: 'token',
      publicUrl: () => h.apiUrl,
      metrics,
      bmcAccess: h.config.bmcAccess,
      refusals,
    });
    const agentApi = createAgentApp({ pool: h.pool, operations, logger, metrics, refusals });
    const mounted = [...new Set([...mountedRoutes(tenantApi), ...mountedRoutes(agentApi)])].sort();
    const documented = documentedRoutes();
    const missing = mounted.filter((route) => !documented.includes(route));
    assert.deepEqual(missing, [], 'add these to ROUTES in src/api/openapi.ts');
    assert.deepEqual(
      documented.filter((route) => !mounted.includes(route)),
      [],
      'documented but not mounted',
    );
    assert.ok(mounted.includes('GET /v1/nodes/{node}/states') && mounted.includes('POST /v1/heartbeat/{node}'));
  });

  it('renders the reference page from the pinned Swagger UI files', async () => {
    const page = await fetch(`${h.apiUrl}/docs`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type')!, /text\/html/);
    const html = await page.text();
    assert.match(html, /\/v1\/openapi\.json/);
    for (const asset of html.matchAll(/(?:src|href)="(\/docs\/assets\/[^"]+)"/g)) {
      const response = await fetch(`${h.apiUrl}${asset[1]}`);
      assert.equal(response.status, 200, asset[1]);
      assert.ok((await response.arrayBuffer()).byteLength > 0, asset[1]);
    }
    assert.ok(html.includes('/docs/assets/swagger-ui-bundle.js'));
    // Only the page's own files are served, not the package's folder.
    assert.equal((await fetch(`${h.apiUrl}/docs/assets/package.json`)).status, 404);
    assert.equal((await fetch(`${h.apiUrl}/docs/assets/..%2f..%2fpackage.json`)).status, 404);
  });

  it('describes what a lifecycle really answers, errors included', async () => {
    // Each call below is checked against the document by the harness; here we also make sure
    // each was a documented operation, so the walk is not checking nothing.
    const checker = createResponseChecker();
    const call = async (method: string, urlPath: string, body?: unknown, expected?: number) => {
      assert.ok(checker.templateOf(urlPath), `${urlPath} is not documented`);
      const response = await h.http(method, urlPath, body);
      if (expected !== undefined) assert.equal(response.status, expected, JSON.stringify(response.body));
      return response;
    };
    const [uuid] = h.nodeUuids;
    const node = `/v1/nodes/${uuid}`;
    const provision = async (target: string) => {
      await call('PUT', `${node}/states/provision`, { target }, 202);
      await ended(h, uuid);
    };

    await call('GET', '/', undefined, 200);
    await call('GET', '/v1', undefined, 200);
    await call('GET', '/healthz', undefined, 200);
    await call('GET', '/v1/nodes?limit=5&sort_key=name', undefined, 200);
    await call('GET', '/v1/nodes/detail', undefined, 200);
    await call('GET', `${node}?fields=uuid,provision_state`, undefined, 200);
    await call('GET', `${node}/validate`, undefined, 200);
    await call('GET', `${node}/states`, undefined, 200);
    await call('PATCH', node, [{ op: 'add', path: '/extra/rack', value: 'r1' }], 200);
    await call('PATCH', node, { extra: { rack: 'r2' } }, 200);
    await call('PUT', `${node}/traits/CUSTOM_OPENAPI`, undefined, 204);
    await call('GET', `${node}/traits`, undefined, 200);
    await call('GET', `${node}/management/boot_device/supported`, undefined, 200);
    await call('GET', `${node}/management/boot_device`, undefined, 200);
    await call('PUT', `${node}/maintenance`, { reason: 'openapi walk' }, 202);
    await call('DELETE', `${node}/maintenance`, undefined, 202);
    await call('GET', `/v1/ports?node=${uuid}`, undefined, 200);
    await call('GET', '/v1/drivers', undefined, 200);
    await call('GET', '/v1/drivers/redfish', undefined, 200);
    await call('GET', '/v1/drivers/redfish/properties', undefined, 200);
    const token = await call('POST', '/v1/auth/tokens', { project_id: 'acme', user_id: 'ann' }, 201);
    await call('GET', '/v1/auth/tokens', undefined, 200);
    await call('DELETE', `/v1/auth/tokens/${token.body.uuid}`, undefined, 204);
    const template = await call(
      'POST',
      '/v1/deploy_templates',
      { name: 'CUSTOM_OPENAPI', steps: [{ interface: 'bios', step: 'apply_configuration', priority: 50 }] },
      201,
    );
    await call('GET', `/v1/deploy_templates/${template.body.uuid}`, undefined, 200);
    await call('DELETE', `/v1/deploy_templates/${template.body.uuid}`, undefined, 204);

    await provision('manage');
    await provision('provide');
    const created = await call(
      'POST',
      '/v1/deployments',
      {
        node: uuid,
        image_source: images.url('disk.raw'),
        os_hash_algo: 'sha256',
        os_hash_value: imageHash,
      },
      201,
    );
    await ended(h, uuid);
    const deployment = await call('GET', `/v1/deployments/${created.body.uuid}`, undefined, 200);
    assert.equal(deployment.body.status, 'active', deployment.body.last_error);
    await call('GET', '/v1/deployments', undefined, 200);
    await call('GET', `${node}/allocation`, undefined, 404);
    await call('DELETE', `/v1/deployments/${created.body.uuid}`, undefined, 202);
    await ended(h, uuid);
    await call('GET', `${node}/history?limit=50`, undefined, 200);
    await call('GET', '/v1/events?kind=provision', undefined, 200);

    // Errors: each status answers with the documented error body.
    await call('POST', '/v1/nodes', { driver: 'redfish', colour: 'red' }, 400);
    await call('GET', '/v1/nodes?limit=0', undefined, 400);
    await call('GET', '/v1/nodes/no-such-node', undefined, 404);
    await call('POST', '/v1/nodes', { driver: 'fake', name: 'lab-000' }, 409);
    const anonymous = await h.http('GET', '/v1/nodes', undefined, null);
    assert.equal(anonymous.status, 401);
  });

  it('catches a response that does not match', () => {
    const checker = createResponseChecker();
    assert.equal(checker.problemWith('GET', '/v1/nodes/x/traits', 200, { traits: ['CUSTOM_A'] }), undefined);
    assert.match(checker.problemWith('GET', '/v1/nodes/x/traits', 200, { traits: 'CUSTOM_A' }) ?? '', /traits/);
    assert.match(checker.problemWith('GET', '/v1/nodes/x', 404, { message: 'gone' }) ?? '', /error/);
    assert.match(checker.problemWith('DELETE', '/v1/ports/x', 204, { deleted: true }) ?? '', /a body where/);
    assert.equal(checker.problemWith('GET', '/v1/not-a-route', 200, {}), undefined);
  });
});
