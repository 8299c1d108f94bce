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

export async function runTemporalPostgres(options: TemporalPostgresOptions): Promise<void> {
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
function serverConfig(
  template: string,
  db: { host: string; port: string; user: string; password: string },
  port: number,
): string {
  const portOffset = port - 7233;
  return (
    template
      .replace(/numHistoryShards: \d+/, `numHistoryShards: ${HISTORY_SHARDS}`)
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

/** Tempered's server settings (the dev server's too) in the dynamic config file's shape: each key a list of values. */
function dynamicConfigYaml(): string {
  return Object.entries(TEMPORAL_DYNAMIC_CONFIG)
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
