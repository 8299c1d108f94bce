// The agent in the lab, end to end: a machine powered on into PXE boots the agent program (a
// child process), which looks itself up and heartbeats through the real API; the control plane
// then derives the agent's token, as activities do, to write images onto the machine's disk file.
// The clean and deploy workflows that put nodes into states expecting an agent arrive in a later
// issue, so these tests set provision_state directly in the database.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AgentClient, agentClientForNode } from '../../src/agent/client.js';
import { findNode } from '../../src/db/nodes.js';
import { deriveAgentToken } from '../../src/domain/agent.js';
import { hashFilePrefix, startImageServer, writeRandomImage, type ImageServer } from '../../src/sim/images.js';
import { startHarness, type Harness } from '../support/harness.js';
import { finished, resultWithin } from '../support/workflows.js';

const MiB = 1024 ** 2;

describe('the agent in the lab', () => {
  let h: Harness;
  let images: ImageServer;
  let rawHash: string;
  let qcowSourceHash: string;
  let qcowHash: string;
  const issuedTokens: string[] = [];

  before(async () => {
    // Power changes take a moment, so a power operation is still running when a heartbeat comes.
    h = await startHarness({ labCount: 2, powerDelayMs: 1500 });
    const folder = path.dirname(h.logFile);
    const file = (name: string) => path.join(folder, name);
    rawHash = await writeRandomImage(file('image.raw'), 256 * MiB);
    // A qcow2 with data and holes: 16 MiB of random data inside 64 MiB, the rest zeros.
    execFileSync('truncate', ['--size=64M', file('qcow-source.raw')]);
    execFileSync('dd', [
      `if=${file('image.raw')}`,
      `of=${file('qcow-source.raw')}`,
      'bs=1M',
      'count=16',
      'seek=24',
      'conv=notrunc',
      'status=none',
    ]);
    qcowSourceHash = await hashFilePrefix(file('qcow-source.raw'), 64 * MiB);
    execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', file('qcow-source.raw'), file('image.qcow2')]);
    qcowHash = await hashFilePrefix(file('image.qcow2'), statSync(file('image.qcow2')).size);
    images = await startImageServer({ 'image.raw': file('image.raw'), 'image.qcow2': file('image.qcow2') });
  });
  after(async () => {
    await images?.close();
    await h?.close();
  });

  const setState = (uuid: string, state: string, driverInternalInfo: Record<string, unknown> = {}) =>
    h.pool.query(
      'UPDATE nodes SET provision_state = $2, driver_internal_info = driver_internal_info || $3::jsonb WHERE uuid = $1',
      [uuid, state, JSON.stringify(driverInternalInfo)],
    );
  const node = async (uuid: string) => (await findNode(h.pool, uuid))!;
  /** Lookups and heartbeats come from agents, which hold no API token. */
  const asAgent = (method: string, urlPath: string, body?: unknown, from?: string) =>
    h.asAgent(method, urlPath, body, from);

  it('boots the agent when a machine powers on into PXE; it looks up and heartbeats, and the node shows its URL', async () => {
    const [uuid] = h.nodeUuids;
    const machine = h.lab!.machines[0].machine;
    await setState(uuid, 'cleaning');
    machine.setBootOverride({ target: 'Pxe', enabled: 'Once' });
    assert.equal((await h.http('PUT', `/v1/nodes/${uuid}/states/power`, { target: 'power on' })).status, 202);

    const shown = await h.waitFor(
      `/v1/nodes/${uuid}`,
      (n) => typeof n.driver_internal_info.agent_url === 'string',
      30_000,
    );
    assert.match(shown.driver_internal_info.agent_url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(shown.driver_internal_info.agent_version, '1.0.0');
    assert.ok(Date.parse(shown.driver_internal_info.agent_last_heartbeat) > Date.now() - 60_000);
    assert.equal(shown.driver_internal_info.agent_token_hash, '******', 'the API masks the token hash');
    assert.equal(shown.driver_internal_info.agent_token_nonce, '******');
    assert.equal((await fetch(`${shown.driver_internal_info.agent_url}/v1/status`)).status, 200);
    const stored = (await node(uuid)).driver_internal_info;
    issuedTokens.push(deriveAgentToken(h.config.agentTokenKey!, uuid, stored.agent_token_nonce as string));
  });

  it('hides the token from later lookups, and answers 404 for nodes not expecting an agent', async () => {
    const [first, second] = h.lab!.machines;
    const again = await asAgent('GET', `/v1/lookup?addresses=${first.macs.join(',')}`);
    assert.equal(again.status, 200);
    assert.equal(again.body.node.uuid, h.nodeUuids[0]);
    assert.equal(again.body.config.agent_token, '******');
    assert.equal(again.headers.get('cache-control'), 'no-store');

    // The second node is in enroll: no agent expected.
    assert.equal((await asAgent('GET', `/v1/lookup?addresses=${second.macs[0]}`)).status, 404);
    assert.equal((await asAgent('GET', '/v1/lookup?addresses=52:54:00:ff:ff:ff')).status, 404);
    assert.equal((await asAgent('GET', '/v1/lookup?addresses=not-a-mac')).status, 400);
    assert.equal((await asAgent('GET', '/v1/lookup')).status, 400);
    // Fast-track lets an available or manageable node keep (or boot) an agent.
    await setState(h.nodeUuids[1], 'manageable', { fast_track: true });
    const fastTrack = await asAgent('GET', `/v1/lookup?addresses=${second.macs[1]}`);
    assert.equal(fastTrack.status, 200);
    assert.match(fastTrack.body.config.agent_token, /^[A-Za-z0-9_-]{43}$/);
    issuedTokens.push(fastTrack.body.config.agent_token);
  });

  it('refuses a heartbeat without or with a wrong token (401) and records it as an auth event', async () => {
    const uuid = h.nodeUuids[0];
    const beat = { callback_url: 'http://127.0.0.1:9/', agent_version: '6.6.6' };
    assert.equal((await asAgent('POST', `/v1/heartbeat/${uuid}`, beat)).status, 401);
    assert.equal((await asAgent('POST', `/v1/heartbeat/${uuid}`, { ...beat, agent_token: 'forged' })).status, 401);
    const { body } = await h.get(`/v1/events?kind=auth&node=${uuid}`);
    assert.deepEqual(
      body.events.map((e: any) => [e.event, e.severity, e.message.replace(/ from .*/, '')]),
      [
        ['heartbeat', 'error', 'agent heartbeat with no agent_token'],
        ['heartbeat', 'error', 'agent heartbeat with a wrong agent_token'],
      ],
    );
    assert.notEqual(
      (await node(uuid)).driver_internal_info.agent_version,
      '6.6.6',
      'nothing of a refused heartbeat is kept',
    );
  });

  it("signals the running operation on a session's first heartbeat only, with no token in the workflow history", async () => {
    const uuid = h.nodeUuids[1];
    const token = issuedTokens[1];
    assert.equal((await h.http('PUT', `/v1/nodes/${uuid}/states/power`, { target: 'power on' })).status, 202);
    for (let i = 0; i < 3; i++) {
      const beat = await asAgent('POST', `/v1/heartbeat/${uuid}`, {
        callback_url: 'http://127.0.0.1:9999',
        agent_version: '1.0.0',
        agent_token: token,
      });
      assert.equal(beat.status, 202);
    }
    const handle = h.client.workflow.getHandle(`node/${uuid}`);
    await resultWithin(handle);
    const { events } = await handle.fetchHistory();
    const signals = events!.filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'agentHeartbeat');
    assert.equal(signals.length, 1);
    const payload = signals[0].workflowExecutionSignaledEventAttributes!.input!.payloads![0].data!;
    assert.deepEqual(Object.keys(JSON.parse(Buffer.from(payload).toString('utf8'))), ['agentUrl', 'at']);
    // Payloads may be bytes or base64 text depending on how the history was fetched: look at both.
    const history = JSON.stringify(events, (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : v));
    const decoded = [...history.matchAll(/"data":"([A-Za-z0-9+/=]+)"/g)]
      .map((m) => Buffer.from(m[1], 'base64').toString('utf8'))
      .join('\n');
    assert.match(decoded + history, /http:\/\/127\.0\.0\.1:9999/);
    assert.ok(!history.includes(token) && !decoded.includes(token), 'the token is not in the history');
  });

  it('writes a 256 MiB raw image, then a qcow2 one, onto the disk file; refuses a corrupted image; wants its token', async () => {
    const uuid = h.nodeUuids[0];
    const { diskPath } = h.lab!.machines[0].machine;
    const stored = await node(uuid);
    const agent = agentClientForNode(stored, h.config.agentTokenKey!, { timeoutMs: 120_000 });
    await assert.rejects(
      new AgentClient(agent.agentUrl, 'guessed').getHardwareInfo(),
      (err: any) => err.status === 401,
    );
    const writeImage = async (args: Record<string, unknown>) => {
      const started = await agent.executeStep('deploy', { step: 'write_image', args });
      assert.equal(started.command_status, 'RUNNING');
      return agent.getCommand(started.id, { wait: true });
    };

    const raw = await writeImage({
      image_source: images.url('image.raw'),
      disk_format: 'raw',
      os_hash_algo: 'sha256',
      os_hash_value: rawHash,
    });
    assert.equal(raw.command_status, 'SUCCEEDED', JSON.stringify(raw.command_error));
    assert.equal(await hashFilePrefix(diskPath, 256 * MiB), rawHash, 'the disk holds the image');
    assert.deepEqual((raw.command_result as any).deploy_result, {
      root_device: diskPath,
      disk_format: 'raw',
      bytes_downloaded: 256 * MiB,
      os_hash_algo: 'sha256',
      os_hash_value: rawHash,
    });

    const qcow = await writeImage({
      image_source: images.url('image.qcow2'),
      disk_format: 'qcow2',
      os_hash_algo: 'sha256',
      os_hash_value: qcowHash,
    });
    assert.equal(qcow.command_status, 'SUCCEEDED', JSON.stringify(qcow.command_error));
    assert.equal(
      await hashFilePrefix(diskPath, 64 * MiB),
      qcowSourceHash,
      'the disk holds the qcow2 image converted, holes as zeros',
    );

    // The agent answers with the step it ran, never its arguments (config drive, signed image URL).
    const drive = await agent.executeStep('deploy', {
      step: 'write_configdrive',
      args: { configdrive: { meta_data: { hostname: 'h' }, user_data: '#cloud-config\n# secret-user-data-0123\n' } },
    });
    const driveDone = await agent.getCommand(drive.id, { wait: true });
    assert.equal(driveDone.command_status, 'SUCCEEDED', JSON.stringify(driveDone.command_error));
    assert.deepEqual((driveDone.command_result as any).deploy_step, { step: 'write_configdrive', interface: 'deploy' });
    const signedUrl = `${images.url('missing.raw')}?X-Amz-Signature=signed-url-secret-0123`;
    const missing = await writeImage({
      image_source: signedUrl,
      disk_format: 'raw',
      os_hash_algo: 'sha256',
      os_hash_value: rawHash,
    });
    assert.equal(missing.command_status, 'FAILED');
    const everything = JSON.stringify([driveDone, missing, raw, await agent.listCommands()]);
    for (const secret of ['secret-user-data-0123', 'signed-url-secret-0123'])
      assert.ok(!everything.includes(secret), `the agent echoes ${secret}`);
    assert.ok(!h.logs().includes('signed-url-secret-0123'), 'the agent logs a signed URL');

    const corrupted = await writeImage({
      image_source: images.url('image.qcow2'),
      disk_format: 'qcow2',
      os_hash_algo: 'sha256',
      os_hash_value: rawHash,
    });
    assert.equal(corrupted.command_status, 'FAILED');
    assert.match(corrupted.command_error!.message, /image checksum mismatch/);
    assert.equal(
      await hashFilePrefix(diskPath, 64 * MiB),
      qcowSourceHash,
      'a qcow2 is checked before it reaches the disk',
    );
  });

  it('stops the agent when the machine powers off', async () => {
    const uuid = h.nodeUuids[0];
    const { agent_url: agentUrl } = (await node(uuid)).driver_internal_info as { agent_url: string };
    assert.equal((await h.http('PUT', `/v1/nodes/${uuid}/states/power`, { target: 'power off' })).status, 202);
    await finished(h, uuid);
    await assert.rejects(fetch(`${agentUrl}/v1/status`), /fetch failed/);
  });

  it("hands a token only to a caller naming the node's MACs, and only on the agents' listener", async () => {
    const [first, second] = h.lab!.machines;
    const uuid = h.nodeUuids[0];
    await setState(uuid, 'cleaning');
    // A node UUID is no secret (tenants see theirs): alone it identifies nothing.
    const byUuid = await asAgent('GET', `/v1/lookup?node_uuid=${uuid}`);
    assert.equal(byUuid.status, 400);
    assert.equal(byUuid.body.error.field, 'query.addresses');
    // Another node's MACs with this node's UUID: no match, no token.
    assert.equal((await asAgent('GET', `/v1/lookup?addresses=${second.macs[0]}&node_uuid=${uuid}`)).status, 404);
    // The tenant API does not serve the agents' routes at all.
    assert.equal((await h.http('GET', `/v1/lookup?addresses=${first.macs.join(',')}`, undefined, null)).status, 401);
    assert.equal((await h.get(`/v1/lookup?addresses=${first.macs.join(',')}`)).status, 404);
    const { status, body } = await asAgent('GET', `/v1/lookup?addresses=${first.macs.join(',')}&node_uuid=${uuid}`);
    assert.equal(status, 200);
    assert.match(body.config.agent_token, /^[A-Za-z0-9_-]{43}$/);
    issuedTokens.push(body.config.agent_token);
  });

  it('binds the token to the session of that boot: another address, another callback URL or an ended session is refused', async () => {
    const uuid = h.nodeUuids[0];
    const token = issuedTokens[2];
    const beat = { callback_url: 'http://127.0.0.1:9999', agent_version: '1.0.0', agent_token: token };
    // A second machine on the provisioning network that copied the token gets nowhere with it.
    assert.equal((await asAgent('POST', `/v1/heartbeat/${uuid}`, beat, '127.0.0.2')).status, 401);
    assert.equal((await asAgent('POST', `/v1/heartbeat/${uuid}`, beat)).status, 202);
    assert.equal(
      (await asAgent('POST', `/v1/heartbeat/${uuid}`, { ...beat, callback_url: 'http://127.0.0.1:9998' })).status,
      401,
    );
    assert.equal((await asAgent('POST', `/v1/heartbeat/${uuid}`, beat)).status, 202);
    const { body } = await h.get(`/v1/events?kind=auth&node=${uuid}`);
    assert.ok(
      body.events.some((e: any) => /another address/.test(e.message) && /127\.0\.0\.2/.test(e.message)),
      'the refused heartbeat is an auth event naming its source',
    );
    // A power operation ends the session: the machine rebooted or went off, and its agent with it.
    await setState(uuid, 'manageable');
    assert.equal((await h.http('PUT', `/v1/nodes/${uuid}/states/power`, { target: 'power off' })).status, 202);
    await finished(h, uuid);
    assert.equal((await node(uuid)).driver_internal_info.agent_token_hash, undefined);
    await setState(uuid, 'cleaning');
    assert.equal((await asAgent('POST', `/v1/heartbeat/${uuid}`, beat)).status, 401);
  });

  it('never shows an agent token in a log line or an API response', async () => {
    assert.equal(issuedTokens.length, 3);
    const responses = await Promise.all(
      h.nodeUuids.flatMap((uuid) => [h.get(`/v1/nodes/${uuid}`), h.get(`/v1/nodes/${uuid}/history`)]),
    );
    const logs = h.logs();
    assert.match(logs, /"msg":"looked up"/, 'the agents log into the harness log');
    for (const token of issuedTokens) {
      assert.ok(!logs.includes(token), 'a token appears in the logs');
      for (const response of responses)
        assert.ok(!JSON.stringify(response.body).includes(token), 'a token appears in an API response');
    }
  });
});
