// `npm start` as a newcomer runs it: everything comes up on embedded defaults, a lab is
// enrolled, Ctrl-C stops it all, and a second start finds the nodes and workflow history again.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { isPortFree } from '../../src/cli/ports.js';
import { freeUpPorts, startUp, type RunningUp } from '../support/up.js';

const scratch = process.env.TEST_SCRATCH_DIR;
if (!scratch) throw new Error('run the tests with "npm test"');

describe('tempered up', () => {
  const dataDir = mkdtempSync(path.join(scratch, 'up-'));
  chmodSync(dataDir, 0o755);
  let running: RunningUp | undefined;

  // the whole process group: up's services must not outlive a failed test
  after(() => running?.child.pid && process.kill(-running.child.pid, 'SIGKILL'));

  it('brings everything up, and back with the same data after Ctrl-C', async () => {
    const ports = await freeUpPorts();
    running = await startUp(dataDir, ports);
    const { api } = running;
    assert.equal((await fetch(`http://127.0.0.1:${ports.api}/v1/nodes`)).status, 401, 'the API wants a token');
    const nodes = (await (await api('/v1/nodes')).json()).nodes;
    // the lab enrolls its machines concurrently, so the list's order is theirs, not the names'
    assert.deepEqual(nodes.map((n: any) => n.name).sort(), ['lab-000', 'lab-001']);
    assert.equal((await fetch(`http://127.0.0.1:${ports.ui}/`)).status, 200, 'the Temporal UI answers');
    const uuid = nodes.find((n: any) => n.name === 'lab-000').uuid;
    const put = await api(`/v1/nodes/${uuid}/states/provision`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ target: 'manage' }),
    });
    assert.equal(put.status, 202);
    // The workflow closes a moment after the node shows manageable: wait for its end, or the Ctrl-C
    // could cut off its last workflow task and leave it running past the restart.
    const ended = await Connection.connect({ address: `127.0.0.1:${ports.temporal}` });
    try {
      const verify = new Client({ connection: ended }).workflow.getHandle(`node/${uuid}`);
      await ended.withDeadline(Date.now() + 30_000, () => verify.result());
    } finally {
      await ended.close();
    }
    assert.equal((await (await api(`/v1/nodes/${uuid}`)).json()).provision_state, 'manageable');
    await running.stop();
    running = undefined;
    for (const port of [ports.api, ports.temporal, ports.ui, ports.lab])
      assert.ok(await isPortFree(port), `port ${port} was released`);

    running = await startUp(dataDir, ports);
    const again = (await (await api('/v1/nodes')).json()).nodes;
    assert.deepEqual(again.map((n: any) => [n.name, n.provision_state]).sort(), [
      ['lab-000', 'manageable'],
      ['lab-001', 'enroll'],
    ]);
    const connection = await Connection.connect({ address: `127.0.0.1:${ports.temporal}` });
    try {
      const client = new Client({ connection });
      const found = [];
      for await (const wf of client.workflow.list({ query: `NodeName = 'lab-000' AND Operation = 'manage'` }))
        found.push(wf);
      assert.equal(found.length, 1, 'the verify workflow survived the restart and is searchable by its attributes');
      assert.equal(found[0].status.name, 'COMPLETED');
    } finally {
      await connection.close();
    }
    await running.stop();
    running = undefined;
  });
});
