// What every end-to-end benchmark runs on: a throw-away PostgreSQL cluster and Temporal dev
// server, the compiled worker and API each in its own process (as in production), and a lab of
// simulated machines enrolled through the API, whose agents log to one file.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once, setMaxListeners } from 'node:events';
import { chmodSync, closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { newToken } from '../src/api/auth.js';
import { enrollLab } from '../src/cli/enroll-lab.js';
import { freeLowPorts, freePort } from '../src/cli/ports.js';
import { temporalPostgresPorts } from '../src/cli/temporal-postgres-config.js';
import { TEMPORAL_POSTGRES_READY } from '../src/cli/temporal-postgres.js';
import { startPostgres } from '../src/cli/postgres.js';
import { startTemporal, type LocalTemporal } from '../src/cli/temporal-server.js';
import { migrate } from '../src/db/migrate.js';
import { createLogger } from '../src/logger.js';
import { startLab, type Lab } from '../src/sim/lab.js';

export interface BenchLabOptions {
  count: number;
  /** Light lab: the agents run inside the benchmark's process. */
  light?: boolean;
  powerDelayMs: number;
  postDelayMs?: number;
}

/** Settings for the worker and API beyond the stack's own, e.g. POWER_SYNC_* (power sync is off unless given). */
export type BenchEnv = Record<string, string>;

export interface BenchStack {
  /** A folder deleted by close(); the lab's disk files are in it. */
  scratch: string;
  apiUrl: string;
  /** The stack's PostgreSQL, for a benchmark that prepares rows directly. */
  databaseUrl: string;
  lab: Lab;
  /** Node UUIDs in lab order. */
  uuids: string[];
  client: Client;
  workerPid: number;
  apiPid: number;
  /** The Temporal server's process; with BENCH_TEMPORAL=postgres, the script that runs it (the server is its child). */
  temporalPid: number;
  /** BENCH_TEMPORAL=postgres: the folder of the Temporal server's own PostgreSQL cluster. */
  temporalStorage?: string;
  /** The lab agents' JSON log lines. */
  agentLogFile: string;
  /**
   * A request to the API as the admin; throws unless it answers `expectedStatus`. A 503 is asked
   * again after its Retry-After, as a well-behaved client does, and counted.
   */
  call(method: string, urlPath: string, body?: unknown, expectedStatus?: number): Promise<any>;
  /** 503 answers so far (each asked again). */
  unavailableAnswers(): number;
  /** Resolves once the node's current operation has ended, failed or not; given up when the stack closes. */
  operationEnded(uuid: string): Promise<void>;
  close(): Promise<void>;
}

type Stop = () => Promise<void>;

/**
 * Requests to the API in flight at most (the operations they start all run at once): a thousand
 * connections opened in the same instant overflow its listen backlog (ECONNRESET), and no real
 * client sends them so.
 */
const MAX_REQUESTS_IN_FLIGHT = 64;
/** A request answered 503 is asked again this many times at most, each after its Retry-After. */
const MAX_ATTEMPTS_WHEN_UNAVAILABLE = 10;

export async function startBenchStack(labOptions: BenchLabOptions, extraEnv: BenchEnv = {}): Promise<BenchStack> {
  const logger = createLogger('bench', 'warn');
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'tempered-bench-'));
  // PostgreSQL runs as its own user when we are root, and must reach its folder.
  chmodSync(scratch, 0o755);
  const stops: Stop[] = [async () => rmSync(scratch, { recursive: true, force: true })];
  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= (async () => {
      for (const stop of stops.reverse()) await stop();
    })());
  // Ctrl-C on a long benchmark stops what it started (PostgreSQL, Temporal, worker, API) rather than orphaning them.
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => void close().finally(() => process.exit(130)));
  try {
    const postgres = await startPostgres(path.join(scratch, 'postgres'), logger);
    stops.push(postgres.stop);
    const temporal = await startBenchTemporal(scratch, logger, stops);
    await migrate(postgres.url, logger);

    const apiPort = await freePort();
    const agentApiPort = await freePort();
    const adminToken = newToken();
    const env = {
      ...process.env,
      DATABASE_URL: postgres.url,
      TEMPORAL_ADDRESS: temporal.address,
      API_PORT: String(apiPort),
      AGENT_API_PORT: String(agentApiPort),
      LOG_LEVEL: 'warn',
      TEMPERED_ADMIN_TOKEN: adminToken,
      // The API issues agent tokens and the worker checks them: one key for both.
      AGENT_TOKEN_KEY: randomBytes(32).toString('base64url'),
      // A benchmark measures what it runs: no periodic power sync beside it, unless it asks.
      POWER_SYNC_PERIOD_SECONDS: '0',
      ...extraEnv,
    };
    const worker = startChild('worker', env, stops);
    const api = startChild('api', env, stops);
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    for (
      let i = 0;
      !(await fetch(`${apiUrl}/healthz`).then(
        (r) => r.ok,
        () => false,
      ));
      i++
    ) {
      if (i > 600) throw new Error('API did not come up');
      await new Promise((r) => setTimeout(r, 100));
    }

    const credentials = { username: 'admin', password: 'bench-password' };
    const agentLogFile = path.join(scratch, 'agents.log');
    const lab = await startLab({
      ...labOptions,
      dataDir: scratch,
      diskSizeBytes: 4 * 1024 ** 3,
      // Compiled, as on a real ramdisk: under tsx each agent would take twice the CPU to start.
      agent: {
        apiUrl: `http://127.0.0.1:${agentApiPort}`,
        logFile: agentLogFile,
        program: 'dist/agent/main.js',
        light: labOptions.light,
      },
      ...credentials,
    });
    stops.push(lab.close);
    const uuids = await enrollLab({ url: apiUrl, token: adminToken }, lab, credentials);
    const connection = await Connection.connect({ address: temporal.address });
    // Closing a connection while its calls wait to retry throws from the SDK's retry timer and ends
    // the process, hiding the benchmark's own error: the waits are aborted first.
    const closing = new AbortController();
    setMaxListeners(Infinity, closing.signal); // one listener per operation waited on: thousands in a big bench
    stops.push(async () => {
      closing.abort();
      await connection.close();
    });
    const client = new Client({ connection });

    let unavailable = 0;
    let requestsInFlight = 0;
    const waitingRequests: (() => void)[] = [];
    const call = async (method: string, urlPath: string, body?: unknown, expectedStatus = 200): Promise<any> => {
      for (let attempt = 1; ; attempt++) {
        while (requestsInFlight >= MAX_REQUESTS_IN_FLIGHT) await new Promise<void>((r) => waitingRequests.push(r));
        requestsInFlight++;
        let response: Response;
        let text: string;
        try {
          response = await fetch(`${apiUrl}${urlPath}`, {
            method,
            headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` },
            body: body === undefined ? undefined : JSON.stringify(body),
          });
          text = await response.text();
        } finally {
          requestsInFlight--;
          waitingRequests.shift()?.();
        }
        if (response.status === 503 && attempt < MAX_ATTEMPTS_WHEN_UNAVAILABLE) {
          unavailable++;
          const retryAfterS = Number(response.headers.get('retry-after')) || 1;
          await new Promise((r) => setTimeout(r, retryAfterS * 1000));
          continue;
        }
        if (response.status !== expectedStatus)
          throw new Error(`${method} ${urlPath} answered ${response.status}: ${text}`);
        return text ? JSON.parse(text) : undefined;
      }
    };
    const operationEnded = (uuid: string) =>
      connection
        .withAbortSignal(closing.signal, () => client.workflow.getHandle(`node/${uuid}`).result())
        .then(
          () => undefined,
          () => undefined,
        );
    return {
      scratch,
      apiUrl,
      databaseUrl: postgres.url,
      lab,
      uuids,
      client,
      workerPid: worker.pid!,
      apiPid: api.pid!,
      temporalPid: temporal.pid,
      temporalStorage: temporal.storage,
      agentLogFile,
      call,
      unavailableAnswers: () => unavailable,
      operationEnded,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * The Temporal server the benchmark runs on: the CLI's dev server (SQLite, as `npm start` and the
 * tests run), or with BENCH_TEMPORAL=postgres the production topology, Temporal on a PostgreSQL
 * cluster of its own with 16 history shards (`npm run temporal:postgres`, which builds it on first use).
 */
async function startBenchTemporal(
  scratch: string,
  logger: ReturnType<typeof createLogger>,
  stops: Stop[],
): Promise<LocalTemporal & { storage?: string }> {
  const kind = process.env.BENCH_TEMPORAL ?? 'dev';
  if (kind === 'dev') {
    const temporal = await startTemporal(
      { port: await freePort(), logFile: path.join(scratch, 'temporal.log') },
      logger,
    );
    stops.push(temporal.stop);
    return temporal;
  }
  if (kind !== 'postgres') throw new Error(`BENCH_TEMPORAL must be dev or postgres, not ${JSON.stringify(kind)}`);
  const dataDir = path.join(scratch, 'temporal-postgres');
  // Below the ephemeral range: the script binds them only after its schema steps.
  const port = await freeLowPorts(temporalPostgresPorts);
  const output = path.join(scratch, 'temporal-postgres.out');
  const outputFd = openSync(output, 'a');
  // Its own cluster in the scratch folder, whatever this shell points it at.
  const { TEMPORAL_POSTGRES_URL: _, ...env } = process.env;
  const child = spawn('bash', ['scripts/temporal-postgres.sh', '--port', String(port), '--data-dir', dataDir], {
    stdio: ['ignore', outputFd, outputFd],
    env,
  });
  closeSync(outputFd);
  let running = true;
  const exited = once(child, 'exit').then(() => (running = false));
  // It stops its server and its cluster on SIGTERM, before the scratch folder goes.
  const stop = async () => {
    if (!running) return;
    child.kill('SIGTERM');
    await exited;
  };
  stops.push(stop);
  const deadline = Date.now() + 600_000;
  while (!readFileSync(output, 'utf8').includes(TEMPORAL_POSTGRES_READY)) {
    if (!running || Date.now() > deadline)
      throw new Error(
        `Temporal on PostgreSQL did not come up; see ${output}:\n${readFileSync(output, 'utf8').slice(-2000)}`,
      );
    await new Promise((r) => setTimeout(r, 500));
  }
  return { address: `127.0.0.1:${port}`, pid: child.pid!, storage: path.join(dataDir, 'postgres'), stop };
}

function startChild(command: 'worker' | 'api', env: NodeJS.ProcessEnv, stops: Stop[]): ChildProcess {
  const child = spawn(process.execPath, ['dist/cli/index.js', command], { env, stdio: 'inherit' });
  stops.push(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  });
  return child;
}

export function rssMb(pid: number): number {
  // An exited process (a zombie, or gone) has no RSS: 0, so a sampler never throws and orphans the stack.
  const status = existsSync(`/proc/${pid}/status`) ? readFileSync(`/proc/${pid}/status`, 'utf8') : '';
  const line = status.split('\n').find((l) => l.startsWith('VmRSS:'));
  return line ? Math.round(Number(line.split(/\s+/)[1]) / 1024) : 0;
}

/** Samples the processes' RSS every 200 ms until stopped; stop() returns each one's peak in MB. */
export function samplePeakRss(pids: number[]): { stop(): number[] } {
  const peaks = pids.map(() => 0);
  const sample = () => pids.forEach((pid, i) => (peaks[i] = Math.max(peaks[i], rssMb(pid))));
  sample();
  const timer = setInterval(sample, 200);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return peaks;
    },
  };
}

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
