// A fuzz pass over every route: random and malformed bodies, headers, query strings and path
// segments, from a seeded generator of our own (the seed is printed, so a failure replays).
// Whatever arrives, the answer is never a 5xx.
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startHarness, type Harness } from '../support/harness.js';

const REQUESTS = 800;

/** mulberry32: small, fast, and reproducible from one 32-bit seed. */
function generator(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)];
  return { next, int, pick };
}
type Random = ReturnType<typeof generator>;

const NASTY_STRINGS = [
  '',
  ' ',
  'a',
  '\u0000',
  '\ud800',
  '\udfff',
  '😀',
  '%',
  '%zz',
  '%ED%A0%80',
  '../../etc/passwd',
  "'; DROP TABLE nodes; --",
  '{"a":1}',
  'null',
  'true',
  '-1',
  '0',
  '1e309',
  '9'.repeat(40),
  'x'.repeat(5000),
  '<script>',
  '\\',
  '/',
  '\n',
  '\r\n',
  '..',
  'power on',
  'active',
  'deleted',
  'abort',
  'clean',
  'CUSTOM_X',
  'lab-000',
  '00000000-0000-0000-0000-000000000000',
  'http://127.0.0.1:1/',
  'sha256',
  'raw',
  'agent',
  'fake',
  'redfish',
  'ipmi',
];

function randomString(r: Random): string {
  if (r.next() < 0.6) return r.pick(NASTY_STRINGS);
  return Array.from({ length: r.int(20) }, () => String.fromCharCode(r.int(0x10000))).join('');
}

function randomJson(r: Random, depth = 0): unknown {
  const kind = r.int(depth > 4 ? 5 : 8);
  if (kind === 0) return null;
  if (kind === 1) return r.next() < 0.5;
  if (kind === 2) return r.pick([0, -1, 1.5, 2 ** 53 + 1, -(2 ** 31), 1e308, 65536]);
  if (kind <= 4) return randomString(r);
  if (kind === 5) return Array.from({ length: r.int(4) }, () => randomJson(r, depth + 1));
  const keys = [
    'target',
    'driver',
    'name',
    'extra',
    'driver_info',
    'instance_info',
    'properties',
    'op',
    'path',
    'value',
    'from',
    'node',
    'node_uuid',
    'address',
    'image_source',
    'os_hash_algo',
    'os_hash_value',
    'configdrive',
    'meta_data',
    'clean_steps',
    'steps',
    'args',
    'interface',
    'step',
    'traits',
    'reason',
    'resource_class',
    'owner',
    'lessee',
    'callback_url',
    'agent_token',
    'agent_version',
    'redfish_address',
    'redfish_password',
    'redfish_verify_ca',
    'project',
    'role',
    'priority',
    'retired',
    'disable_ramdisk',
  ];
  return Object.fromEntries(
    Array.from({ length: r.int(5) }, () => [r.next() < 0.8 ? r.pick(keys) : randomString(r), randomJson(r, depth + 1)]),
  );
}

/** A body: mostly JSON of a plausible shape, sometimes bytes that are no JSON at all. */
function randomBody(r: Random): string | Blob | undefined {
  const kind = r.int(10);
  if (kind === 0) return undefined;
  if (kind === 1) return new Blob([Uint8Array.from({ length: r.int(64) }, () => r.int(256))]);
  if (kind === 2)
    return r.pick([
      '{',
      '[',
      '{"a":',
      'nul',
      '"\\ud800"',
      '{"a":"\\u00"}',
      '['.repeat(5000),
      '{"__proto__":{"x":1}}',
      '1e999999',
    ]);
  if (kind === 3) {
    const op = {
      op: r.pick(['add', 'remove', 'replace', 'move', 'copy', 'test', 'x']),
      path: r.pick([
        '/extra/a',
        '/driver_info',
        '/',
        '',
        '/name',
        '/extra/~1',
        '/traits/-',
        '/instance_info/configdrive',
      ]),
      value: randomJson(r),
      from: r.pick([undefined, '/extra', '/driver_info/redfish_password', '/nope']),
    };
    return JSON.stringify(Array.from({ length: 1 + r.int(3) }, () => op));
  }
  return JSON.stringify(randomJson(r));
}

/** encodeURIComponent, with a lone surrogate sent as the bytes a careless client would send. */
function encode(value: string): string {
  try {
    return encodeURIComponent(value);
  } catch {
    return '%ED%A0%80';
  }
}

function randomQuery(r: Random): string {
  if (r.next() < 0.4) return '';
  const keys = [
    'limit',
    'marker',
    'node',
    'kind',
    'since',
    'until',
    'provision_state',
    'driver',
    'maintenance',
    'fields',
    'sort_key',
    'sort_dir',
    'detail',
    'address',
    'addresses',
    'node_uuid',
    'x',
  ];
  const parts = Array.from({ length: 1 + r.int(4) }, () => {
    const raw = r.next() < 0.3;
    const value = r.pick([
      ...NASTY_STRINGS.slice(0, 25),
      '1000000',
      '-5',
      'abc',
      '2026-01-01T00:00:00Z',
      '52:54:00:00:00:01',
    ]);
    return `${r.pick(keys)}=${raw ? encode(value).replace(/%25/g, '%') : encode(value)}`;
  });
  return `?${parts.join('&')}`;
}

function randomHeaders(r: Random, adminToken: string): Record<string, string> {
  const headers: Record<string, string> = {};
  const auth = r.int(6);
  if (auth <= 2) headers.authorization = `Bearer ${adminToken}`;
  else if (auth === 3)
    headers.authorization = r.pick([
      'Bearer',
      'Bearer x',
      'Basic YTpi',
      'bearer ' + adminToken.toUpperCase(),
      `Bearer ${'x'.repeat(4000)}`,
    ]);
  else if (auth === 4) headers['x-auth-token'] = r.pick([adminToken, 'nope', '']);
  if (r.next() < 0.7)
    headers['content-type'] = r.pick([
      'application/json',
      'text/plain',
      'application/json; charset=latin1',
      'application/json-patch+json',
      'multipart/form-data',
      'application/merge-patch+json',
    ]);
  if (r.next() < 0.3) headers['x-openstack-ironic-api-version'] = r.pick(['1.1', 'latest', '1.999', 'abc', '2.0', '']);
  if (r.next() < 0.2) headers['if-match'] = r.pick(['*', '"x"', 'W/"1"', '']);
  if (r.next() < 0.2) headers['x-openstack-request-id'] = r.pick(['req-1', 'x'.repeat(300), 'a\tb']);
  if (r.next() < 0.1) headers['content-encoding'] = r.pick(['gzip', 'deflate', 'br', 'identity', 'bogus']);
  return headers;
}

describe('fuzzing every route', () => {
  let h: Harness;
  let ids: Record<string, string>;
  before(async () => {
    h = await startHarness();
    const node = (await h.http('POST', '/v1/nodes', { driver: 'fake', name: 'fuzzed' })).body;
    const port = (await h.http('POST', '/v1/ports', { address: '52:54:00:aa:bb:01', node_uuid: node.uuid })).body;
    const template = (
      await h.http('POST', '/v1/deploy_templates', {
        name: 'CUSTOM_FUZZ',
        steps: [{ interface: 'bios', step: 'apply_configuration', priority: 10, args: {} }],
      })
    ).body;
    ids = { node: node.uuid, port: port.uuid, template: template.uuid };
  });
  after(() => h?.close());

  it(`answers ${REQUESTS} random requests without a 5xx`, async () => {
    const seed = Number(process.env.FUZZ_SEED ?? randomInt(2 ** 31));
    const r = generator(seed);
    const segment = (known: string) =>
      r.pick([
        known,
        known,
        'fuzzed',
        randomString(r),
        '00000000-0000-0000-0000-000000000000',
        '%ED%A0%80',
        '%',
        '..',
        'a'.repeat(300),
      ]);
    const routes: Array<[string[], () => string, 'api' | 'agent']> = [
      [['GET'], () => '/', 'api'],
      [['GET', 'POST'], () => '/v1/nodes', 'api'],
      [['GET', 'PATCH', 'DELETE'], () => `/v1/nodes/${segment(ids.node)}`, 'api'],
      [['GET'], () => `/v1/nodes/${segment(ids.node)}/states`, 'api'],
      [['PUT'], () => `/v1/nodes/${segment(ids.node)}/states/power`, 'api'],
      [['PUT'], () => `/v1/nodes/${segment(ids.node)}/states/provision`, 'api'],
      [['PUT', 'DELETE'], () => `/v1/nodes/${segment(ids.node)}/maintenance`, 'api'],
      [['GET', 'PUT', 'DELETE'], () => `/v1/nodes/${segment(ids.node)}/traits`, 'api'],
      [['PUT', 'DELETE'], () => `/v1/nodes/${segment(ids.node)}/traits/${segment('CUSTOM_A')}`, 'api'],
      [['GET'], () => `/v1/nodes/${segment(ids.node)}/history`, 'api'],
      [['GET'], () => `/v1/nodes/${segment(ids.node)}/allocation`, 'api'],
      [['GET', 'POST'], () => '/v1/ports', 'api'],
      [['GET', 'DELETE'], () => `/v1/ports/${segment(ids.port)}`, 'api'],
      [['GET'], () => '/v1/events', 'api'],
      [['GET', 'POST'], () => '/v1/deployments', 'api'],
      [['GET', 'DELETE'], () => `/v1/deployments/${segment(ids.node)}`, 'api'],
      [['GET', 'POST'], () => '/v1/deploy_templates', 'api'],
      [['GET', 'PATCH', 'DELETE'], () => `/v1/deploy_templates/${segment(ids.template)}`, 'api'],
      [['GET', 'POST'], () => '/v1/allocations', 'api'],
      [['GET', 'PATCH', 'DELETE'], () => `/v1/allocations/${segment('x')}`, 'api'],
      [['GET', 'POST'], () => '/v1/auth/tokens', 'api'],
      [['DELETE'], () => `/v1/auth/tokens/${segment('x')}`, 'api'],
      [['GET'], () => '/v1/drivers', 'api'],
      [['GET'], () => `/v1/drivers/${segment('redfish')}`, 'api'],
      [['GET'], () => `/v1/drivers/${segment('redfish')}/properties`, 'api'],
      [['GET', 'POST', 'OPTIONS', 'HEAD'], () => `/v1/${segment('nodes')}/${segment('x')}/${segment('y')}`, 'api'],
      [['GET'], () => '/v1/lookup', 'agent'],
      [['POST'], () => `/v1/heartbeat/${segment(ids.node)}`, 'agent'],
    ];
    const failures: string[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      const [methods, path, listener] = r.pick(routes);
      const method = r.next() < 0.95 ? r.pick(methods) : r.pick(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);
      const url = `${listener === 'api' ? h.apiUrl : h.agentApiUrl}${path()}${randomQuery(r)}`;
      const body = method === 'GET' || method === 'HEAD' ? undefined : randomBody(r);
      let status: number;
      try {
        const response = await fetch(url, { method, headers: randomHeaders(r, h.config.adminToken!), body });
        status = response.status;
        await response.arrayBuffer();
      } catch (err) {
        // A URL or header fetch itself refuses to send is no request to the server.
        if (err instanceof TypeError && !(err as { cause?: unknown }).cause) continue;
        failures.push(`${method} ${url}: ${(err as Error).message}`);
        continue;
      }
      if (status >= 500) failures.push(`${status} ${method} ${url.slice(0, 200)} body ${String(body).slice(0, 200)}`);
    }
    assert.deepEqual(failures, [], `seed ${seed} (replay with FUZZ_SEED=${seed})`);
  });
});
