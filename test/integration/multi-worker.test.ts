// Two workers and two APIs, each its own process, on one Temporal server and one PostgreSQL: the
// scale-out topology. Requests go to either API, the agents reach both through a load balancer,
// and the Temporal task queue hands work to both workers. Then one worker and one API are killed
// (SIGKILL) in the middle of four deploys: the other two carry every deploy to active.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import proto from '@temporalio/proto';
import type { Harness, SpawnedApi } from '../support/harness.js';
import { hashFilePrefix, startImageServer, writeDiskImage, type ImageServer } from '../../src/sim/images.js';
import { startBalancer, type Balancer } from '../support/balancer.js';
import { startHarness } from '../support/harness.js';
import { finished } from '../support/workflows.js';

const MiB = 1024 ** 2;

/** Who ran each activity task and workflow task of the node's current operation, as the Temporal UI shows it. */
/** The workers whose identities ran tasks of any of the node's operations (every run of its workflow). */
async function workersOf(h: Harness, uuid: string): Promise<Set<string>> {
  const identities = new Set<string>();
  for await (const run of h.client.workflow.list({ query: `WorkflowId = 'node/${uuid}'` })) {
    const history = await h.client.workflow.getHandle(run.workflowId, run.runId).fetchHistory();
    for (const e of history.events ?? []) {
      const identity = e.activityTaskStartedEventAttributes?.identity ?? e.workflowTaskStartedEventAttributes?.identity;
      if (identity) identities.add(identity);
    }
  }
  return identities;
}

/** Waits until every one of `identities` polls the task queue for activities, as the UI's task queue page lists them. */
async function waitForPollers(h: Harness, identities: string[], timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { pollers } = await h.client.workflowService.describeTaskQueue({
      namespace: h.config.temporalNamespace,
      taskQueue: { name: h.config.taskQueue },
      taskQueueType: proto.temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
    });
    const polling = new Set((pollers ?? []).map((p) => p.identity));
    if (identities.every((identity) => polling.has(identity))) return;
    if (Date.now() > deadline) throw new Error(`workers not polling after ${timeoutMs} ms: ${identities.join(', ')}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('two workers and two APIs on one Temporal and one PostgreSQL', () => {
  let h: Harness;
  let images: ImageServer;
  let imageHash: string;
  let agentBalancer: Balancer;
  let apis: SpawnedApi[];
  let workers: ChildProcess[];
  const imageBytes = 16 * MiB; // two seconds at the slow image server's 8 MiB/s: the deploys are mid-way when killed
  const identity = (worker: ChildProcess) => `${worker.pid}@${os.hostname()}`;

  before(async () => {
    h = await startHarness({
      labCount: 4,
      lightLab: true,
      powerDelayMs: 500,
      inProcessWorker: false,
      agentApiUrl: async () => {
        agentBalancer = await startBalancer();
        return agentBalancer.url;
      },
    });
    workers = [h.spawnWorker(), h.spawnWorker()];
    apis = [await h.spawnApi(), await h.spawnApi()];
    await waitForPollers(h, workers.map(identity));
    agentBalancer.backends.push(...apis.map((api) => new URL(api.agentUrl).host));
    const file = path.join(path.dirname(h.logFile), 'disk.raw');
    imageHash = await writeDiskImage(file, imageBytes);
    images = await startImageServer({ 'disk.raw': file });
  });
  after(async () => {
    await images?.close();
    await h?.close();
    await agentBalancer?.close();
  });

  /** A request to one API process, as the admin. */
  async function call(api: SpawnedApi, method: string, urlPath: string, body?: unknown) {
    const response = await fetch(`${api.url}${urlPath}`, {
      method,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${h.config.adminToken}` },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  }

  async function waitForNodes(api: SpawnedApi, done: (nodes: any[]) => boolean, timeoutMs: number) {
    const deadline = Date.now() + timeoutMs;
    let nodes: any[] = [];
    while (Date.now() < deadline) {
      nodes = await Promise.all(h.nodeUuids.map(async (uuid) => (await call(api, 'GET', `/v1/nodes/${uuid}`)).body));
      if (done(nodes)) return nodes;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`timed out; nodes: ${JSON.stringify(nodes.map((n) => [n.provision_state, n.deploy_step]))}`);
  }

  it('spreads operations over both, and finishes every deploy after one worker and one API are killed', async () => {
    // Node i's requests go to API i % 2.
    const apiOf = (i: number) => apis[i % 2];
    for (const target of ['manage', 'provide']) {
      await Promise.all(
        h.nodeUuids.map(async (uuid, i) => {
          const response = await call(apiOf(i), 'PUT', `/v1/nodes/${uuid}/states/provision`, { target });
          assert.equal(response.status, 202, JSON.stringify(response.body));
          await finished(h, uuid);
        }),
      );
    }
    // A run keeps to the worker that took its first task (sticky queue, eager activities): eight runs
    // (manage and provide on four nodes) show the spread, where four might all land on one worker.
    const busyWorkers = new Set<string>();
    for (const uuid of h.nodeUuids) for (const worker of await workersOf(h, uuid)) busyWorkers.add(worker);
    assert.deepEqual(
      [...busyWorkers].sort(),
      workers.map(identity).sort(),
      'both workers ran tasks of the manage and provide operations',
    );
    for (const api of apis) {
      assert.ok(agentBalancer.connections.get(new URL(api.agentUrl).host)! > 0, `agents called ${api.agentUrl}`);
    }

    await Promise.all(
      h.nodeUuids.map(async (uuid, i) => {
        const patched = await call(apiOf(i), 'PATCH', `/v1/nodes/${uuid}`, {
          instance_info: {
            image_source: images.url('slow/disk.raw'),
            image_os_hash_algo: 'sha256',
            image_os_hash_value: imageHash,
            image_disk_format: 'raw',
          },
        });
        assert.equal(patched.status, 200, JSON.stringify(patched.body));
        const response = await call(apiOf(i), 'PUT', `/v1/nodes/${uuid}/states/provision`, { target: 'active' });
        assert.equal(response.status, 202, JSON.stringify(response.body));
      }),
    );
    // Every deploy under way and at least one image being written: kill worker 0 and API 0.
    await waitForNodes(
      apis[1],
      (nodes) =>
        nodes.every((n) => n.provision_state !== 'available') &&
        nodes.some((n) => n.deploy_step?.step === 'write_image'),
      120_000,
    );
    for (const killed of [workers[0], apis[0].child]) {
      killed.kill('SIGKILL');
      await once(killed, 'exit');
    }

    // An activity the dead worker held is retried once its timeout passes: hence the generous wait.
    const nodes = await waitForNodes(
      apis[1],
      (all) => all.every((n) => !['deploying', 'wait call-back', 'available'].includes(n.provision_state)),
      240_000,
    );
    for (const node of nodes) assert.equal(node.provision_state, 'active', node.last_error);
    for (const { machine } of h.lab!.machines) {
      assert.equal(
        await hashFilePrefix(machine.diskPath, imageBytes),
        imageHash,
        `${machine.id}'s disk holds the image`,
      );
    }
    const deployWorkers = new Set<string>();
    for (const uuid of h.nodeUuids) for (const worker of await workersOf(h, uuid)) deployWorkers.add(worker);
    assert.ok(deployWorkers.has(identity(workers[1])), 'the surviving worker carried the deploys on');
    // The dead API is gone for good; the survivor still answers.
    await assert.rejects(fetch(`${apis[0].url}/healthz`));
    assert.equal((await call(apis[1], 'GET', '/healthz')).status, 200);
  });
});
