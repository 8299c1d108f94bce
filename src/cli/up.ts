// `tempered up`: the whole system on embedded defaults, stopped cleanly by Ctrl-C.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { newToken } from '../api/auth.js';
import { loadConfig } from '../config.js';
import { migrate } from '../db/migrate.js';
import { MASK } from '../domain/secrets.js';
import { createLogger } from '../logger.js';
import { hashFilePrefix, startImageServerProcess, writeDiskImage } from '../sim/images.js';
import { startLab } from '../sim/lab.js';
import { enrollLab } from './enroll-lab.js';
import { sibling } from './paths.js';
import { freePort } from './ports.js';
import { startPostgres } from './postgres.js';
import { startTemporal } from './temporal-server.js';

export interface UpOptions {
  lab: number;
  /** The lab's agents run inside the lab's process (one process for all machines). */
  light: boolean;
  labPowerDelay: number;
  labBasePort: number;
  temporalPort: number;
  temporalUiPort: number;
  dataDir: string;
}

type Stop = () => Promise<void>;

export async function up(options: UpOptions): Promise<void> {
  const logger = createLogger('up');
  const stops: Stop[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch((err) => logger.error({ err }, 'stop failed'));
  };
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping everything');
    void stopAll().then(() => process.exit(0));
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);

  try {
    options = { ...options, dataDir: path.resolve(options.dataDir) };
    mkdirSync(options.dataDir, { recursive: true });
    const env: NodeJS.ProcessEnv = { ...process.env };
    if (!env.DATABASE_URL) {
      const postgres = await startPostgres(path.join(options.dataDir, 'postgres'), logger);
      stops.push(postgres.stop);
      env.DATABASE_URL = postgres.url;
    }
    let temporalUi = 'the UI of your Temporal server';
    if (!env.TEMPORAL_ADDRESS) {
      const temporal = await startTemporal(
        {
          port: options.temporalPort,
          uiPort: options.temporalUiPort,
          dbFile: path.join(options.dataDir, 'temporal.sqlite'),
          logFile: path.join(options.dataDir, 'temporal.log'),
        },
        logger,
      );
      stops.push(temporal.stop);
      env.TEMPORAL_ADDRESS = temporal.address;
      temporalUi = temporal.uiUrl!;
    }
    env.TEMPERED_ADMIN_TOKEN ||= localSecret(options.dataDir, ADMIN_TOKEN_FILE, newToken);
    env.WORKER_METRICS_ADDRESS ||= `127.0.0.1:${await freePort()}`;
    env.AGENT_TOKEN_KEY ||= localSecret(options.dataDir, AGENT_TOKEN_KEY_FILE, () =>
      randomBytes(32).toString('base64url'),
    );
    const config = loadConfig(env);
    await migrate(config.databaseUrl, logger);

    stops.push(await startChild('worker', env));
    stops.push(await startChild('api', env));
    const apiUrl = `http://${config.apiHost}:${config.apiPort}`;
    await waitForHealth(apiUrl);

    let labLine = '';
    if (options.lab > 0) {
      // Kept across restarts, so a restarted lab's nodes need no credential change (which a node
      // still busy with an operation begun before the restart would refuse).
      const enrolledBefore = existsSync(path.join(options.dataDir, LAB_BMC_PASSWORD_FILE));
      const password = localSecret(options.dataDir, LAB_BMC_PASSWORD_FILE, () => randomBytes(12).toString('base64url'));
      const credentials = { username: 'admin', password, enrolledBefore };
      const lab = await startLab({
        count: options.lab,
        dataDir: path.join(options.dataDir, 'lab'),
        powerDelayMs: options.labPowerDelay,
        basePort: options.labBasePort,
        agent: {
          apiUrl: `http://${config.agentApiHost}:${config.agentApiPort}`,
          logFile: path.join(options.dataDir, 'lab', 'agents.log'),
          light: options.light,
        },
        username: credentials.username,
        password,
      });
      stops.push(lab.close);
      await enrollLab({ url: apiUrl, token: env.TEMPERED_ADMIN_TOKEN }, lab, credentials);
      const demoImage = await serveDemoImage(
        path.join(options.dataDir, 'lab', 'images'),
        options.labBasePort - 1,
        stops,
      );
      const missing = missingLabTools();
      labLine =
        `\n  lab:          ${options.lab} machines enrolled (lab-000…), BMCs on 127.0.0.1:${options.labBasePort}+` +
        `${options.light ? ', light: agents run in this process' : ''}` +
        `\n  demo image:   ${demoImage}` +
        (missing.length ? `\n  MISSING:      ${missing.join('; ')}` : '');
    }
    console.log(
      `\nTempered is up.\n` +
        `  API:          ${apiUrl}\n` +
        `  agent API:    http://${config.agentApiHost}:${config.agentApiPort} (lookup, heartbeat)\n` +
        `  admin token:  in ${path.join(options.dataDir, ADMIN_TOKEN_FILE)}; try:\n` +
        `                curl -H "Authorization: Bearer $(cat ${path.join(options.dataDir, ADMIN_TOKEN_FILE)})" ${apiUrl}/v1/nodes\n` +
        `  Temporal UI:  ${temporalUi}\n` +
        `  Temporal:     ${config.temporalAddress}\n` +
        `  metrics:      ${apiUrl}/metrics, worker http://${config.workerMetricsAddress}/metrics\n` +
        `  PostgreSQL:   ${withoutPassword(config.databaseUrl)}\n` +
        `  data folder:  ${options.dataDir}${labLine}\n` +
        `Press Ctrl-C to stop everything.\n`,
    );
  } catch (err) {
    logger.error({ err }, 'start-up failed');
    await stopAll();
    process.exit(1);
  }
}

const DEMO_IMAGE_NAME = 'demo.raw';
const DEMO_IMAGE_BYTES = 32 * 1024 ** 2;

/** The kernel version the demo image's /boot carries, for kexec. */
const DEMO_IMAGE_KERNEL = '6.1.0-13-amd64';

/**
 * Serves a small whole-disk image (GPT with an EFI system partition, an ext4 root with a kernel in
 * /boot) for deploying the lab, made on the first start; returns the banner line. Without sgdisk
 * (or mkfs.ext4) the lab still comes up, imageless.
 */
async function serveDemoImage(dir: string, port: number, stops: Stop[]): Promise<string> {
  const file = path.join(dir, DEMO_IMAGE_NAME);
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    // Made under another name first, so an interrupted start leaves no half-made image behind.
    const partial = `${file}.partial`;
    try {
      await writeDiskImage(partial, DEMO_IMAGE_BYTES, { kernel: DEMO_IMAGE_KERNEL });
    } catch (err) {
      rmSync(partial, { force: true });
      if ((err as NodeJS.ErrnoException).code === 'ENOENT')
        return 'none: sgdisk or mkfs.ext4 is missing (Debian: apt-get install gdisk e2fsprogs), so no demo image to deploy';
      throw err;
    }
    renameSync(partial, file);
  }
  const sha256 = await hashFilePrefix(file, statSync(file).size);
  const server = await startImageServerProcess({ [DEMO_IMAGE_NAME]: file }, port);
  stops.push(server.close);
  return `${server.url(DEMO_IMAGE_NAME)} (raw, sha256 ${sha256})`;
}

/** What the lab's deploys and the README's walk run besides Node, each with what fails without it. */
const LAB_TOOLS: { commands: string[]; without: string }[] = [
  {
    commands: ['genisoimage', 'xorriso'],
    without: 'genisoimage (Debian: genisoimage): deploys with a config drive fail',
  },
  { commands: ['sgdisk'], without: 'sgdisk (Debian: gdisk): no demo image to deploy' },
  { commands: ['curl'], without: 'curl (Debian: curl): the README walks use it' },
  { commands: ['jq'], without: 'jq (Debian: jq): the README walks use it' },
];

/** The lab's tools not on PATH (`npm start` as root installs them; a user is told here). */
function missingLabTools(): string[] {
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  const found = (command: string) => dirs.some((dir) => existsSync(path.join(dir, command)));
  return LAB_TOOLS.filter(({ commands }) => !commands.some(found)).map(({ without }) => without);
}

const ADMIN_TOKEN_FILE = 'admin-token';
/** The lab BMCs' password: the nodes enrolled with it keep working after a restart. */
const LAB_BMC_PASSWORD_FILE = 'lab-bmc-password';
/** Agent tokens outlive a restart only if the key they are derived from does. */
const AGENT_TOKEN_KEY_FILE = 'agent-token-key';

/** A secret of the local system (admin token, agent token key, lab BMC password): made on the first start, kept (mode 600) in the data folder. */
function localSecret(dataDir: string, name: string, make: () => string): string {
  const file = path.join(dataDir, name);
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const secret = make();
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}

/** Runs `tempered <command>` as a child; if it dies on its own, everything stops. */
async function startChild(command: 'worker' | 'api', env: NodeJS.ProcessEnv): Promise<Stop> {
  const child: ChildProcess = spawn(
    process.execPath,
    [...process.execArgv, sibling(import.meta.url, './index'), command],
    {
      env,
      stdio: 'inherit',
    },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('exit', (code, signal) => {
    if (code !== 0 && signal !== 'SIGTERM') {
      console.error(`tempered ${command} exited (${signal ?? code}); stopping`);
      process.kill(process.pid, 'SIGTERM');
    }
  });
  return async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
}

async function waitForHealth(apiUrl: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`${apiUrl}/healthz`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the API did not answer on ${apiUrl}/healthz within 60 s`);
}

/** A connection URL fit to print: a password given in DATABASE_URL stays off the terminal. */
function withoutPassword(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  if (url.password) url.password = MASK;
  return url.toString();
}
