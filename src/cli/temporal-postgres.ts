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
import {
  assertTemporalPostgresPort,
  dynamicConfigYaml,
  HISTORY_SHARDS,
  serverConfig,
  temporalPostgresPorts,
} from './temporal-postgres-config.js';

const run = promisify(execFile);
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
