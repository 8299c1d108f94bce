// Power-cycles N lab nodes at once through the API and prints throughput, latency and memory.
// Worker and API run from the compiled JavaScript, as in production, each in its own process.
//   npm run bench:power -- [--nodes 200] [--delay-ms 0] [--rounds 2]
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { newToken } from '../src/api/auth.js';
import { enrollLab } from '../src/cli/enroll-lab.js';
import { freePort } from '../src/cli/ports.js';
import { startPostgres } from '../src/cli/postgres.js';
import { startTemporal } from '../src/cli/temporal-server.js';
import { migrate } from '../src/db/migrate.js';
import { createLogger } from '../src/logger.js';
import { startLab } from '../src/sim/lab.js';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '200' },
    'delay-ms': { type: 'string', default: '0' },
    rounds: { type: 'string', default: '2' },
  },
});
const nodeCount = Number(values.nodes);
const delayMs = Number(values['delay-ms']);
const rounds = Number(values.rounds);

const logger = createLogger('bench', 'warn');
const scratch = mkdtempSync(path.join(os.tmpdir(), 'tempered-bench-'));
chmodSync(scratch, 0o755);
const children: ChildProcess[] = [];

function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'))!;
  return Math.round(Number(line.split(/\s+/)[1]) / 1024);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const postgres = await startPostgres(path.join(scratch, 'postgres'), logger);
const temporal = await startTemporal({ port: await freePort(), logFile: path.join(scratch, 'temporal.log') }, logger);
try {
  await migrate(postgres.url, logger);
  const apiPort = await freePort();
  const adminToken = newToken();
  const env = {
    ...process.env,
    DATABASE_URL: postgres.url,
    TEMPORAL_ADDRESS: temporal.address,
    API_PORT: String(apiPort),
    LOG_LEVEL: 'warn',
    TEMPERED_ADMIN_TOKEN: adminToken,
  };
  const authorization = `Bearer ${adminToken}`;
  for (const command of ['worker', 'api']) {
    children.push(spawn(process.execPath, ['dist/cli/index.js', command], { env, stdio: 'inherit' }));
  }
  const [worker, api] = children;
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  for (let i = 0; ; i++) {
    if (await fetch(`${apiUrl}/healthz`).then((r) => r.ok, () => false)) break;
    if (i > 600) throw new Error('API did not come up');
    await new Promise((r) => setTimeout(r, 100));
  }

  const credentials = { username: 'admin', password: 'bench-password' };
  const lab = await startLab({ count: nodeCount, dataDir: scratch, powerDelayMs: delayMs, diskSizeBytes: 4 * 1024 ** 3, ...credentials });
  const uuids = await enrollLab({ url: apiUrl, token: adminToken }, lab, credentials);
  const connection = await Connection.connect({ address: temporal.address });
  const client = new Client({ connection });

  console.log(`\nTempered power-cycle benchmark: ${nodeCount} lab nodes, BMC power delay ${delayMs} ms, ${os.cpus().length} cores`);
  console.log('round  target      ops/s   p50 ms  p95 ms  max ms  worker RSS MB  api RSS MB');
  const targets = ['power on', ...Array.from({ length: rounds }, () => 'rebooting')];
  for (const [round, target] of targets.entries()) {
    let peakWorker = 0;
    let peakApi = 0;
    const sample = () => {
      peakWorker = Math.max(peakWorker, rssMb(worker.pid!));
      peakApi = Math.max(peakApi, rssMb(api.pid!));
    };
    sample();
    const sampler = setInterval(sample, 200);
    const started = performance.now();
    const latencies = await Promise.all(
      uuids.map(async (uuid) => {
        const t0 = performance.now();
        const response = await fetch(`${apiUrl}/v1/nodes/${uuid}/states/power`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json', authorization },
          body: JSON.stringify({ target }),
        });
        if (response.status !== 202) throw new Error(`PUT power answered ${response.status}: ${await response.text()}`);
        // The workflow ends right after it records the settled power_state.
        await client.workflow.getHandle(`node/${uuid}`).result();
        return performance.now() - t0;
      }),
    );
    const elapsed = (performance.now() - started) / 1000;
    clearInterval(sampler);
    sample();
    const sorted = latencies.sort((a, b) => a - b);
    console.log(
      `${String(round + 1).padEnd(6)} ${target.padEnd(10)} ${(nodeCount / elapsed).toFixed(1).padStart(6)} ` +
        `${percentile(sorted, 50).toFixed(0).padStart(7)} ${percentile(sorted, 95).toFixed(0).padStart(7)} ` +
        `${sorted[sorted.length - 1].toFixed(0).padStart(7)} ${String(peakWorker).padStart(14)} ${String(peakApi).padStart(11)}`,
    );
  }
  const settled = await Promise.all(uuids.map((u) => fetch(`${apiUrl}/v1/nodes/${u}`, { headers: { authorization } }).then((r) => r.json())));
  const wrong = settled.filter((n: any) => n.power_state !== 'power on' || n.last_error);
  console.log(`\nnodes not settled in "power on" or with last_error: ${wrong.length}`);
  await connection.close();
  await lab.close();
} finally {
  for (const child of children) child.kill('SIGTERM');
  await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))));
  await temporal.stop();
  await postgres.stop();
  rmSync(scratch, { recursive: true, force: true });
}
