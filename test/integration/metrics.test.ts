// Prometheus metrics as an operator scrapes them: the API's /metrics (requests, nodes by provision
// state, agent heartbeats) and the worker's endpoint (operations by verb and outcome, activity and
// BMC call durations, and the Temporal SDK's own metrics).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../../src/cli/ports.js';
import { startHarness, type Harness } from '../support/harness.js';
import { finished } from '../support/workflows.js';

/** The value of the sample `name{labels…}` whose labels include all of `labels`, or undefined. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? ([^ ]+)/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(match[3]);
  }
  return undefined;
}

describe('metrics', () => {
  let h: Harness;
  let workerMetrics: string;
  before(async () => {
    const address = `127.0.0.1:${await freePort()}`;
    workerMetrics = `http://${address}/metrics`;
    h = await startHarness({ labCount: 2, workerMetricsAddress: address });
  });
  after(() => h?.close());

  it('counts operations, BMC calls, heartbeats and nodes by state, and exposes Temporal SDK metrics', async () => {
    const [verified, cleaned] = h.nodeUuids;
    for (const uuid of h.nodeUuids) await h.http('PUT', `/v1/nodes/${uuid}/states/provision`, { target: 'manage' });
    for (const uuid of h.nodeUuids)
      await h.waitFor(`/v1/nodes/${uuid}`, (n) => n.provision_state === 'manageable' && !n.target_provision_state);
    await h.http('PUT', `/v1/nodes/${cleaned}/states/provision`, { target: 'provide' });
    await h.waitFor(`/v1/nodes/${cleaned}`, (n) => n.provision_state === 'available', 120_000);
    await finished(h, cleaned);
    assert.ok(verified);

    const api = await (await fetch(`${h.apiUrl}/metrics`)).text();
    assert.equal(sample(api, 'tempered_nodes', { provision_state: 'manageable' }), 1);
    assert.equal(sample(api, 'tempered_nodes', { provision_state: 'available' }), 1);
    assert.ok(
      sample(api, 'tempered_agent_heartbeats_total', { outcome: 'accepted' })! >= 1,
      'the cleaning agent heartbeated',
    );
    assert.ok(
      sample(api, 'tempered_http_request_duration_seconds_count', {
        method: 'PUT',
        route: '/v1/nodes/:node/states/provision',
        status: '202',
      })! >= 3,
    );

    const worker = await (await fetch(workerMetrics)).text();
    assert.equal(
      sample(worker, 'tempered_operations', { verb: 'manage', outcome: 'succeeded' }) ??
        sample(worker, 'tempered_operations_total', { verb: 'manage', outcome: 'succeeded' }),
      2,
      worker.slice(0, 3000),
    );
    assert.ok(/^tempered_operation_duration\w*_bucket\{.*verb="provide"/m.test(worker), 'operation durations by verb');
    assert.ok(/^tempered_bmc_call_duration\w*_count\{.*driver="redfish"/m.test(worker), 'BMC call latency by driver');
    assert.ok(/^tempered_activity_duration\w*_count\{.*activity="/m.test(worker), 'activity (step) durations');
    assert.ok(/^temporal_\w+/m.test(worker), "the Temporal SDK's own metrics");
  });
});
