// No secret (BMC password, API token, the agent token key, a config drive's admin password) in any
// API response, in any workflow history the Temporal UI shows, or in any log line of the API, the
// worker or the agents, after a node has been enrolled, verified (once with a wrong password),
// powered, cleaned and deployed with a config drive, and another cleaned again.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startImageServer, writeDiskImage, type ImageServer } from '../../src/sim/images.js';
import { env, startHarness, type Harness } from '../support/harness.js';
import { assertNoSecret, historyText } from '../support/secrets.js';
import { ended, finished } from '../support/workflows.js';

describe('secrets stay secret', () => {
  let h: Harness;
  let images: ImageServer | undefined;
  const wrongPassword = 'wrong-and-also-secret-42';
  const instancePassword = 'instance-admin-pass-77';
  before(async () => {
    h = await startHarness({ labCount: 2, powerDelayMs: 50, lightLab: true });
    const [good, bad] = h.nodeUuids;
    const file = path.join(mkdtempSync(path.join(env('TEST_SCRATCH_DIR'), 'secrets-')), 'disk.raw');
    const hash = await writeDiskImage(file, 16 * 1024 * 1024);
    images = await startImageServer({ 'disk.raw': file });
    // Each operation's workflow ends before the next starts on the same node: it holds the node's lock.
    await h.http('PUT', `/v1/nodes/${good}/states/provision`, { target: 'manage' });
    await finished(h, good);
    await h.http('PUT', `/v1/nodes/${good}/states/power`, { target: 'power on' });
    await finished(h, good);
    // Clean (the ramdisk boots, its agent gets a token and erases), then deploy with a config drive.
    await h.http('PUT', `/v1/nodes/${good}/states/provision`, { target: 'provide' });
    await finished(h, good);
    const deploy = await h.http('POST', '/v1/deployments', {
      node: good,
      image_source: images.url('disk.raw'),
      os_hash_algo: 'sha256',
      os_hash_value: hash,
      configdrive: { meta_data: { admin_pass: instancePassword } },
    });
    assert.equal(deploy.status, 201, JSON.stringify(deploy.body));
    await finished(h, good);
    assert.equal((await h.get(`/v1/nodes/${good}`)).body.provision_state, 'active');
    await h.http('PATCH', `/v1/nodes/${bad}`, { driver_info: { redfish_password: wrongPassword } });
    await h.http('PUT', `/v1/nodes/${bad}/states/provision`, { target: 'manage' });
    await ended(h, bad);
    assert.equal((await h.get(`/v1/nodes/${bad}`)).body.provision_state, 'enroll');
  });
  after(async () => {
    await images?.close();
    await h?.close();
  });

  const secrets = () => [
    h.credentials.password,
    wrongPassword,
    instancePassword,
    h.config.adminToken!,
    h.config.agentTokenKey!,
  ];
  // Plain, base64 (a Basic header), URL-encoded: every form the shared scan knows.
  const assertClean = (where: string, text: string) => assertNoSecret(where, text, secrets(), h.credentials.username);

  it('is in no API response', async () => {
    const paths = [
      '/v1/nodes',
      '/v1/ports',
      '/v1/events',
      ...h.nodeUuids.flatMap((u) => [`/v1/nodes/${u}`, `/v1/nodes/${u}/history`, `/v1/nodes/${u}/states`]),
    ];
    for (const path of paths) {
      const response = await h.get(path);
      assert.equal(response.status, 200, path);
      assertClean(path, JSON.stringify(response.body));
    }
    const patched = await h.http('PATCH', `/v1/nodes/${h.nodeUuids[0]}`, { extra: { checked: true } });
    assertClean('a PATCH response', JSON.stringify(patched.body));
    assert.equal(patched.body.driver_info.redfish_password, '******');
  });

  it('is in no workflow history', async () => {
    let histories = 0;
    for await (const workflow of h.client.workflow.list({ query: `TaskQueue = '${h.config.taskQueue}'` })) {
      const history = await h.client.workflow.getHandle(workflow.workflowId, workflow.runId).fetchHistory();
      assertClean(`the history of ${workflow.workflowId}`, historyText(history));
      histories++;
    }
    assert.ok(histories >= 5, `expected the verify, power, clean and deploy workflows, found ${histories}`);
  });

  it('is in no log line', () => {
    const logs = h.logs();
    assert.ok(logs.length > 0);
    assertClean('the logs', logs);
  });
});
