// A PostgreSQL cluster of the project's own, in a data folder, on a loopback port.
// PostgreSQL refuses to run as root, so as root its commands run as the `postgres` user.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync, chownSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import type { Logger } from '../logger.js';
import { freePort, isPortFree } from './ports.js';

const run = promisify(execFile);
const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';
const DATABASE = 'tempered';

function asPostgresUser(command: string, args: string[]): [string, string[]] {
  const binary = path.join(PG_BIN, command);
  return process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', binary, ...args]] : [binary, args];
}

async function pgCommand(command: string, args: string[]): Promise<string> {
  const [file, argv] = asPostgresUser(command, args);
  const { stdout } = await run(file, argv, { maxBuffer: 10 * 1024 * 1024 });
  return stdout;
}

export interface LocalPostgres {
  url: string;
  stop(): Promise<void>;
}

/** Starts (creating on first use) the cluster in `dataDir`; reuses its port across restarts. */
export async function startPostgres(dataDir: string, logger: Logger): Promise<LocalPostgres> {
  if (!existsSync(path.join(PG_BIN, 'initdb'))) {
    throw new Error(
      `PostgreSQL 15 server binaries not found in ${PG_BIN} (Debian: apt-get install postgresql-15), or set DATABASE_URL`,
    );
  }
  const cluster = path.join(dataDir, 'cluster');
  const portFile = path.join(dataDir, 'port');
  mkdirSync(dataDir, { recursive: true });
  if (process.getuid?.() === 0) {
    const { uid, gid } = await postgresIds();
    chownSync(dataDir, uid, gid);
  }
  if (!existsSync(path.join(cluster, 'PG_VERSION'))) {
    logger.info({ cluster }, 'creating PostgreSQL cluster');
    await pgCommand('initdb', ['-D', cluster, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8']);
  }
  const storedPort = existsSync(portFile) ? Number(readFileSync(portFile, 'utf8')) : undefined;
  const port = storedPort && (await isPortFree(storedPort)) ? storedPort : await freePort();
  writeFileSync(portFile, String(port));
  await pgCommand('pg_ctl', [
    '-D',
    cluster,
    '-l',
    path.join(dataDir, 'postgres.log'),
    '-o',
    `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dataDir} -c max_connections=300`,
    '-w',
    'start',
  ]);
  const url = `postgres://postgres@127.0.0.1:${port}/${DATABASE}`;
  await createDatabaseIfMissing(`postgres://postgres@127.0.0.1:${port}/postgres`, DATABASE);
  logger.info({ port, cluster }, 'PostgreSQL is up');
  return {
    url,
    stop: async () => {
      await pgCommand('pg_ctl', ['-D', cluster, '-m', 'fast', '-w', 'stop']);
    },
  };
}

export async function createDatabaseIfMissing(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) await client.query(`CREATE DATABASE "${name.replaceAll('"', '')}"`);
  } finally {
    await client.end();
  }
}

async function postgresIds(): Promise<{ uid: number; gid: number }> {
  const { stdout: uid } = await run('id', ['-u', 'postgres']);
  const { stdout: gid } = await run('id', ['-g', 'postgres']);
  return { uid: Number(uid), gid: Number(gid) };
}
