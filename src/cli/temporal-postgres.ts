// `tempered temporal-postgres` (run by `npm run temporal:postgres`, which builds the binaries):
// a Temporal server on PostgreSQL with 16 history shards, Tempered's namespace and search
// attributes, the topology docker-compose.yml runs in production.
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time.js';
import { createLogger } from '../logger.js';
import { SEARCH_ATTRIBUTES } from '../workflows/contract.js';
import { startPostgres } from './postgres.js';
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
const TEMPLATE_OTHER_PORTS = [7233, 7234, 7235, 7239, 7243, 7936 /* pprof */, 8000 /* metrics */];
/** The server stores its membership ports in a PostgreSQL smallint: none may be above 32767. */
const MAX_MEMBERSHIP_PORT = 32767;
export const TEMPORAL_POSTGRES_PORTS = {
  min: TEMPLATE_FRONTEND_PORT - Math.min(...TEMPLATE_MEMBERSHIP_PORTS) + 1024,
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

export async function runTemporalPostgres(options: TemporalPostgresOptions): Promise<void> {
  assertTemporalPostgresPort(options.port);
  const logger = createLogger('temporal-postgres');
  const dataDir = path.resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const given = process.env.TEMPORAL_POSTGRES_URL;
  const postgres = given ? undefined : await startPostgres(path.join(dataDir, 'postgres'), logger);
  const url = new URL(given ?? postgres!.url);
  const db = {
    host: url.hostname,
    port: url.port || '5432',
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
  };
  try {
    for (const [database, schema] of [
      ['temporal', 'temporal'],
      ['temporal_visibility', 'visibility'],
    ]) {
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
    const log = openSync(path.join(dataDir, 'temporal.log'), 'a');
    const server = spawn(
      path.resolve(options.server),
      ['--root', dataDir, '--config', 'config', '--env', 'development', 'start'],
      {
        // The config names its dynamic config file relative to the working folder.
        cwd: dataDir,
        stdio: ['ignore', log, log],
      },
    );
    const address = `127.0.0.1:${options.port}`;
    await registerNamespaceAndSearchAttributes(address);
    console.log(
      `\nTemporal on PostgreSQL is up: ${address} (${HISTORY_SHARDS} history shards; log ${path.join(dataDir, 'temporal.log')}).\n` +
        `Point Tempered at it: TEMPORAL_ADDRESS=${address} npm start\nPress Ctrl-C to stop.\n`,
    );
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => server.kill('SIGTERM'));
      process.once('SIGTERM', () => server.kill('SIGTERM'));
      server.once('exit', () => resolve());
    });
  } finally {
    await postgres?.stop();
  }
}

/** The module's development-postgres12.yaml with our shards, database, port and a matching dynamic config path. */
export function serverConfig(
  template: string,
  db: { host: string; port: string; user: string; password: string },
  port: number,
): string {
  const portOffset = port - TEMPLATE_FRONTEND_PORT;
  return (
    template
      .replace(/numHistoryShards: \d+/, `numHistoryShards: ${HISTORY_SHARDS}`)
      // The template logs every info line to stdout; warnings and errors are what an operator reads.
      .replace(/^(log:\n(?:  .*\n)*?  level: )info$/m, '$1warn')
      // Every start and close of a workflow writes visibility: the template's 2 connections made
      // bursts of operations queue for them with the cores idle. 10 is the auto-setup image's default.
      .replace(
        /(postgres-visibility:\n(?:\s+.*\n)*?\s+maxConns: )2\n(\s+maxIdleConns: )2\n/,
        `$1${VISIBILITY_CONNECTIONS}\n$2${VISIBILITY_CONNECTIONS}\n`,
      )
      .replaceAll('connectAddr: "127.0.0.1:5432"', `connectAddr: "${db.host}:${db.port}"`)
      .replaceAll('user: "temporal"', `user: "${db.user}"`)
      .replaceAll('password: "temporal"', `password: "${db.password}"`)
      // Every service port moves with the frontend's, so a second server can run beside the dev one.
      .replace(
        /(grpcPort|membershipPort|httpPort|port): (\d{4})\b/g,
        (_, key: string, value: string) => `${key}: ${Number(value) + portOffset}`,
      )
      .replace('rpcAddress: "localhost:7233"', `rpcAddress: "127.0.0.1:${port}"`)
      .replace('listenAddress: "127.0.0.1:8000"', `listenAddress: "127.0.0.1:${8000 + portOffset}"`)
  );
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

async function registerNamespaceAndSearchAttributes(address: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
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
