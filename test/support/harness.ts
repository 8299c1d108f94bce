// Everything an integration test needs, real and on loopback: its own database in the run's
// PostgreSQL, its own task queue on the run's Temporal server, the API over HTTP, a worker
// (in this process or a child process that can be killed), and a lab of simulated machines.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import pino from 'pino';
import { startApi } from '../../src/cli/api.js';
import { freePort } from '../../src/cli/ports.js';
import { enrollLab } from '../../src/cli/enroll-lab.js';
import { createDatabaseIfMissing } from '../../src/cli/postgres.js';
import { openPool } from '../../src/cli/database.js';
import { createWorker, installRuntimeLogger } from '../../src/cli/worker.js';
import { DEFAULT_REFUSAL_WINDOW_SECONDS, DEFAULT_WORKER_CAPACITY, type Config } from '../../src/config.js';
import type { BmcAccess } from '../../src/domain/bmc-access.js';
import type { PowerSyncSettings } from '../../src/domain/power-sync.js';
import { migrate } from '../../src/db/migrate.js';
import { DEFAULT_PG_CONNECT_TIMEOUT_MS, DEFAULT_PG_STATEMENT_TIMEOUT_MS } from '../../src/db/pool.js';
import { startLab, type Lab } from '../../src/sim/lab.js';
import { HOST_FROM_GUEST } from '../../src/sim/qemu/vm.js';
import { createResponseChecker } from './openapi.js';

export function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests with "npm test"`);
  return value;
}

/** A fresh, migrated database of its own in the run's PostgreSQL. */
export async function createTestDatabase(
  id: string,
  logger: pino.Logger,
  postgresUrl = env('TEST_POSTGRES_URL'),
): Promise<string> {
  const serverUrl = new URL(postgresUrl);
  const database = `test_${id}`;
  await createDatabaseIfMissing(new URL('/postgres', serverUrl).toString(), database);
  const databaseUrl = new URL(`/${database}`, serverUrl).toString();
  await migrate(databaseUrl, logger);
  return databaseUrl;
}

let responseChecker: ReturnType<typeof createResponseChecker> | undefined;

/** Every response a test gets must match the served OpenAPI document (src/api/openapi.ts). */
function checkAgainstDocument(method: string, urlPath: string, result: HttpResult): void {
  responseChecker ??= createResponseChecker();
  const problem = responseChecker.problemWith(method, urlPath, result.status, result.body);
  if (problem) throw new Error(`response does not match the OpenAPI document: ${problem}`);
}

export interface HttpResult<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export interface HarnessOptions {
  /** BMC_ALLOWED_NETWORKS and REDFISH_CA_DIR of the API and worker. */
  bmcAccess?: BmcAccess;
  labCount?: number;
  powerDelayMs?: number;
  /** Size of each lab machine's disk (default 4 GiB). */
  diskSizeBytes?: number;
  /** false: no worker in this process; start one with spawnWorker(). */
  inProcessWorker?: boolean;
  /** Cleaning leaves the agent running (Ironic's fast_track). */
  fastTrack?: boolean;
  agentBootTimeoutSeconds?: number;
  /** false: lab machines boot no agent, as a broken ramdisk would. */
  labAgents?: boolean;
  /** The URL the lab's agents call instead of the API's (a test's proxy in front of it). */
  agentApiUrl?: (apiUrl: string) => Promise<string>;
  /** Light lab: the agents run inside the test's process, not one process per machine. */
  lightLab?: boolean;
  /** The ISO virtual-media boots insert. */
  ramdiskIsoUrl?: string;
  /** A PostgreSQL server of the test's own (one it may restart); default the run's. */
  postgresUrl?: string;
  /** A Temporal server of the test's own (one it may restart); default the run's. */
  temporalAddress?: string;
  /** Lab machines are QEMU virtual machines (instead of simulated agents). */
  labVms?: boolean;
  /** iPXE scripts of network boots (GET /v1/boot/ipxe). */
  networkBoot?: Config['networkBoot'];
  /** The worker builds a virtual-media ISO per boot from this build:ramdisk folder; agents in VMs reach the API at 10.0.2.2. */
  ramdiskDir?: string;
  /** AUTH_EVENT_WINDOW_SECONDS: refused calls of one source within it make one event plus a count. */
  refusalWindowSeconds?: number;
  /** host:port for the worker runtime's Prometheus endpoint (once per test process). */
  workerMetricsAddress?: string;
  /** The API makes the power sync Schedule at start (default: none). */
  powerSync?: PowerSyncSettings;
}

/** An API process of a harness (spawnApi). */
export interface SpawnedApi {
  child: ChildProcess;
  url: string;
  /** Its agents' listener. */
  agentUrl: string;
}

let runtimeInstalled = false;

export async function startHarness(options: HarnessOptions = {}) {
  const id = randomBytes(5).toString('hex');
  const scratch = mkdtempSync(path.join(env('TEST_SCRATCH_DIR'), `${id}-`));
  const logFile = path.join(scratch, 'tempered.log');
  // Appending, as every process of the harness (workers, lab agents) writes to this file too.
  const logStream = createWriteStream(logFile, { flags: 'a' });
  const logger = pino({ level: 'debug' }, logStream);

  const databaseUrl = await createTestDatabase(id, logger, options.postgresUrl);

  const config: Config = {
    databaseUrl,
    temporalAddress: options.temporalAddress ?? env('TEMPORAL_ADDRESS'),
    temporalNamespace: 'default',
    taskQueue: `test-${id}`,
    apiHost: '127.0.0.1',
    apiPort: 0,
    agentApiHost: '127.0.0.1',
    agentApiPort: 0,
    bmcAccess: options.bmcAccess ?? { allowedNetworks: [] },
    logLevel: 'debug',
    authMode: 'token',
    adminToken: `tmp_admin_${id}_${randomBytes(16).toString('hex')}`,
    agentTokenKey: randomBytes(32).toString('base64url'),
    fastTrack: options.fastTrack ?? false,
    agentBootTimeoutSeconds: options.agentBootTimeoutSeconds ?? 120,
    ramdiskIsoUrl: options.ramdiskIsoUrl,
    networkBoot: options.networkBoot,
    pgPoolSize: 5,
    pgConnectTimeoutMs: DEFAULT_PG_CONNECT_TIMEOUT_MS,
    pgStatementTimeoutMs: DEFAULT_PG_STATEMENT_TIMEOUT_MS,
    refusalWindowSeconds: options.refusalWindowSeconds ?? DEFAULT_REFUSAL_WINDOW_SECONDS,
    worker: DEFAULT_WORKER_CAPACITY,
    powerSync: options.powerSync,
  };
  const pool = openPool(config, logger);
  const api = await startApi(config, logger);
  if (options.ramdiskDir) {
    // The VM reaches the host's loopback (the agents' listener) at QEMU's user-mode gateway.
    const agentApiUrl = new URL(api.agentUrl);
    agentApiUrl.hostname = HOST_FROM_GUEST;
    config.bootMedia = {
      ramdiskDir: options.ramdiskDir,
      dir: path.join(scratch, 'boot-media'),
      host: '127.0.0.1',
      port: 0,
      agentApiUrl: agentApiUrl.toString().replace(/\/$/, ''),
    };
  }

  let worker: { worker: Worker; running: Promise<void>; connection: NativeConnection } | undefined;
  if (options.inProcessWorker !== false) {
    if (!runtimeInstalled) installRuntimeLogger(logger, options.workerMetricsAddress);
    runtimeInstalled = true;
    const connection = await NativeConnection.connect({ address: config.temporalAddress });
    const w = await createWorker(config, connection, pool);
    worker = { worker: w, running: w.run(), connection };
  }

  const credentials = { username: 'admin', password: `pw-${randomBytes(9).toString('hex')}` };
  let lab: Lab | undefined;
  let nodeUuids: string[] = [];
  if (options.labCount) {
    lab = await startLab({
      count: options.labCount,
      dataDir: scratch,
      powerDelayMs: options.powerDelayMs ?? 0,
      diskSizeBytes: options.diskSizeBytes,
      agent:
        options.labAgents === false || options.labVms
          ? undefined
          : {
              apiUrl: options.agentApiUrl ? await options.agentApiUrl(api.agentUrl) : api.agentUrl,
              logFile,
              light: options.lightLab,
            },
      vm: options.labVms ? { onError: (error) => logger.error({ err: error }, 'lab VM') } : undefined,
      ...credentials,
    });
    nodeUuids = await enrollLab({ url: api.url, token: config.adminToken! }, lab, credentials);
  }

  const temporalConnection = await Connection.connect({ address: config.temporalAddress });
  const client = new Client({ connection: temporalConnection, namespace: config.temporalNamespace });
  const children: ChildProcess[] = [];

  /** `tempered <command>` in a process of its own with this harness's settings, logging to its log file. */
  function spawnService(command: 'worker' | 'api', extraEnv: Record<string, string>): ChildProcess {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', command], {
      env: {
        ...process.env,
        DATABASE_URL: config.databaseUrl,
        TEMPORAL_ADDRESS: config.temporalAddress,
        TEMPORAL_TASK_QUEUE: config.taskQueue,
        AGENT_TOKEN_KEY: config.agentTokenKey,
        FAST_TRACK: String(config.fastTrack),
        BMC_ALLOWED_NETWORKS: config.bmcAccess.allowedNetworks.join(','),
        REDFISH_CA_DIR: config.bmcAccess.caDir ?? '',
        AGENT_BOOT_TIMEOUT_SECONDS: String(config.agentBootTimeoutSeconds),
        ...(config.ramdiskIsoUrl ? { RAMDISK_ISO_URL: config.ramdiskIsoUrl } : {}),
        LOG_LEVEL: 'debug',
        // As the in-process API: power sync only where the test asks for it.
        POWER_SYNC_PERIOD_SECONDS: String(config.powerSync?.periodSeconds ?? 0),
        ...extraEnv,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.pipe(createWriteStream(logFile, { flags: 'a' }));
    child.stderr!.pipe(createWriteStream(logFile, { flags: 'a' }));
    children.push(child);
    return child;
  }

  /** A request as the admin, unless `token` names another caller (null: no token at all). */
  async function http<T = any>(
    method: string,
    urlPath: string,
    body?: unknown,
    token: string | null = config.adminToken!,
  ): Promise<HttpResult<T>> {
    const response = await fetch(`${api.url}${urlPath}`, {
      method,
      headers: { 'content-type': 'application/json', ...(token === null ? {} : { authorization: `Bearer ${token}` }) },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.text();
    const result = { status: response.status, body: text ? JSON.parse(text) : undefined, headers: response.headers };
    checkAgainstDocument(method, urlPath, result);
    return result;
  }

  /**
   * A request to the agents' listener, as an agent sends it (no API token), from `from`: another
   * loopback address (127.0.0.2) plays a second machine on the provisioning network.
   */
  function asAgent<T = any>(
    method: string,
    urlPath: string,
    body?: unknown,
    from = '127.0.0.1',
  ): Promise<HttpResult<T>> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const request = httpRequest(
        `${api.agentUrl}${urlPath}`,
        { method, localAddress: from, headers: { 'content-type': 'application/json' } },
        (response) => {
          let text = '';
          response.setEncoding('utf8').on('data', (chunk) => (text += chunk));
          response.on('end', () => {
            const headers = new Headers();
            for (const [k, v] of Object.entries(response.headers)) if (typeof v === 'string') headers.set(k, v);
            const result = { status: response.statusCode!, body: text ? JSON.parse(text) : undefined, headers };
            try {
              checkAgainstDocument(method, urlPath, result);
              resolve(result);
            } catch (err) {
              reject(err);
            }
          });
        },
      );
      request.once('error', reject);
      request.end(payload);
    });
  }

  return {
    config,
    asAgent,
    apiUrl: api.url,
    /** The admin's API token, for a request the `http` helper cannot make (headers of its own). */
    adminToken: config.adminToken!,
    /** The agents' listener (lookup, heartbeat). */
    agentApiUrl: api.agentUrl,
    pool,
    client,
    lab,
    nodeUuids,
    credentials,
    logFile,
    http,
    get: <T = any>(p: string) => http<T>('GET', p),

    /** Polls GET `urlPath` until `done(body)` holds; fails after `timeoutMs`. */
    async waitFor<T = any>(urlPath: string, done: (body: T) => boolean, timeoutMs = 60_000): Promise<T> {
      const deadline = Date.now() + timeoutMs;
      let last: T | undefined;
      while (Date.now() < deadline) {
        const { status, body } = await http<T>('GET', urlPath);
        if (status === 200 && done(body)) return body;
        last = body;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`timed out waiting on ${urlPath}; last: ${JSON.stringify(last)}`);
    },

    /** A worker in its own process (tsx, the prebuilt bundle), so a test can kill -9 it. */
    spawnWorker(): ChildProcess {
      return spawnService('worker', {});
    },

    /**
     * An API in its own process on this harness's database and task queue, so a test can run two
     * and kill -9 one; resolves once it answers /healthz.
     */
    async spawnApi(): Promise<SpawnedApi> {
      const [apiPort, agentApiPort] = [await freePort(), await freePort()];
      const child = spawnService('api', {
        API_PORT: String(apiPort),
        AGENT_API_PORT: String(agentApiPort),
        TEMPERED_ADMIN_TOKEN: config.adminToken!,
      });
      const spawned = { child, url: `http://127.0.0.1:${apiPort}`, agentUrl: `http://127.0.0.1:${agentApiPort}` };
      const deadline = Date.now() + 60_000;
      for (;;) {
        if (child.exitCode !== null) throw new Error(`the API process exited with ${child.exitCode}; see ${logFile}`);
        const healthy = await fetch(`${spawned.url}/healthz`).then(
          (r) => r.ok,
          () => false,
        );
        if (healthy) return spawned;
        if (Date.now() > deadline) throw new Error(`the API process did not answer /healthz within 60 s`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },

    /** Everything every process of this harness logged so far. */
    logs(): string {
      return readFileSync(logFile, 'utf8');
    },

    async close(): Promise<void> {
      for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
      await lab?.close();
      await api.close();
      if (worker) {
        worker.worker.shutdown();
        await worker.running;
        await worker.connection.close();
      }
      await temporalConnection.close();
      await pool.end();
      logStream.end();
    },
  };
}

export type Harness = Awaited<ReturnType<typeof startHarness>>;
