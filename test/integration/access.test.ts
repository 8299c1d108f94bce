// Who may call what: every endpoint × every kind of caller, with the status each must get.
// Each call gets a fresh node owned by project A and leased to project B, so no call's
// effect leaks into the next one's answer.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { insertDeployment } from '../../src/db/deployments.js';
import { startHarness, type Harness } from '../support/harness.js';

const CALLERS = ['admin', 'owner member', 'owner reader', 'lessee', 'stranger', 'no token', 'bad token'] as const;
type CallerName = (typeof CALLERS)[number];

interface Fixture {
  node: string;
  port: string;
  token: string;
  deployment: string;
  template: string;
}

const DEPLOYMENT = {
  image_source: 'http://127.0.0.1:9/disk.raw',
  os_hash_algo: 'sha256',
  os_hash_value: '0'.repeat(64),
};

// [what, method, path, body, expected statuses in CALLERS order]
const MATRIX: Array<[string, string, (f: Fixture) => string, ((f: Fixture) => unknown) | undefined, string]> = [
  ['list nodes', 'GET', () => '/v1/nodes', undefined, '200 200 200 200 200 401 401'],
  ['create a node', 'POST', () => '/v1/nodes', () => ({ driver: 'fake' }), '201 403 403 403 403 401 401'],
  ['show a node', 'GET', (f) => `/v1/nodes/${f.node}`, undefined, '200 200 200 200 404 401 401'],
  ['show its states', 'GET', (f) => `/v1/nodes/${f.node}/states`, undefined, '200 200 200 200 404 401 401'],
  ['show its history', 'GET', (f) => `/v1/nodes/${f.node}/history`, undefined, '200 200 200 200 404 401 401'],
  ['patch a node', 'PATCH', (f) => `/v1/nodes/${f.node}`, () => ({ extra: { a: 1 } }), '200 200 403 403 404 401 401'],
  [
    'patch driver_info',
    'PATCH',
    (f) => `/v1/nodes/${f.node}`,
    () => [{ op: 'add', path: '/driver_info', value: {} }],
    '200 200 403 403 404 401 401',
  ],
  [
    'set the owner',
    'PATCH',
    (f) => `/v1/nodes/${f.node}`,
    () => ({ owner: 'project-c' }),
    '200 403 403 403 404 401 401',
  ],
  [
    'set the lessee',
    'PATCH',
    (f) => `/v1/nodes/${f.node}`,
    () => ({ lessee: 'project-c' }),
    '200 200 403 403 404 401 401',
  ],
  ['delete a node', 'DELETE', (f) => `/v1/nodes/${f.node}`, undefined, '204 403 403 403 404 401 401'],
  [
    'power on',
    'PUT',
    (f) => `/v1/nodes/${f.node}/states/power`,
    () => ({ target: 'power on' }),
    '202 202 403 202 404 401 401',
  ],
  [
    'manage',
    'PUT',
    (f) => `/v1/nodes/${f.node}/states/provision`,
    () => ({ target: 'manage' }),
    '202 202 403 403 404 401 401',
  ],
  // Allowed callers reach the state machine, which refuses deploying an enrolled node.
  [
    'deploy',
    'PUT',
    (f) => `/v1/nodes/${f.node}/states/provision`,
    () => ({ target: 'deploy' }),
    '409 409 403 409 404 401 401',
  ],
  [
    'set maintenance',
    'PUT',
    (f) => `/v1/nodes/${f.node}/maintenance`,
    () => ({ reason: 'x' }),
    '202 202 403 403 404 401 401',
  ],
  ['clear maintenance', 'DELETE', (f) => `/v1/nodes/${f.node}/maintenance`, undefined, '202 202 403 403 404 401 401'],
  ['list traits', 'GET', (f) => `/v1/nodes/${f.node}/traits`, undefined, '200 200 200 200 404 401 401'],
  ['add a trait', 'PUT', (f) => `/v1/nodes/${f.node}/traits/CUSTOM_X`, undefined, '204 204 403 403 404 401 401'],
  ['delete a trait', 'DELETE', (f) => `/v1/nodes/${f.node}/traits/CUSTOM_F`, undefined, '204 204 403 403 404 401 401'],
  ['delete all traits', 'DELETE', (f) => `/v1/nodes/${f.node}/traits`, undefined, '204 204 403 403 404 401 401'],
  [
    'replace traits',
    'PUT',
    (f) => `/v1/nodes/${f.node}/traits`,
    () => ({ traits: ['CUSTOM_Y'] }),
    '204 204 403 403 404 401 401',
  ],
  ['list deploy templates', 'GET', () => '/v1/deploy_templates', undefined, '200 200 200 200 200 401 401'],
  [
    'create a deploy template',
    'POST',
    () => '/v1/deploy_templates',
    () => ({
      name: `CUSTOM_T${++macCounter}`,
      steps: [{ interface: 'bios', step: 'apply_configuration', priority: 1 }],
    }),
    '201 403 403 403 403 401 401',
  ],
  // Templates are the operator's, shared by every project: all may read them, only admins change them.
  [
    'show a deploy template',
    'GET',
    (f) => `/v1/deploy_templates/${f.template}`,
    undefined,
    '200 200 200 200 200 401 401',
  ],
  [
    'patch a deploy template',
    'PATCH',
    (f) => `/v1/deploy_templates/${f.template}`,
    () => ({ extra: { note: 'x' } }),
    '200 403 403 403 403 401 401',
  ],
  [
    'delete a deploy template',
    'DELETE',
    (f) => `/v1/deploy_templates/${f.template}`,
    undefined,
    '204 403 403 403 403 401 401',
  ],
  ['list drivers', 'GET', () => '/v1/drivers', undefined, '200 200 200 200 200 401 401'],
  ['show a driver', 'GET', () => '/v1/drivers/redfish', undefined, '200 200 200 200 200 401 401'],
  ["show a driver's properties", 'GET', () => '/v1/drivers/ipmi/properties', undefined, '200 200 200 200 200 401 401'],
  // For load balancers and probes: no token needed, and a wrong one changes nothing.
  ['health check', 'GET', () => '/healthz', undefined, '200 200 200 200 200 200 200'],
  ['list ports', 'GET', () => '/v1/ports', undefined, '200 200 200 200 200 401 401'],
  ['list ports of a node', 'GET', (f) => `/v1/ports?node=${f.node}`, undefined, '200 200 200 200 404 401 401'],
  [
    'create a port',
    'POST',
    () => '/v1/ports',
    (f) => ({ address: macFor(f.node), node_uuid: f.node }),
    '201 201 403 403 400 401 401',
  ],
  ['show a port', 'GET', (f) => `/v1/ports/${f.port}`, undefined, '200 200 200 200 404 401 401'],
  ['delete a port', 'DELETE', (f) => `/v1/ports/${f.port}`, undefined, '204 204 403 403 404 401 401'],
  [
    'create a deployment',
    'POST',
    () => '/v1/deployments',
    (f) => ({ node: f.node, ...DEPLOYMENT }),
    '409 409 403 409 404 401 401',
  ],
  ['list deployments', 'GET', () => '/v1/deployments', undefined, '200 200 200 200 200 401 401'],
  [
    'list deployments of a node',
    'GET',
    (f) => `/v1/deployments?node=${f.node}`,
    undefined,
    '200 200 200 200 404 401 401',
  ],
  ['show a deployment', 'GET', (f) => `/v1/deployments/${f.deployment}`, undefined, '200 200 200 200 404 401 401'],
  // The fixture's deployment is recorded on the enrolled node, which the state machine refuses to undeploy.
  ['delete a deployment', 'DELETE', (f) => `/v1/deployments/${f.deployment}`, undefined, '409 409 403 409 404 401 401'],
  ['list events', 'GET', () => '/v1/events', undefined, '200 200 200 200 200 401 401'],
  ['list events of a node', 'GET', (f) => `/v1/events?node=${f.node}`, undefined, '200 200 200 200 404 401 401'],
  [
    'create a token',
    'POST',
    () => '/v1/auth/tokens',
    () => ({ project_id: 'p', user_id: 'u' }),
    '201 403 403 403 403 401 401',
  ],
  ['list tokens', 'GET', () => '/v1/auth/tokens', undefined, '200 403 403 403 403 401 401'],
  ['revoke a token', 'DELETE', (f) => `/v1/auth/tokens/${f.token}`, undefined, '204 403 403 403 403 401 401'],
];

let macCounter = 0;
function macFor(_node: string): string {
  macCounter++;
  return `52:54:01:00:${(macCounter >> 8).toString(16).padStart(2, '0')}:${(macCounter & 255).toString(16).padStart(2, '0')}`;
}

describe('access matrix', () => {
  let h: Harness;
  const tokens = {} as Record<CallerName, string | null>;
  const ids = {} as Record<string, string>;

  async function makeToken(project_id: string, user_id: string, role: string) {
    const response = await h.http('POST', '/v1/auth/tokens', { project_id, user_id, role });
    assert.equal(response.status, 201);
    ids[user_id] = response.body.uuid;
    return response.body.token as string;
  }

  before(async () => {
    h = await startHarness();
    tokens.admin = h.config.adminToken!;
    tokens['owner member'] = await makeToken('project-a', 'alice', 'member');
    tokens['owner reader'] = await makeToken('project-a', 'auditor', 'reader');
    tokens.lessee = await makeToken('project-b', 'bob', 'member');
    tokens.stranger = await makeToken('project-z', 'eve', 'member');
    tokens['no token'] = null;
    tokens['bad token'] = 'tmp_this-is-not-a-token';
  });
  after(() => h?.close());

  async function fixture(): Promise<Fixture> {
    const node = await h.http('POST', '/v1/nodes', { driver: 'fake', owner: 'project-a', lessee: 'project-b' });
    const port = await h.http('POST', '/v1/ports', { address: macFor(node.body.uuid), node_uuid: node.body.uuid });
    const token = await h.http('POST', '/v1/auth/tokens', { project_id: 'spare', user_id: 'spare' });
    // Written straight to the table: an enrolled node cannot be deployed through the API.
    const deployment = randomUUID();
    await insertDeployment(h.pool, {
      uuid: deployment,
      node_uuid: node.body.uuid,
      created_by: 'bob',
      project: 'project-b',
      image_source: DEPLOYMENT.image_source,
      traits: [],
      request_id: `req-${deployment}`,
    });
    assert.equal((await h.http('PUT', `/v1/nodes/${node.body.uuid}/traits/CUSTOM_F`)).status, 204);
    const template = await h.http('POST', '/v1/deploy_templates', {
      name: `CUSTOM_F${++macCounter}`,
      steps: [{ interface: 'bios', step: 'apply_configuration', priority: 1 }],
    });
    assert.equal(template.status, 201, JSON.stringify(template.body));
    return {
      node: node.body.uuid,
      port: port.body.uuid,
      token: token.body.uuid,
      deployment,
      template: template.body.uuid,
    };
  }

  for (const [what, method, path, body, statuses] of MATRIX) {
    const expected = statuses.split(' ').map(Number);
    for (const [index, caller] of CALLERS.entries()) {
      it(`${what} as ${caller}: ${expected[index]}`, async () => {
        const f = await fixture();
        const response = await h.http(method, path(f), body?.(f), tokens[caller]);
        assert.equal(response.status, expected[index], JSON.stringify(response.body));
        if (response.status >= 400) assert.equal(typeof response.body.error.message, 'string');
      });
    }
  }

  it('filters node lists and the event log to what the caller may see', async () => {
    const visible = await h.http('POST', '/v1/nodes', { driver: 'fake', name: 'visible-to-b', lessee: 'project-b' });
    await h.http('POST', '/v1/nodes', { driver: 'fake', name: 'private-to-z', owner: 'project-z' });
    await h.http('PUT', `/v1/nodes/${visible.body.uuid}/maintenance`, { reason: 'seen by b' });
    const asLessee = await h.http('GET', '/v1/nodes?limit=1000', undefined, tokens.lessee);
    const names = asLessee.body.nodes.map((n: any) => n.name);
    assert.ok(names.includes('visible-to-b'));
    assert.ok(!names.includes('private-to-z'));
    assert.ok(asLessee.body.nodes.every((n: any) => n.owner === 'project-b' || n.lessee === 'project-b'));
    const events = await h.http('GET', '/v1/events?limit=1000', undefined, tokens.stranger);
    const stranger = await h.http('GET', '/v1/nodes?limit=1000', undefined, tokens.stranger);
    const strangerNodes = new Set(stranger.body.nodes.map((n: any) => n.uuid));
    assert.ok(events.body.events.every((e: any) => strangerNodes.has(e.node_uuid)));
  });

  it('shows admins the failed authentications, and nobody else', async () => {
    await h.http('GET', '/v1/nodes', undefined, 'tmp_wrong-on-purpose');
    const admin = await h.http('GET', '/v1/events?kind=auth&limit=1000');
    assert.ok(admin.body.events.some((e: any) => /invalid or revoked API token/.test(e.message)));
    const owner = await h.http('GET', '/v1/events?kind=auth', undefined, tokens['owner member']);
    assert.deepEqual(owner.body.events, []);
  });

  it('records who did what in the event log', async () => {
    const node = await h.http('POST', '/v1/nodes', { driver: 'fake', owner: 'project-a' });
    await h.http('PUT', `/v1/nodes/${node.body.uuid}/maintenance`, { reason: 'by alice' }, tokens['owner member']);
    const { body } = await h.http(
      'GET',
      `/v1/events?node=${node.body.uuid}&user=alice`,
      undefined,
      tokens['owner member'],
    );
    assert.deepEqual(
      body.events.map((e: any) => [e.kind, e.user, e.project]),
      [['maintenance', 'alice', 'project-a']],
    );
  });

  it('stops a revoked token at once', async () => {
    const token = await makeToken('project-a', 'leaver', 'member');
    assert.equal((await h.http('GET', '/v1/nodes', undefined, token)).status, 200);
    assert.equal((await h.http('DELETE', `/v1/auth/tokens/${ids.leaver}`)).status, 204);
    assert.equal((await h.http('GET', '/v1/nodes', undefined, token)).status, 401);
  });

  it('shows a token once, and never a token or its hash afterwards, in responses or logs', async () => {
    const created = await h.http('POST', '/v1/auth/tokens', {
      project_id: 'project-q',
      user_id: 'quinn',
      role: 'reader',
    });
    const token: string = created.body.token;
    assert.match(token, /^tmp_/);
    const { hashToken } = await import('../../src/db/tokens.js');
    const secrets = [
      token,
      hashToken(token),
      tokens['owner member']!,
      hashToken(tokens['owner member']!),
      h.config.adminToken!,
    ];
    const listing = JSON.stringify((await h.http('GET', '/v1/auth/tokens?limit=1000')).body);
    const events = JSON.stringify((await h.http('GET', '/v1/events?limit=1000')).body);
    for (const secret of secrets) {
      assert.ok(!listing.includes(secret), 'token listing');
      assert.ok(!events.includes(secret), 'event log');
      assert.ok(!h.logs().includes(secret), 'logs');
    }
    assert.ok(JSON.parse(listing).tokens.some((t: any) => t.user_id === 'quinn' && t.token === undefined));
  });
});
