// `npm start` as a newcomer runs it: everything comes up on embedded defaults, a lab is
// enrolled, Ctrl-C stops it all, and a second start finds the nodes and workflow history again.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdtempSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { freePort, isPortFree } from '../../src/cli/ports.js';

const scratch = process.env.TEST_SCRATCH_DIR;
if (!scratch) throw new Error('run the tests with "npm test"');

describe('tempered up', () => {
  const dataDir = mkdtempSync(path.join(scratch, 'up-'));
  chmodSync(dataDir, 0o755);
  const ports = { api: 0, temporal: 0, ui: 0, lab: 0 };
  let running: ChildProcess | undefined;

  async function start(): Promise<ChildProcess> {
    const env: NodeJS.ProcessEnv = { ...process.env, API_PORT: String(ports.api), LOG_LEVEL: 'warn' };
    delete env.DATABASE_URL;
    delete env.TEMPORAL_ADDRESS;
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/index.ts', 'up', '--lab', '2', '--lab-power-delay', '50',
        '--data-dir', dataDir, '--temporal-port', String(ports.temporal), '--temporal-ui-port', String(ports.ui),
        '--lab-base-port', String(ports.lab)],
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout!.on('data', (chunk) => (output += chunk));
    child.stderr!.on('data', (chunk) => (output += chunk));
    const deadline = Date.now() + 120_000;
    while (!output.includes('Tempered is up')) {
      if (child.exitCode !== null) throw new Error(`up exited early:\n${output}`);
      if (Date.now() > deadline) throw new Error(`up did not come up:\n${output}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.match(output, new RegExp(`API: +http://127.0.0.1:${ports.api}`));
    assert.match(output, new RegExp(`Temporal UI: +http://127.0.0.1:${ports.ui}`));
    running = child;
    return child;
  }

  async function stop(child: ChildProcess): Promise<void> {
    child.kill('SIGINT');
    const [code] = await once(child, 'exit');
    running = undefined;
    assert.equal(code, 0);
  }

  // npm start keeps the local admin token in the data folder and says so.
  const api = (p: string, init: RequestInit = {}) =>
    fetch(`http://127.0.0.1:${ports.api}${p}`, {
      ...init,
      headers: { ...init.headers, authorization: `Bearer ${readFileSync(path.join(dataDir, 'admin-token'), 'utf8').trim()}` },
    });

  after(() => running?.kill('SIGKILL'));

  it('brings everything up, and back with the same data after Ctrl-C', async () => {
    ports.api = await freePort();
    ports.temporal = await freePort();
    ports.ui = await freePort();
    ports.lab = 20000 + Math.floor(Math.random() * 20000);

    let child = await start();
    assert.equal((await fetch(`http://127.0.0.1:${ports.api}/v1/nodes`)).status, 401, 'the API wants a token');
    const nodes = (await (await api('/v1/nodes')).json()).nodes;
    assert.deepEqual(nodes.map((n: any) => n.name), ['lab-000', 'lab-001']);
    assert.equal((await fetch(`http://127.0.0.1:${ports.ui}/`)).status, 200, 'the Temporal UI answers');
    const uuid = nodes[0].uuid;
    const put = await api(`/v1/nodes/${uuid}/states/provision`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ target: 'manage' }),
    });
    assert.equal(put.status, 202);
    for (let i = 0; i < 300 && (await (await api(`/v1/nodes/${uuid}`)).json()).provision_state !== 'manageable'; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    await stop(child);
    for (const port of [ports.api, ports.temporal, ports.ui, ports.lab]) assert.ok(await isPortFree(port), `port ${port} was released`);

    child = await start();
    const again = (await (await api('/v1/nodes')).json()).nodes;
    assert.deepEqual(again.map((n: any) => [n.name, n.provision_state]), [['lab-000', 'manageable'], ['lab-001', 'enroll']]);
    const connection = await Connection.connect({ address: `127.0.0.1:${ports.temporal}` });
    try {
      const client = new Client({ connection });
      const found = [];
      for await (const wf of client.workflow.list({ query: `NodeName = 'lab-000' AND Operation = 'manage'` })) found.push(wf);
      assert.equal(found.length, 1, 'the verify workflow survived the restart and is searchable by its attributes');
      assert.equal(found[0].status.name, 'COMPLETED');
    } finally {
      await connection.close();
    }
    await stop(child);
  });
});
