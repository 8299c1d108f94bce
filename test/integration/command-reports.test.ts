// The agent reports each command's end to the API, which signals the node's workflow: the wait
// ends on the report, not on a poll. The network between agent and API may duplicate or lose a
// report (a proxy in front of the API does so here, for the lab's real agent program): a duplicate
// changes nothing, and a lost one is found by the workflow's slow safety-net check.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hashFilePrefix, startImageServer, writeDiskImage, type ImageServer } from '../../src/sim/images.js';
import { startHarness, type Harness } from '../support/harness.js';
import { ended } from '../support/workflows.js';

const MiB = 1024 ** 2;

type ReportFate = 'deliver' | 'duplicate' | 'lose';

/** Forwards the agents' calls to the API; command reports meet `fate()`. */
async function startAgentNetwork(
  apiUrl: string,
  fate: () => ReportFate,
): Promise<{ url: string; reports: number; server: Server }> {
  const network = { url: '', reports: 0, server: undefined as unknown as Server };
  network.server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const forward = () =>
      fetch(`${apiUrl}${request.url}`, {
        method: request.method,
        headers: { 'content-type': request.headers['content-type'] ?? 'application/json' },
        body: request.method === 'GET' ? undefined : Buffer.concat(chunks),
      });
    const isReport = request.url?.startsWith('/v1/command_result/') ?? false;
    if (isReport) network.reports++;
    const what = isReport ? fate() : 'deliver';
    if (what === 'lose') return void response.writeHead(202).end();
    if (what === 'duplicate') await forward();
    const answer = await forward();
    response.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' });
    response.end(Buffer.from(await answer.arrayBuffer()));
  });
  await new Promise<void>((resolve) => network.server.listen(0, '127.0.0.1', resolve));
  network.url = `http://127.0.0.1:${(network.server.address() as AddressInfo).port}`;
  return network;
}

describe('command reports from the agent', () => {
  let h: Harness;
  let images: ImageServer;
  let imageHash: string;
  let network: Awaited<ReturnType<typeof startAgentNetwork>>;
  let fate: ReportFate = 'deliver';
  // Written from the slow image server (8 MiB/s): the write outlasts the start activity's short
  // wait, so the workflow waits for the agent's report.
  const imageBytes = 64 * MiB;

  before(async () => {
    h = await startHarness({
      labCount: 1,
      agentApiUrl: async (apiUrl) => {
        network = await startAgentNetwork(apiUrl, () => fate);
        return network.url;
      },
    });
    const image = path.join(path.dirname(h.logFile), 'disk.raw');
    imageHash = await writeDiskImage(image, imageBytes);
    images = await startImageServer({ 'disk.raw': image });
    const uuid = h.nodeUuids[0];
    await provision(uuid, { target: 'manage' });
    await provision(uuid, { target: 'provide' });
  });
  after(async () => {
    await images?.close();
    await h?.close();
    network?.server.close();
  });

  async function provision(uuid: string, body: Record<string, unknown>) {
    const response = await h.http('PUT', `/v1/nodes/${uuid}/states/provision`, body);
    assert.equal(response.status, 202, JSON.stringify(response.body));
    const handle = h.client.workflow.getHandle(`node/${uuid}`);
    await ended(h, uuid, 300_000);
    const { events } = await handle.fetchHistory();
    return events ?? [];
  }

  /** A deploy of the slow image, then back to available; answers the deploy's history. */
  async function deployAndUndeploy(uuid: string) {
    await h.http('PATCH', `/v1/nodes/${uuid}`, {
      instance_info: {
        image_source: images.url('slow/disk.raw'),
        image_os_hash_algo: 'sha256',
        image_os_hash_value: imageHash,
      },
    });
    const events = await provision(uuid, { target: 'active' });
    const node = (await h.get(`/v1/nodes/${uuid}`)).body;
    assert.equal(node.provision_state, 'active', node.last_error);
    assert.equal(await hashFilePrefix(h.lab!.machines[0].machine.diskPath, imageBytes), imageHash);
    fate = 'deliver';
    await provision(uuid, { target: 'deleted' });
    assert.equal((await h.get(`/v1/nodes/${uuid}`)).body.provision_state, 'available');
    return events;
  }

  const reportSignals = (events: any[]) =>
    events.filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'agentCommandEnded');
  const activities = (events: any[], name: string) =>
    events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === name).length;

  it('wakes the waiting deploy on the report; a duplicated report changes nothing', async () => {
    const uuid = h.nodeUuids[0];
    fate = 'duplicate';
    const reportsBefore = network.reports;
    const events = await deployAndUndeploy(uuid);
    assert.ok(network.reports > reportsBefore, 'the agent reported its commands');
    const signals = reportSignals(events);
    assert.ok(signals.length >= 2, 'each report arrived twice');
    const payloads = signals.map((s) =>
      JSON.parse(Buffer.from(s.workflowExecutionSignaledEventAttributes.input.payloads[0].data).toString('utf8')),
    );
    for (const payload of payloads)
      assert.deepEqual(
        Object.keys(payload).sort(),
        ['commandId', 'status'],
        'no secret, no message: id and status only',
      );
    const ids = payloads.map((p) => p.commandId);
    assert.ok(
      ids.some((id, i) => ids.indexOf(id) !== i),
      'the same command was reported twice',
    );
    assert.equal(activities(events, 'agentCommandStatus'), 0, 'the report ended the wait: no poll');
    const history = (await h.get(`/v1/nodes/${uuid}/history?kind=provision&limit=1000`)).body.history;
    const lastDeploy = history.slice(history.findLastIndex((e: any) => e.event === 'deploy'));
    assert.deepEqual(
      lastDeploy.filter((e: any) => e.event === 'start deploy step').map((e: any) => e.message),
      ['deploy.write_image', 'deploy.install_bootloader', 'deploy.prepare_instance_boot'],
      'each step ran once',
    );
  });

  it('finds a command whose report was lost with the safety-net check', async () => {
    const uuid = h.nodeUuids[0];
    fate = 'lose';
    const events = await deployAndUndeploy(uuid);
    assert.equal(reportSignals(events).length, 0, 'no report reached the workflow');
    assert.ok(activities(events, 'agentCommandStatus') >= 1, 'the safety-net check asked the agent');
  });
});
