// The holes a security review found (issue 11), each tried the way an attacker would, against the
// real API, database, Temporal and lab BMCs: every one must stay closed.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { insertDeployment } from '../../src/db/deployments.js';
import { recordEvent } from '../../src/db/events.js';
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
    // BMCs only on loopback (where the lab's are), CA bundles only from a directory of the test's.
    const caDir = mkdtempSync(path.join(process.env.TEST_SCRATCH_DIR!, 'ca-'));
    h = await startHarness({ labCount: 1, powerDelayMs: 0, bmcAccess: { allowedNetworks: ['127.0.0.0/8'], caDir } });
    tokens.owner = await makeToken('project-a', 'alice');
    tokens.lessee = await makeToken('project-b', 'bob');
    tokens.nextLessee = await makeToken('project-c', 'carol');
    tokens.stranger = await makeToken('project-z', 'eve');
  });
  after(() => h?.close());

  const stored = async (uuid: string) => (await findNode(h.pool, uuid))!;
  const as = (who: string, method: string, path: string, body?: unknown) => h.http(method, path, body, tokens[who]);
  /** A node of the fake driver owned by project-a and leased to project-b. */
  async function leasedNode(): Promise<string> {
    const r = await h.http('POST', '/v1/nodes', { driver: 'fake', owner: 'project-a', lessee: 'project-b' });
    assert.equal(r.status, 201);
    return r.body.uuid;
  }
  const setState = (uuid: string, state: string) =>
    h.pool.query('UPDATE nodes SET provision_state = $2 WHERE uuid = $1', [uuid, state]);

  describe('JSON Patch cannot read a secret', () => {
    const attempts: Array<[string, unknown[], string]> = [
      ['copy of driver_info into extra', [{ op: 'copy', from: '/driver_info', path: '/extra/loot' }], 'driver_info'],
      ['move of driver_info into extra', [{ op: 'move', from: '/driver_info', path: '/extra/loot' }], 'driver_info'],
      [
        'copy of the password itself',
        [{ op: 'copy', from: '/driver_info/redfish_password', path: '/extra/loot' }],
        'driver_info.redfish_password',
      ],
      [
        'copy of instance_info holding a config drive',
        [{ op: 'copy', from: '/instance_info', path: '/extra/loot' }],
        'instance_info',
      ],
      [
        'test of the password (an oracle)',
        [{ op: 'test', path: '/driver_info/redfish_password', value: 'guess' }],
        'driver_info.redfish_password',
      ],
      ['test of driver_info as a whole', [{ op: 'test', path: '/driver_info', value: {} }], 'driver_info'],
    ];

    before(async () => {
      const uuid = h.nodeUuids[0];
      const r = await h.http('PATCH', `/v1/nodes/${uuid}`, {
        instance_info: { configdrive: 'user-data-with-keys-0123', image_source: 'http://x/y.raw' },
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
    });

    for (const [what, body, field] of attempts) {
      it(`refuses a ${what} with 400 naming ${field}, and changes nothing`, async () => {
        const uuid = h.nodeUuids[0];
        const before = await stored(uuid);
        const response = await h.http('PATCH', `/v1/nodes/${uuid}`, body);
        assert.equal(response.status, 400, JSON.stringify(response.body));
        assert.equal(response.body.error.field, field);
        assertNoSecret('the answer', JSON.stringify(response.body), [
          h.credentials.password,
          'user-data-with-keys-0123',
        ]);
        assert.deepEqual(await stored(uuid), before);
      });
    }

    it('answers a test of the right password exactly as one of a wrong guess', async () => {
      const uuid = h.nodeUuids[0];
      const guess = (value: string) =>
        h.http('PATCH', `/v1/nodes/${uuid}`, [{ op: 'test', path: '/driver_info/redfish_password', value }]);
      const [right, wrong] = await Promise.all([guess(h.credentials.password), guess('wrong')]);
      assert.equal(right.status, 400);
      assert.deepEqual(right.body.error, wrong.body.error);
    });

    it('masks a secret-looking key wherever it is stored, extra included', async () => {
      const uuid = h.nodeUuids[0];
      const response = await h.http('PATCH', `/v1/nodes/${uuid}`, [
        { op: 'add', path: '/extra/api_token', value: 'stored-in-extra-0123' },
      ]);
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
      const moved = await h.http('PATCH', `/v1/nodes/${uuid}`, {
        driver_info: { redfish_address: elsewhere, redfish_password: 'for-the-new-bmc' },
      });
      assert.equal(moved.status, 200, JSON.stringify(moved.body));
      // Other driver_info changes keep the stored password as they always did.
      const back = await h.http('PATCH', `/v1/nodes/${uuid}`, {
        driver_info: { redfish_address: address, redfish_password: h.credentials.password },
      });
      assert.equal(back.status, 200);
      const renamed = await h.http('PATCH', `/v1/nodes/${uuid}`, { driver_info: { redfish_auth_type: 'basic' } });
      assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
      assert.equal((await stored(uuid)).driver_info.redfish_password, h.credentials.password);
    });
  });

  describe('a new lessee sees nothing of the earlier tenants', () => {
    const signed = 'https://bob:hunter2-basic@images.example/disk.raw?X-Amz-Signature=sig-0123456789&X-Amz-Expires=600';
    const shown = 'https://images.example/disk.raw';
    let node: string;
    let deployment: string;

    before(async () => {
      node = await leasedNode();
      deployment = randomUUID();
      await insertDeployment(h.pool, {
        uuid: deployment,
        node_uuid: node,
        created_by: 'bob',
        project: 'project-b',
        image_source: signed,
        traits: [],
        request_id: `req-${deployment}`,
      });
      await recordEvent(
        h.pool,
        { node_uuid: node, kind: 'provision', verb: 'fail', message: `download of ${signed} failed` },
        { user: 'bob', project: 'project-b' },
      );
      await h.pool.query('UPDATE nodes SET last_error = $2, instance_info = $3 WHERE uuid = $1', [
        node,
        `download of ${signed} failed`,
        JSON.stringify({ image_source: signed }),
      ]);
      // The lease passes on to project-c.
      assert.equal((await as('owner', 'PATCH', `/v1/nodes/${node}`, { lessee: 'project-c' })).status, 200);
    });

    it("shows the next lessee none of the earlier lessee's deployments or events", async () => {
      assert.equal((await as('nextLessee', 'GET', `/v1/nodes/${node}`)).status, 200, 'it sees the node it leases now');
      assert.deepEqual((await as('nextLessee', 'GET', `/v1/deployments?node=${node}`)).body.deployments, []);
      assert.deepEqual(
        (await as('nextLessee', 'GET', '/v1/deployments')).body.deployments
          .map((d: any) => d.uuid)
          .filter((u: string) => u === deployment),
        [],
      );
      assert.equal((await as('nextLessee', 'GET', `/v1/deployments/${deployment}`)).status, 404);
      assert.equal((await as('nextLessee', 'DELETE', `/v1/deployments/${deployment}`)).status, 404);
      assert.deepEqual((await as('nextLessee', 'GET', `/v1/events?node=${node}`)).body.events, []);
      assert.deepEqual((await as('nextLessee', 'GET', `/v1/nodes/${node}/history`)).body.history, []);
    });

    it('shows the owner all of them, with image URLs stripped of query strings and credentials everywhere', async () => {
      const views = [
        await as('owner', 'GET', `/v1/deployments/${deployment}`),
        await as('owner', 'GET', `/v1/deployments?node=${node}`),
        await as('owner', 'GET', `/v1/events?node=${node}`),
        await as('owner', 'GET', `/v1/nodes/${node}/history`),
        await as('owner', 'GET', `/v1/nodes/${node}`),
        await as('owner', 'GET', `/v1/nodes/${node}/states`),
        await as('nextLessee', 'GET', `/v1/nodes/${node}`),
      ];
      assert.equal(views[0].body.image_source, shown);
      assert.equal(views[2].body.events.length, 1);
      assert.equal(views[4].body.instance_info.image_source, shown);
      assert.equal(views[5].body.last_error, `download of ${shown} failed`);
      for (const view of views) {
        assert.equal(view.status, 200);
        assertNoSecret('a view of an image URL', JSON.stringify(view.body), ['sig-0123456789', 'hunter2-basic']);
      }
    });
  });

  describe('secrets in nested step arguments', () => {
    it('refuses them in manual clean steps with 400 naming the field, however deep', async () => {
      const node = await leasedNode();
      await setState(node, 'manageable');
      const clean = (args: unknown) =>
        as('owner', 'PUT', `/v1/nodes/${node}/states/provision`, {
          target: 'clean',
          clean_steps: [{ interface: 'bios', step: 'apply_configuration', args }],
        });
      const nested = await clean({ settings: { AdminPassword: 'nested-secret-0123' } });
      assert.equal(nested.status, 400, JSON.stringify(nested.body));
      assert.equal(nested.body.error.field, 'clean_steps.0.args.settings.AdminPassword');
      const pairs = await clean({
        settings: [
          { name: 'BootMode', value: 'Uefi' },
          { name: 'AdminPassword', value: 'nested-secret-0123' },
        ],
      });
      assert.equal(pairs.status, 400, JSON.stringify(pairs.body));
      assert.equal(pairs.body.error.field, 'clean_steps.0.args.settings.1.value');
      assert.equal((await stored(node)).provision_state, 'manageable', 'nothing started');
    });

    it('refuses them in deploy templates too', async () => {
      const template = (args: unknown) =>
        h.http('POST', '/v1/deploy_templates', {
          name: 'CUSTOM_NESTED',
          steps: [{ interface: 'bios', step: 'apply_configuration', priority: 10, args }],
        });
      const nested = await template({ settings: { bios: { AdminPassword: 'nested-secret-0123' } } });
      assert.equal(nested.status, 400, JSON.stringify(nested.body));
      assert.equal(nested.body.error.field, 'steps.0.args.settings.bios.AdminPassword');
      const pairs = await template({ settings: [{ name: 'SetupPassword', value: 'nested-secret-0123' }] });
      assert.equal(pairs.status, 400);
      assert.equal(pairs.body.error.field, 'steps.0.args.settings.0.value');
      assert.equal((await h.get('/v1/deploy_templates/CUSTOM_NESTED')).status, 404);
    });
  });

  describe("abort belongs to the operation's own kind of caller", () => {
    it("lets a lessee abort a deploy but not the owner's cleaning", async () => {
      const node = await leasedNode();
      const abort = (who: string) => as(who, 'PUT', `/v1/nodes/${node}/states/provision`, { target: 'abort' });
      for (const state of ['clean wait', 'cleaning', 'inspecting']) {
        await setState(node, state);
        assert.equal((await abort('lessee')).status, 403, `a lessee aborting ${state}`);
        // Allowed; with no workflow running in this test the answer is "nothing to abort".
        assert.equal((await abort('owner')).status, 409, `the owner aborting ${state}`);
      }
      await setState(node, 'wait call-back');
      assert.equal((await abort('lessee')).status, 409, 'a lessee may abort a deploy');
    });
  });

  describe('a MAC enrolled elsewhere', () => {
    it('is refused without saying where, unless the caller may see the port it belongs to', async () => {
      const owned = await leasedNode();
      const mac = '52:54:02:00:00:01';
      const port = await h.http('POST', '/v1/ports', { address: mac, node_uuid: owned });
      assert.equal(port.status, 201);
      const strangers = await h.http('POST', '/v1/nodes', { driver: 'fake', owner: 'project-z' });
      const refused = await as('stranger', 'POST', '/v1/ports', { address: mac, node_uuid: strangers.body.uuid });
      assert.equal(refused.status, 409, JSON.stringify(refused.body));
      assert.equal(refused.body.error.field, 'address');
      const text = JSON.stringify(refused.body);
      for (const hidden of [owned, port.body.uuid, 'project-a', 'project-b'])
        assert.ok(!text.includes(hidden), `the 409 reveals ${hidden}`);
      const toOwner = await as('owner', 'POST', '/v1/ports', { address: mac, node_uuid: owned });
      assert.equal(toOwner.status, 409);
      assert.match(toOwner.body.error.message, new RegExp(port.body.uuid));
    });
  });

  describe('links', () => {
    it('start at the configured public URL, never at the Host header a caller sent', async () => {
      await leasedNode();
      await leasedNode();
      const answer = await new Promise<{ status: number; body: any }>((resolve, reject) => {
        const request = httpRequest(
          `${h.apiUrl}/v1/nodes?limit=1`,
          {
            headers: {
              host: 'attacker.example',
              authorization: `Bearer ${h.config.adminToken}`,
              'x-forwarded-host': 'attacker.example',
            },
          },
          (response) => {
            let text = '';
            response.setEncoding('utf8').on('data', (chunk) => (text += chunk));
            response.on('end', () => resolve({ status: response.statusCode!, body: JSON.parse(text) }));
          },
        );
        request.once('error', reject).end();
      });
      assert.equal(answer.status, 200);
      assert.ok(answer.body.next.startsWith(`${h.apiUrl}/v1/nodes?`), answer.body.next);
      assert.ok(answer.body.nodes[0].links[0].href.startsWith(`${h.apiUrl}/v1/nodes/`));
      assert.ok(!JSON.stringify(answer.body).includes('attacker.example'));
    });
  });

  describe("the BMC address is no way into the operator's network", () => {
    let service: Server;
    let serviceUrl: string;
    before(async () => {
      // Something on the inside that is no BMC: it answers with its own secrets, or with a flood.
      service = createServer((req, res) => {
        if (req.url!.startsWith('/redfish/v1/Systems/flood')) {
          res.writeHead(200, { 'content-type': 'application/json' });
          const chunk = Buffer.alloc(1024 * 1024, 32);
          let sent = 0;
          const pump = () => {
            while (sent < 64 && res.write(chunk)) sent++;
            if (sent < 64) res.once('drain', pump);
            else res.end();
          };
          pump();
          return;
        }
        res
          .writeHead(404, { 'content-type': 'text/html' })
          .end('<html>internal-canary-secret-0123 admin console</html>');
      });
      await new Promise<void>((resolve) => service.listen(0, '127.0.0.1', resolve));
      serviceUrl = `http://127.0.0.1:${(service.address() as AddressInfo).port}`;
    });
    after(() => new Promise<void>((resolve) => service?.close(() => resolve())));

    async function verifyAgainst(driverInfo: Record<string, unknown>): Promise<string> {
      const created = await h.http('POST', '/v1/nodes', {
        driver: 'redfish',
        owner: 'project-a',
        driver_info: { redfish_username: 'u', redfish_password: 'p', ...driverInfo },
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.equal(
        (await as('owner', 'PUT', `/v1/nodes/${created.body.uuid}/states/provision`, { target: 'manage' })).status,
        202,
      );
      const failed = await h.waitFor(
        `/v1/nodes/${created.body.uuid}`,
        (n) => n.provision_state === 'enroll' && n.last_error,
        90_000,
      );
      return failed.last_error as string;
    }

    it('repeats no byte of a non-Redfish answer in last_error', async () => {
      const error = await verifyAgainst({ redfish_address: serviceUrl, redfish_system_id: '/redfish/v1/Systems/1' });
      assert.match(error, /HTTP 404/);
      assert.ok(!error.includes('internal-canary-secret-0123') && !error.includes('admin console'), error);
    });

    it('stops reading an answer that is too big', async () => {
      const error = await verifyAgainst({
        redfish_address: serviceUrl,
        redfish_system_id: '/redfish/v1/Systems/flood',
      });
      assert.match(error, /more than \d+ bytes/);
    });

    it('refuses addresses outside BMC_ALLOWED_NETWORKS at the API, and again at use', async () => {
      const node = h.nodeUuids[0];
      for (const address of ['http://10.1.2.3', 'https://[::1]:8000', '192.168.0.9']) {
        const refused = await h.http('PATCH', `/v1/nodes/${node}`, {
          driver_info: { redfish_address: address, redfish_password: 'x' },
        });
        assert.equal(refused.status, 400, JSON.stringify(refused.body));
        assert.equal(refused.body.error.field, 'driver_info.redfish_address');
        assert.match(refused.body.error.message, /BMC_ALLOWED_NETWORKS/);
      }
      const ipmi = await h.http('POST', '/v1/nodes', { driver: 'ipmi', driver_info: { ipmi_address: '10.9.9.9' } });
      assert.equal(ipmi.status, 400);
      assert.equal(ipmi.body.error.field, 'driver_info.ipmi_address');
      // Stored before the rule (or behind a name): the driver checks where it connects.
      const error = await verifyAgainst({ redfish_address: 'http://localhost:9' });
      assert.doesNotMatch(error, /BMC_ALLOWED_NETWORKS/, 'localhost resolves into 127.0.0.0/8');
      const created = await h.http('POST', '/v1/nodes', {
        driver: 'redfish',
        owner: 'project-a',
        driver_info: { redfish_address: 'http://127.0.0.1:9', redfish_username: 'u', redfish_password: 'p' },
      });
      await h.pool.query(
        `UPDATE nodes SET driver_info = driver_info || '{"redfish_address": "http://[::1]:9"}' WHERE uuid = $1`,
        [created.body.uuid],
      );
      assert.equal(
        (await as('owner', 'PUT', `/v1/nodes/${created.body.uuid}/states/provision`, { target: 'manage' })).status,
        202,
      );
      const failed = await h.waitFor(
        `/v1/nodes/${created.body.uuid}`,
        (n) => n.provision_state === 'enroll' && n.last_error,
        90_000,
      );
      assert.match(failed.last_error, /outside the networks BMCs may be on/);
    });
  });

  describe('redfish_verify_ca', () => {
    it('takes true, false or a name in the CA directory, and refuses any other path alike, existing or not', async () => {
      const node = h.nodeUuids[0];
      const set = (value: unknown) =>
        h.http('PATCH', `/v1/nodes/${node}`, { driver_info: { redfish_verify_ca: value } });
      for (const value of [true, 'false', 'lab-ca.pem']) assert.equal((await set(value)).status, 200, String(value));
      const messages = new Set<string>();
      for (const value of ['/dev/zero', '/etc/passwd', '/etc/no-such-file', '../outside.pem', '/proc/self/environ']) {
        const refused = await set(value);
        assert.equal(refused.status, 400, value);
        assert.equal(refused.body.error.field, 'driver_info.redfish_verify_ca');
        messages.add(refused.body.error.message);
      }
      assert.equal(messages.size, 1, 'one answer for every path outside the directory');
      assert.equal((await set(true)).status, 200);
    });
  });
});
