// `tempered temporal-postgres` (run by `npm run temporal:postgres`, which builds the binaries):
// a Temporal server on PostgreSQL with 16 history shards, Tempered's namespace and search
// attributes, the topology docker-compose.yml runs in production.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time.js';
import { createLogger } from '../logger.js';
import { SEARCH_ATTRIBUTES } from '../workflows/contract.js';
import { isPortFree } from './ports.js';
import { startPostgres, type LocalPostgres } from './postgres.js';
import { TEMPORAL_DYNAMIC_CONFIG } from './temporal-server.js';

const run = promisify(execFile);
export const HISTORY_SHARDS = 16;
const VISIBILITY_CONNECTIONS = 10;
/** temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD */
const INDEXED_VALUE_TYPE_KEYWORD = 2;

export interface TemporalPostgresOptions {
  server: string;
  sqlTool: string;
  /** The go.temporal.io/server module folder: its schema/ and config/. */
  module: string;
  port: number;
  dataDir: string;
}

/** The ports the module's development-postgres12.yaml gives the services; --port moves them all by its distance from 7233. */
const TEMPLATE_FRONTEND_PORT = 7233;
const TEMPLATE_MEMBERSHIP_PORTS = [6933, 6934, 6935, 6939];
const TEMPLATE_METRICS_PORT = 8000;
const TEMPLATE_OTHER_PORTS = [7233, 7234, 7235, 7239, 7243, 7936 /* pprof */, TEMPLATE_METRICS_PORT];
/** The server release whose template these describe (scripts/temporal-postgres.sh builds it). */
const TEMPLATE_VERSION = 'go.temporal.io/server v1.29.1';
/** The server stores its membership ports in a PostgreSQL smallint: none may be above 32767. */
const MAX_MEMBERSHIP_PORT = 32767;
export const TEMPORAL_POSTGRES_PORTS = {
  min: TEMPLATE_FRONTEND_PORT - Math.min(...TEMPLATE_MEMBERSHIP_PORTS, ...TEMPLATE_OTHER_PORTS) + 1024,
  max: MAX_MEMBERSHIP_PORT - Math.max(...TEMPLATE_MEMBERSHIP_PORTS) + TEMPLATE_FRONTEND_PORT,
};

/** Every port the server listens on when its frontend is on `port`. */
export function temporalPostgresPorts(port: number): number[] {
  return [...TEMPLATE_MEMBERSHIP_PORTS, ...TEMPLATE_OTHER_PORTS].map((p) => p + port - TEMPLATE_FRONTEND_PORT);
}

/** Refuses a frontend port that would put one of the services' ports out of the allowed range. */
export function assertTemporalPostgresPort(port: number): void {
  const { min, max } = TEMPORAL_POSTGRES_PORTS;
  if (port < min || port > max)
    throw new Error(
      `--port must be between ${min} and ${max}: the other services' ports move with it ` +
        `(${temporalPostgresPorts(port).join(', ')} for ${port}), and Temporal stores its ` +
        `membership ports as a PostgreSQL smallint (at most ${MAX_MEMBERSHIP_PORT})`,
    );
}

/** The line `npm run temporal:postgres` prints once the server serves Tempered's namespace and search attributes. */
export const TEMPORAL_POSTGRES_READY = 'Temporal on PostgreSQL is up';

export async function runTemporalPostgres(options: TemporalPostgresOptions): Promise<void> {
  assertTemporalPostgresPort(options.port);
  const busy = (
    await Promise.all(temporalPostgresPorts(options.port).map(async (port) => ((await isPortFree(port)) ? [] : [port])))
  ).flat();
  if (busy.length > 0)
    throw new Error(
      `${busy.length === 1 ? 'port' : 'ports'} ${busy.join(', ')} ${busy.length === 1 ? 'is' : 'are'} in use ` +
        `(another Temporal server?); choose another --port: ` +
        `the services take ${temporalPostgresPorts(options.port).join(', ')}`,
    );
  const logger = createLogger('temporal-postgres');
  // Ctrl-C or SIGTERM at any point stops what was started so far: the server, then the cluster.
  const stopping = new AbortController();
  const stop = () => stopping.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const dataDir = path.resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const given = process.env.TEMPORAL_POSTGRES_URL;
  let postgres: LocalPostgres | undefined;
  let server: { child: ChildProcess; exited: Promise<unknown> } | undefined;
  try {
    postgres = given ? undefined : await startPostgres(path.join(dataDir, 'postgres'), logger);
    const url = new URL(given ?? postgres!.url);
    const db = {
      host: url.hostname,
      port: url.port || '5432',
      user: decodeURIComponent(url.username),
      password: decodeURIComponent(url.password),
    };
    for (const [database, schema] of [
      ['temporal', 'temporal'],
      ['temporal_visibility', 'visibility'],
    ]) {
      if (stopping.signal.aborted) return;
      const sql = (...args: string[]) =>
        run(options.sqlTool, [
          '--plugin',
          'postgres12',
          '--ep',
          db.host,
          '-p',
          db.port,
          '-u',
          db.user,
          ...(db.password ? ['--pw', db.password] : []),
          '--db',
          database,
          ...args,
        ]);
      await sql('create-database').catch((err: Error) => {
        if (!/already exists/.test(String((err as { stderr?: string }).stderr ?? err.message))) throw err;
      });
      await sql('setup-schema', '-v', '0.0');
      await sql('update-schema', '-d', path.join(options.module, 'schema/postgresql/v12', schema, 'versioned'));
      logger.info({ database }, 'schema up to date');
    }
    const config = path.join(dataDir, 'config');
    mkdirSync(path.join(config, 'dynamicconfig'), { recursive: true });
    writeFileSync(
      path.join(config, 'development.yaml'),
      serverConfig(
        readFileSync(path.join(options.module, 'config/development-postgres12.yaml'), 'utf8'),
        db,
        options.port,
      ),
    );
    writeFileSync(path.join(config, 'dynamicconfig', 'development-sql.yaml'), dynamicConfigYaml());
    if (stopping.signal.aborted) return;
    const log = openSync(path.join(dataDir, 'temporal.log'), 'a');
    const child = spawn(
      path.resolve(options.server),
      ['--root', dataDir, '--config', 'config', '--env', 'development', 'start'],
      {
        // The config names its dynamic config file relative to the working folder.
        cwd: dataDir,
        stdio: ['ignore', log, log],
      },
    );
    closeSync(log);
    server = { child, exited: once(child, 'exit') };
    const address = `127.0.0.1:${options.port}`;
    const logFile = path.join(dataDir, 'temporal.log');
    await Promise.race([
      registerNamespaceAndSearchAttributes(address, stopping.signal),
      server.exited.then(() => {
        throw new Error(`the Temporal server exited before it served; see ${logFile}`);
      }),
    ]);
    if (stopping.signal.aborted) return;
    console.log(
      `\n${TEMPORAL_POSTGRES_READY}: ${address} (${HISTORY_SHARDS} history shards; log ${logFile}).\n` +
        `Point Tempered at it: TEMPORAL_ADDRESS=${address} npm start\nPress Ctrl-C to stop.\n`,
    );
    await Promise.race([server.exited, once(stopping.signal, 'abort')]);
  } finally {
    if (server && server.child.exitCode === null && server.child.signalCode === null) {
      server.child.kill('SIGTERM');
      await server.exited;
    }
    await postgres?.stop();
  }
}

/** One change serverConfig makes to the template; `what` names it when the template lacks it. */
interface TemplateEdit {
  what: string;
  pattern: RegExp;
  replace: (match: string, ...groups: string[]) => string;
}

/**
 * The module's development-postgres12.yaml with our shards, database, ports, logging and
 * visibility pool. A template without one of the settings it changes is refused, naming it.
 */
export function serverConfig(
  template: string,
  db: { host: string; port: string; user: string; password: string },
  port: number,
): string {
  const portOffset = port - TEMPLATE_FRONTEND_PORT;
  const edits: TemplateEdit[] = [
    {
      what: 'numHistoryShards',
      pattern: /numHistoryShards: \d+/,
      replace: () => `numHistoryShards: ${HISTORY_SHARDS}`,
    },
    // The template logs every info line to stdout; warnings and errors are what an operator reads.
    { what: 'log level', pattern: /^(log:\n(?: {2}.*\n)*? {2}level: )\w+$/m, replace: (_, head) => `${head}warn` },
    // Every start and close of a workflow writes visibility: the template's 2 connections made
    // bursts of operations queue for them with the cores idle. 10 is the auto-setup image's default.
    {
      what: "the visibility store's maxConns and maxIdleConns",
      // Each line of the block on its own (` +.*\n`): a pattern whose lines could span newlines
      // backtracks for ever on a template without the setting.
      pattern: /(postgres-visibility:\n(?: +.*\n)*? +maxConns: )\d+\n( +maxIdleConns: )\d+\n/,
      replace: (_, conns, idle) => `${conns}${VISIBILITY_CONNECTIONS}\n${idle}${VISIBILITY_CONNECTIONS}\n`,
    },
    {
      what: 'connectAddr',
      pattern: /connectAddr: "127\.0\.0\.1:5432"/g,
      replace: () => `connectAddr: ${JSON.stringify(`${db.host}:${db.port}`)}`,
    },
    // A JSON string is a YAML double-quoted scalar: any user or password stays as given.
    { what: 'user', pattern: /user: "temporal"/g, replace: () => `user: ${JSON.stringify(db.user)}` },
    { what: 'password', pattern: /password: "temporal"/g, replace: () => `password: ${JSON.stringify(db.password)}` },
    // Every service port moves with the frontend's, so a second server can run beside the dev one.
    {
      what: 'service ports',
      pattern: /(grpcPort|membershipPort|httpPort|port): (\d{4})\b/g,
      replace: (_, key, value) => `${key}: ${Number(value) + portOffset}`,
    },
    {
      what: 'rpcAddress',
      pattern: new RegExp(`rpcAddress: "localhost:${TEMPLATE_FRONTEND_PORT}"`),
      replace: () => `rpcAddress: "127.0.0.1:${port}"`,
    },
    {
      what: "the metrics' listenAddress",
      pattern: new RegExp(`listenAddress: "127\\.0\\.0\\.1:${TEMPLATE_METRICS_PORT}"`),
      replace: () => `listenAddress: "127.0.0.1:${TEMPLATE_METRICS_PORT + portOffset}"`,
    },
  ];
  return edits.reduce((config, { what, pattern, replace }) => {
    if (config.search(pattern) === -1)
      throw new Error(`the Temporal server's config template has no ${what} to set (written for ${TEMPLATE_VERSION})`);
    return config.replace(pattern, replace);
  }, template);
}

/**
 * Tempered's server settings (the dev server's), and one task queue partition where the server's
 * default is four. Measured with 200 power changes at once on 2 cores: with four, a workflow task
 * waited up to 7 s in a partition's backlog for a poller while the cores were half idle (24 changes/s);
 * with one, 46–51/s at 90 % busy. A queue past a few hundred tasks/s across many workers wants more.
 */
const DYNAMIC_CONFIG = {
  ...TEMPORAL_DYNAMIC_CONFIG,
  'matching.numTaskqueueReadPartitions': 1,
  'matching.numTaskqueueWritePartitions': 1,
};

/** The settings in the dynamic config file's shape: each key a list of values. */
export function dynamicConfigYaml(): string {
  return Object.entries(DYNAMIC_CONFIG)
    .map(([key, value]) => `${key}:\n  - value: ${JSON.stringify(value)}\n`)
    .join('');
}

async function registerNamespaceAndSearchAttributes(address: string, stopping: AbortSignal): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (!stopping.aborted) {
    try {
      const connection = await Connection.connect({ address, connectTimeout: 2000 });
      try {
        await connection.workflowService
          .registerNamespace({ namespace: 'default', workflowExecutionRetentionPeriod: msToTs('30 days') })
          .catch((err: Error) => {
            if (!/already exists/i.test(err.message)) throw err;
          });
        await connection.operatorService
          .addSearchAttributes({
            namespace: 'default',
            searchAttributes: Object.fromEntries(
              SEARCH_ATTRIBUTES.map((key) => [key.name, INDEXED_VALUE_TYPE_KEYWORD]),
            ),
          })
          .catch((err: Error) => {
            if (!/already exists/i.test(err.message)) throw err;
          });
        return;
      } finally {
        await connection.close();
      }
    } catch (err) {
      if (Date.now() > deadline)
        throw new Error(`Temporal on ${address} did not take the namespace within 120 s: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}
