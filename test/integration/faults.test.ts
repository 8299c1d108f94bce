// The machine room failing under load: PostgreSQL restarted, the Temporal server restarted, the
// worker killed, each while many deploys run. Real services of the test's own (so it may stop
// them), on loopback, with light-lab machines that power at once. Every deploy must end active
// with the right bytes, the API must answer 503 (never 500) while a service is away, and the
// event log must hold every transition.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { chmodSync, mkdtempSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { insertNode } from '../../src/db/nodes.js';
import { hashAgentToken } from '../../src/domain/agent.js';
import { startPostgres, type LocalPostgres } from '../../src/cli/postgres.js';
import { startTemporal, type LocalTemporal } from '../../src/cli/temporal-server.js';
import { hashFilePrefix, startImageServer, writeDiskImage, type ImageServer } from '../../src/sim/images.js';
import { env, startHarness, type Harness } from '../support/harness.js';
import { freeLowPort } from '../support/ports.js';

const MiB = 1024 ** 2;
const IMAGE_BYTES = 16 * MiB;
const logger = pino({ level: 'warn' });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A disk image served slowly (8 MiB/s), so each deploy's write lasts about two seconds. */
async function serveImage(scratch: string): Promise<{ images: ImageServer; hash: string }> {
  const file = path.join(scratch, 'disk.raw');
  const hash = await writeDiskImage(file, IMAGE_BYTES);
  return { images: await startImageServer({ 'disk.raw': file }), hash };
}

/** Starts a deploy on each node (made available as if cleaned before); answers when all were accepted. */
async function startDeploys(h: Harness, uuids: string[], imageUrl: string, hash: string): Promise<void> {
  await h.pool.query(`UPDATE nodes SET provision_state = 'available' WHERE uuid = ANY($1::uuid[])`, [uuids]);
  for (const uuid of uuids) {
    const patched = await h.http('PATCH', `/v1/nodes/${uuid}`, {
      instance_info: { image_source: imageUrl, image_os_hash_algo: 'sha256', image_os_hash_value: hash },
    });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    const started = await h.http('PUT', `/v1/nodes/${uuid}/states/provision`, { target: 'active' });
    assert.equal(started.status, 202, JSON.stringify(started.body));
  }
}

const ENDED = new Set(['active', 'deploy failed', 'error']);

/** Polls until every deploy ended (or failed); a request that fails (a service away) is simply tried again. */
async function waitForDeploysToEnd(h: Harness, uuids: string[], timeoutMs = 240_000): Promise<any[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const nodes = await Promise.all(uuids.map((uuid) => h.get(`/v1/nodes/${uuid}`).catch(() => undefined)));
    const settled = nodes.every((n) => n?.status === 200 && ENDED.has(n.body.provision_state));
    if (settled) return nodes.map((n) => n!.body);
    if (Date.now() > deadline)
      throw new Error(`deploys still running: ${JSON.stringify(nodes.map((n) => n?.body?.provision_state))}`);
    await sleep(500);
  }
}

/** Waits until at least `count` nodes have left `state`. */
async function waitForNodesPast(h: Harness, state: string, count: number): Promise<void> {
  for (;;) {
    const { rows } = await h.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM nodes WHERE provision_state <> $1',
      [state],
    );
    if (rows[0].n >= count) return;
    await sleep(200);
  }
}

/** Every node active with the image on its disk, and its provision events an unbroken chain from available to active. */
async function assertAllDeployed(h: Harness, nodes: any[], hash: string): Promise<void> {
  for (const node of nodes) assert.equal(node.provision_state, 'active', `${node.name}: ${node.last_error}`);
  for (const { machine } of h.lab!.machines.filter((m) => nodes.some((n) => n.name === m.name))) {
    assert.equal(await hashFilePrefix(machine.diskPath, IMAGE_BYTES), hash, `${machine.id} holds the image`);
  }
  for (const node of nodes) {
    const history = (await h.get(`/v1/nodes/${node.uuid}/history?kind=provision&limit=1000`)).body.history as any[];
    const transitions = history
      .filter((e) => e.to_state)
      .sort((a, b) => Date.parse(a.created_at) - Date.parse(b.created_at) || a.id - b.id);
    assert.equal(transitions[0]?.from_state, 'available', `${node.name}: the log starts at the deploy`);
    assert.equal(transitions.at(-1)?.to_state, 'active', `${node.name}: the log ends active`);
    transitions.slice(1).forEach((event, i) => {
      assert.equal(event.from_state, transitions[i].to_state, `${node.name}: no transition is missing from the log`);
    });
  }
}

/** Requests while a service is away: each must be a 503 with Retry-After, or (read from a cache-free path) succeed, never a 500. */
async function probeWhileAway(h: Harness, spare: string, expectAll503: boolean): Promise<number> {
  const probes: Array<[string, string, unknown?]> = [
    ['GET', '/v1/nodes'],
    ['GET', `/v1/nodes/${spare}`],
    ['PATCH', `/v1/nodes/${spare}`, { extra: { touched: true } }],
    ['PUT', `/v1/nodes/${spare}/states/power`, { target: 'power on' }],
    [
      'POST',
      '/v1/deployments',
      { node: spare, image_source: 'http://127.0.0.1:9/x.raw', os_hash_algo: 'sha256', os_hash_value: 'ab'.repeat(32) },
    ],
  ];
  let unavailable = 0;
  for (const [method, urlPath, body] of probes) {
    const response = await h.http(method, urlPath, body);
    assert.ok(
      response.status < 500 || response.status === 503,
      `${method} ${urlPath} answered ${response.status}: ${JSON.stringify(response.body)}`,
    );
    if (response.status === 503) {
      unavailable++;
      assert.match(response.headers.get('retry-after') ?? '', /^\d+$/, 'a 503 says when to retry');
    } else if (expectAll503 && method !== 'GET') {
      assert.fail(`${method} ${urlPath} answered ${response.status} while a service was away`);
    }
  }
  return unavailable;
}

describe('faults during concurrent deploys', () => {
  let scratch: string;
  let image: { images: ImageServer; hash: string };
  before(async () => {
    scratch = mkdtempSync(path.join(env('TEST_SCRATCH_DIR'), 'faults-'));
    chmodSync(scratch, 0o755); // PostgreSQL runs as its own user and must reach its folder
    image = await serveImage(scratch);
  });
  after(() => image?.images.close());

  it('PostgreSQL restarted during 10 deploys: all end active, 503 while it is down, the event log whole', async () => {
    const dataDir = path.join(scratch, 'postgres');
    let postgres: LocalPostgres = await startPostgres(dataDir, logger);
    const h = await startHarness({ labCount: 11, lightLab: true, postgresUrl: postgres.url });
    try {
      const [spare, ...uuids] = h.nodeUuids;
      await startDeploys(h, uuids, image.images.url('slow/disk.raw'), image.hash);
      // The deploys are under way (a zero-delay one may already be done: push leaves no idle wait).
      await h.waitFor(`/v1/nodes/${uuids.at(-1)}`, (n) => n.provision_state !== 'available');
      await postgres.stop();
      assert.equal(await probeWhileAway(h, spare, true), 5, 'every request answers 503 while the database is down');
      await sleep(2000);
      postgres = await startPostgres(dataDir, logger);
      const nodes = await waitForDeploysToEnd(h, uuids);
      await assertAllDeployed(h, nodes, image.hash);
      const untouched = (await h.get(`/v1/nodes/${spare}`)).body;
      assert.equal(untouched.extra.touched, undefined, 'a refused PATCH changed nothing');
    } finally {
      await h.close();
      await postgres.stop();
    }
  });

  it('the Temporal server stopped and restarted: calls while it is down answer 503 and change nothing; deploys carry on after', async () => {
    const port = await freeLowPort();
    const serverOptions = {
      port,
      dbFile: path.join(scratch, 'temporal.sqlite'),
      logFile: path.join(scratch, 'temporal.log'),
    };
    let temporal: LocalTemporal = await startTemporal(serverOptions, logger);
    const h = await startHarness({ labCount: 2, lightLab: true, temporalAddress: temporal.address });
    try {
      const [spare, deployed] = h.nodeUuids;
      await h.pool.query(`UPDATE nodes SET provision_state = 'available' WHERE uuid = $1`, [spare]);
      const spareBefore = (await h.get(`/v1/nodes/${spare}`)).body;
      await temporal.stop();
      // PATCH and the reads need no Temporal; power and deploy do, and must be refused whole.
      const power = await h.http('PUT', `/v1/nodes/${spare}/states/power`, { target: 'power on' });
      assert.equal(power.status, 503, JSON.stringify(power.body));
      assert.match(power.headers.get('retry-after') ?? '', /^\d+$/);
      // While the deploy waits for Temporal (up to its 5 s deadline) no lock on the node is held: a
      // change of the node made meanwhile goes through at once, before the deploy is answered.
      const answered: string[] = [];
      const deploying = h
        .http('POST', '/v1/deployments', {
          node: spare,
          image_source: image.images.url('disk.raw'),
          os_hash_algo: 'sha256',
          os_hash_value: image.hash,
        })
        .finally(() => answered.push('deploy'));
      await sleep(500);
      const maintenance = await h.http('PUT', `/v1/nodes/${spare}/maintenance`, { reason: 'while Temporal is away' });
      answered.push('maintenance');
      const deploy = await deploying;
      assert.equal(deploy.status, 503, JSON.stringify(deploy.body));
      assert.equal(maintenance.status, 202, JSON.stringify(maintenance.body));
      assert.deepEqual(answered, ['maintenance', 'deploy'], 'the node was not locked while Temporal was asked');
      assert.equal((await h.http('DELETE', `/v1/nodes/${spare}/maintenance`)).status, 202);
      const spareAfter = (await h.get(`/v1/nodes/${spare}`)).body;
      const unchanged = (n: any) => [
        n.provision_state,
        n.target_provision_state,
        n.instance_info,
        n.target_power_state,
      ];
      assert.deepEqual(unchanged(spareAfter), unchanged(spareBefore), 'the refused requests changed nothing');
      const { rows } = await h.pool.query('SELECT count(*)::int AS n FROM provision_requests');
      assert.equal(rows[0].n, 0, 'nothing handed over to an operation that never started is left');
      // A reservation is recorded only with its workflow: refused whole, within the deadline.
      await insertNode(h.pool, {
        uuid: randomUUID(),
        driver: 'fake',
        resource_class: 'cap',
        provision_state: 'available',
        owner: 'acme',
      });
      const hour = 3600_000;
      const reservation = await h.http('POST', '/v1/reservations', {
        resource_class: 'cap',
        count: 1,
        owner: 'acme',
        lessee: 'bigco',
        start_at: new Date(Date.now() + hour).toISOString(),
        end_at: new Date(Date.now() + 2 * hour).toISOString(),
      });
      assert.equal(reservation.status, 503, JSON.stringify(reservation.body));
      assert.deepEqual((await h.get('/v1/reservations')).body.reservations, [], 'no reservation was promised');
      assert.deepEqual(
        (await h.get(`/v1/deployments?node=${spare}`)).body.deployments,
        [],
        'no deployment was recorded',
      );
      // An agent session's first heartbeat wakes the operation: while that cannot be told, the
      // heartbeat is refused (503) and not kept, so the agent's retry is the first again.
      const agentToken = 'token-of-a-session-with-no-heartbeat-yet';
      const session = { agent_token_hash: hashAgentToken(agentToken), agent_source_address: '127.0.0.1' };
      await h.pool.query(`UPDATE nodes SET driver_internal_info = driver_internal_info || $2::jsonb WHERE uuid = $1`, [
        spare,
        JSON.stringify({ ...session, fast_track: true }),
      ]);
      const heartbeat = () =>
        h.asAgent('POST', `/v1/heartbeat/${spare}`, {
          callback_url: 'http://127.0.0.1:9',
          agent_version: '1.0.0',
          agent_token: agentToken,
        });
      const lastHeartbeat = async () =>
        (
          await h.pool.query(`SELECT driver_internal_info->>'agent_last_heartbeat' AS at FROM nodes WHERE uuid = $1`, [
            spare,
          ])
        ).rows[0].at;
      assert.equal((await heartbeat()).status, 503);
      assert.equal(await lastHeartbeat(), null, 'the refused first heartbeat is not kept');
      temporal = await startTemporal(serverOptions, logger);
      assert.equal((await heartbeat()).status, 202);
      assert.notEqual(await lastHeartbeat(), null);
      await h.pool.query(`UPDATE nodes SET driver_internal_info = driver_internal_info - $2::text[] WHERE uuid = $1`, [
        spare,
        [...Object.keys(session), 'fast_track', 'agent_url', 'agent_version', 'agent_last_heartbeat'],
      ]);
      await startDeploys(h, [spare, deployed], image.images.url('slow/disk.raw'), image.hash);
      await assertAllDeployed(h, await waitForDeploysToEnd(h, [spare, deployed]), image.hash);
    } finally {
      await h.close();
      await temporal.stop();
    }
  });

  // Workflow tasks the server never took the completion of run again after the restart, local
  // activities (node transitions) included: those must find their own earlier write and go on.
  it('the Temporal server restarted during 10 deploys: all end active', async () => {
    const port = await freeLowPort();
    const serverOptions = {
      port,
      dbFile: path.join(scratch, 'temporal-load.sqlite'),
      logFile: path.join(scratch, 'temporal-load.log'),
    };
    let temporal: LocalTemporal = await startTemporal(serverOptions, logger);
    const h = await startHarness({ labCount: 10, lightLab: true, temporalAddress: temporal.address });
    try {
      await startDeploys(h, h.nodeUuids, image.images.url('slow/disk.raw'), image.hash);
      // Every deploy under way (booting the ramdisk, waiting for it, writing), none ended yet.
      await waitForNodesPast(h, 'available', h.nodeUuids.length);
      await temporal.stop();
      // Long enough for heartbeats and command reports to be refused and agents to retry.
      await sleep(5000);
      temporal = await startTemporal(serverOptions, logger);
      await assertAllDeployed(h, await waitForDeploysToEnd(h, h.nodeUuids), image.hash);
    } finally {
      await h.close();
      await temporal.stop();
    }
  });

  // A killed worker's activities are retried once their heartbeats stop (src/activities/heartbeats.ts),
  // not at the end of their start-to-close timeouts.
  it('the worker killed with SIGKILL three times during 20 deploys: all end active with the right bytes', async () => {
    const h = await startHarness({ labCount: 20, lightLab: true, inProcessWorker: false });
    try {
      let worker = h.spawnWorker();
      await startDeploys(h, h.nodeUuids, image.images.url('slow/disk.raw'), image.hash);
      for (let kill = 1; kill <= 3; kill++) {
        // A random moment once this worker is at work: a few more nodes have moved on since the last kill.
        await waitForNodesPast(h, 'available', Math.min(kill * 3, h.nodeUuids.length));
        await sleep(Math.floor(Math.random() * 3000));
        worker.kill('SIGKILL');
        await once(worker, 'exit');
        worker = h.spawnWorker();
      }
      const nodes = await waitForDeploysToEnd(h, h.nodeUuids, 400_000);
      await assertAllDeployed(h, nodes, image.hash);
    } finally {
      await h.close();
    }
  });
});
