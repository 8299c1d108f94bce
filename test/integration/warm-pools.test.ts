// Warm pools on the lab: a pool keeps its target of nodes pre-booted with one long-running
// workflow, boots another when a warm node is taken, powers down extras when the target drops,
// never touches a node in maintenance, checks its agents actively (a hung agent drops its node,
// whose deploy then boots cold), and answers only to its owner.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startImageServer, writeDiskImage, type ImageServer } from '../../src/sim/images.js';
import { startHarness, type Harness } from '../support/harness.js';
import { tenantTokens, type Tenant } from '../support/tenants.js';
import { ended } from '../support/workflows.js';

const PREBOOTED = 'CUSTOM_PREBOOTED';
const RC = 'warm-gpu';

describe('warm pools', () => {
  let h: Harness;
  let images: ImageServer;
  let imageHash: string;
  let tokens: Record<Tenant, string>;
  let poolUuid: string;

  before(async () => {
    h = await startHarness({ labCount: 4 });
    tokens = await tenantTokens(h);
    const file = path.join(path.dirname(h.logFile), 'disk.raw');
    imageHash = await writeDiskImage(file, 32 * 1024 ** 2);
    images = await startImageServer({ 'disk.raw': file });
    await Promise.all(
      h.nodeUuids.map(async (uuid) => {
        await h.http('PATCH', `/v1/nodes/${uuid}`, [
          { op: 'add', path: '/resource_class', value: RC },
          { op: 'add', path: '/owner', value: 'acme' },
          {
            op: 'add',
            path: '/instance_info',
            value: {
              image_source: images.url('disk.raw'),
              image_os_hash_algo: 'sha256',
              image_os_hash_value: imageHash,
            },
          },
        ]);
        for (const target of ['manage', 'provide']) {
          await h.http('PUT', `/v1/nodes/${uuid}/states/provision`, { target });
          await ended(h, uuid);
        }
      }),
    );
  });
  after(async () => {
    await images?.close();
    await h?.close();
  });

  const nodes = async () =>
    (await h.get(`/v1/nodes?resource_class=${RC}&limit=100`)).body.nodes.map((n: { uuid: string }) => n.uuid);
  const node = async (uuid: string) => (await h.get(`/v1/nodes/${uuid}`)).body;
  const warmNodes = async () =>
    (await Promise.all((await nodes()).map(node))).filter(
      (n) => n.provision_state === 'available' && n.traits.includes(PREBOOTED),
    );
  async function until<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 90_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await check();
      if (value) return value;
      if (Date.now() > deadline) {
        const seen = (await Promise.all((await nodes()).map(node))).map((n) =>
          [n.name, n.provision_state, n.target_provision_state, n.power_state, n.traits, n.last_error].join(' '),
        );
        throw new Error(`timed out waiting until ${what}; nodes: ${seen.join('; ')}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  const warmCount = (count: number) => async () => {
    const warm = await warmNodes();
    return warm.length === count && warm;
  };

  it('refuses bad pools with the field named, and another project’s pool', async () => {
    const bad = await h.http('POST', '/v1/warm_pools', { resource_class: RC, target_count: 1, target_share: 0.5 });
    assert.deepEqual([bad.status, bad.body.error.field], [400, 'target_share']);
    const none = await h.http('POST', '/v1/warm_pools', { resource_class: RC });
    assert.deepEqual([none.status, none.body.error.field], [400, 'target_count']);
    const negative = await h.http('POST', '/v1/warm_pools', { resource_class: RC, target_count: -1 });
    assert.deepEqual([negative.status, negative.body.error.field], [400, 'target_count']);
    const foreign = await h.http(
      'POST',
      '/v1/warm_pools',
      { resource_class: RC, target_count: 1, owner: 'acme' },
      tokens.bob,
    );
    assert.equal(foreign.status, 403, JSON.stringify(foreign.body));
    assert.equal((await h.get('/v1/warm_pools')).body.warm_pools.length, 0, 'nothing was created');
  });

  it('keeps the target warm, skipping maintenance, and its workflow shows in Temporal', async () => {
    const [inMaintenance] = await nodes();
    await h.http('PUT', `/v1/nodes/${inMaintenance}/maintenance`, { reason: 'fan swap' });
    const created = await h.http(
      'POST',
      '/v1/warm_pools',
      { name: 'gpu-warm', resource_class: RC, target_count: 2, check_interval_seconds: 5 },
      tokens.alice,
    );
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.owner, 'acme', "a project's pool keeps its own nodes warm");
    poolUuid = created.body.uuid;

    const warm = await until('two nodes are warm', warmCount(2));
    assert.ok(!warm.some((n) => n.uuid === inMaintenance), 'the node in maintenance is left alone');
    const untouched = await node(inMaintenance);
    assert.deepEqual([untouched.power_state, untouched.traits], ['power off', []]);

    const shown = await h.http('GET', `/v1/warm_pools/gpu-warm`, undefined, tokens.auditor);
    assert.deepEqual(shown.body.status, { target: 2, warm: 2 });
    assert.equal((await h.http('GET', `/v1/warm_pools/${poolUuid}`, undefined, tokens.bob)).status, 404);
    const listed = await h.http('GET', `/v1/warm_pools/${poolUuid}/nodes`, undefined, tokens.alice);
    assert.deepEqual(
      listed.body.nodes.filter((n: any) => n.warm).map((n: any) => n.uuid),
      warm.map((n) => n.uuid),
    );
    const description = await h.client.workflow.getHandle(`warm_pool/${poolUuid}`).describe();
    assert.equal(description.status.name, 'RUNNING');
    await h.http('DELETE', `/v1/nodes/${inMaintenance}/maintenance`);
  });

  it('boots another when a warm node is taken, and powers extras down when the target drops', async () => {
    const [taken] = await warmNodes();
    const deploy = await h.http('PUT', `/v1/nodes/${taken.uuid}/states/provision`, { target: 'active' });
    assert.equal(deploy.status, 202, JSON.stringify(deploy.body));
    await ended(h, taken.uuid);
    const deployed = await node(taken.uuid);
    assert.equal(deployed.provision_state, 'active', deployed.last_error);
    assert.equal(deployed.driver_internal_info.ramdisk_boots, 2, 'the deploy used the warm agent: no ramdisk boot');
    await until('two nodes are warm again', warmCount(2));

    const patched = await h.http('PATCH', `/v1/warm_pools/${poolUuid}`, [
      { op: 'replace', path: '/target_count', value: 1 },
    ]);
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    const [kept] = await until('one node is warm', warmCount(1));
    const available = (await Promise.all((await nodes()).map(node))).filter((n) => n.provision_state === 'available');
    const poweredDown = available.filter((n) => n.uuid !== kept.uuid);
    assert.ok(
      poweredDown.some((n) => n.power_state === 'power off'),
      'an extra was powered down',
    );
  });

  it('drops a node whose agent hangs, and its deploy boots cold instead of failing', async () => {
    const [warm] = await warmNodes();
    const index = h.lab!.machines.findIndex((m) => m.name === warm.name);
    const agentPid = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' })
      .split('\n')
      .find((line) => line.includes(`--sim-serial ${h.lab!.machines[index].machine.id}`))
      ?.trim()
      .split(/\s+/)[0];
    assert.ok(agentPid, 'the agent process of the warm node');
    process.kill(Number(agentPid), 'SIGSTOP'); // hung: it neither answers nor heartbeats

    const dropped = await until('the pool drops the node', async () => {
      const n = await node(warm.uuid);
      return !n.traits.includes(PREBOOTED) && n;
    });
    assert.equal(dropped.last_error, 'the pre-booted agent did not answer a status call');
    const history = (await h.get(`/v1/nodes/${warm.uuid}/history?limit=1000`)).body.history;
    assert.ok(history.some((e: any) => e.event === 'prebooted ended' && /did not answer/.test(e.message)));
    await until('another node is warm', warmCount(1));

    const deploy = await h.http('PUT', `/v1/nodes/${warm.uuid}/states/provision`, { target: 'active' });
    assert.equal(deploy.status, 202, JSON.stringify(deploy.body));
    await ended(h, warm.uuid);
    const deployed = await node(warm.uuid);
    assert.equal(deployed.provision_state, 'active', deployed.last_error);
    assert.equal(
      deployed.driver_internal_info.ramdisk_boots - warm.driver_internal_info.ramdisk_boots,
      1,
      'booted cold',
    );
  });

  it('stops when deleted: its workflow ends, its nodes stay as they are', async () => {
    const warmBefore = (await warmNodes()).map((n) => n.uuid);
    assert.equal((await h.http('DELETE', `/v1/warm_pools/${poolUuid}`, undefined, tokens.bob)).status, 404);
    assert.equal((await h.http('DELETE', `/v1/warm_pools/${poolUuid}`, undefined, tokens.alice)).status, 204);
    await h.client.workflow.getHandle(`warm_pool/${poolUuid}`).result();
    assert.deepEqual(
      (await warmNodes()).map((n) => n.uuid),
      warmBefore,
    );
    assert.equal((await h.get(`/v1/warm_pools/${poolUuid}`)).status, 404);
  });
});
