// An operator greps one request id (the X-OpenStack-Request-Id the API answers with) and finds
// every line of it: the API's, and the workflow's and activities' of the operation it started,
// each naming the node.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { nodeWorkflowId } from '../../src/workflows/contract.js';
import { startHarness, type Harness } from '../support/harness.js';
import { ended } from '../support/workflows.js';

type LogLine = Record<string, unknown> & { msg?: string };

describe('request and operation logs', () => {
  let h: Harness;
  let uuid: string;

  before(async () => {
    h = await startHarness({ labCount: 1 });
    [uuid] = h.nodeUuids;
  });
  after(() => h?.close());

  /** Asks for provision `target` on the node as a request with an id of our own. */
  async function provision(target: string): Promise<{ requestId: string; status: number }> {
    const requestId = `req-logs-${randomBytes(6).toString('hex')}`;
    const response = await fetch(`${h.apiUrl}/v1/nodes/${uuid}/states/provision`, {
      method: 'PUT',
      headers: {
        authorization: `Bearer ${h.config.adminToken}`,
        'content-type': 'application/json',
        'x-openstack-request-id': requestId,
      },
      body: JSON.stringify({ target }),
    });
    assert.equal(response.headers.get('x-openstack-request-id'), requestId);
    return { requestId, status: response.status };
  }

  /** Runs `target` on the node; answers the request id and the operation's run. */
  async function operate(target: string): Promise<{ requestId: string; runId: string }> {
    const { requestId, status } = await provision(target);
    assert.equal(status, 202);
    await ended(h, uuid);
    const { runId } = await h.client.workflow.getHandle(nodeWorkflowId(uuid)).describe();
    return { requestId, runId };
  }

  function logLines(): LogLine[] {
    return h
      .logs()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as LogLine);
  }

  it('gives every line of a request and of its operation the request id and the node', async () => {
    const { requestId, runId } = await operate('manage');
    // The file is written asynchronously by several streams.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const lines = logLines().filter(
      (line) => line.requestId === requestId || line.runId === runId || line.workflowRunId === runId,
    );
    const unlabelled = lines.filter((line) => line.requestId !== requestId || line.nodeUuid !== uuid);
    assert.deepEqual(unlabelled, [], 'lines without the request id or the node');

    const messages = (filter: (line: LogLine) => boolean) => lines.filter(filter).map((line) => line.msg);
    assert.deepEqual(
      messages((line) => 'res' in line),
      ['request completed'],
      'the API request line',
    );
    assert.ok(messages((line) => line.runId === runId).includes('Workflow started'), 'the workflow lines');
    const activities = lines.filter((line) => line.workflowRunId === runId).map((l) => `${l.activityType} ${l.msg}`);
    for (const line of [
      'bmcVerify activity started',
      'bmcVerify Activity completed',
      'transitionProvision activity started',
    ])
      assert.ok(activities.includes(line), `${line} in:\n${activities.join('\n')}`);
  });

  it('names the request and the node in the line of a refused request', async () => {
    const { requestId, status } = await provision('deploy');
    assert.equal(status, 409);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const lines = logLines().filter((line) => line.requestId === requestId);
    assert.deepEqual(
      lines.map((line) => [line.msg, line.nodeUuid]),
      [['request completed', uuid]],
    );
  });
});
