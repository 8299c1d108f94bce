#!/usr/bin/env node
// The operator command line: `up` runs the whole system locally; the others run one part each.
import { Command, InvalidArgumentError } from 'commander';
import { loadConfig } from '../config.js';
import { migrate } from '../db/migrate.js';
import { createLogger } from '../logger.js';
import { startApi } from './api.js';
import { DRIVERS_DOC_PATH, writeDriversDoc } from './docs-drivers.js';
import { DATA_DIR } from './paths.js';
import { runTemporalPostgres, type TemporalPostgresOptions } from './temporal-postgres.js';
import { up, type UpOptions } from './up.js';
import { runWorker, writeWorkflowBundle } from './worker.js';

function wholeNumber(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a whole number ≥ 0');
  return n;
}

const program = new Command('tempered').description('Tempered: bare-metal provisioning on Temporal');

program
  .command('up')
  .description(
    'run everything locally: PostgreSQL, the Temporal dev server, worker, API and optionally a simulated lab',
  )
  .option('--lab <count>', 'simulated machines with emulated Redfish BMCs, enrolled as nodes', wholeNumber, 0)
  .option(
    '--light',
    "run the lab machines' agents inside one process (for big labs: ~0.1 MB per machine) instead of one process each",
    false,
  )
  .option('--lab-power-delay <ms>', 'how long the lab machines take to change power state', wholeNumber, 2000)
  .option(
    '--lab-base-port <port>',
    'lab machine i has its BMC on this port + i; the demo image is served on this port - 1',
    wholeNumber,
    16000,
  )
  .option('--temporal-port <port>', 'gRPC port of the local Temporal dev server', wholeNumber, 7233)
  .option('--temporal-ui-port <port>', 'port of the Temporal web UI', wholeNumber, 8233)
  .option('--data-dir <path>', 'where PostgreSQL, Temporal and the lab keep their data', DATA_DIR)
  .action((options: UpOptions) => up(options));

program
  .command('worker')
  .description('run the Temporal worker (needs DATABASE_URL, TEMPORAL_ADDRESS)')
  .action(() => runWorker(loadConfig(), createLogger('worker')));

program
  .command('api')
  .description('run the HTTP API (needs DATABASE_URL, TEMPORAL_ADDRESS)')
  .action(async () => {
    const api = await startApi(loadConfig(), createLogger('api'));
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void api.close());
  });

program
  .command('migrate')
  .description('apply the database migrations to DATABASE_URL')
  .action(() => migrate(loadConfig().databaseUrl, createLogger('migrate')));

program
  .command('temporal-postgres')
  .description('run a Temporal server on PostgreSQL (npm run temporal:postgres builds it and passes the paths)')
  .requiredOption('--server <path>', 'the Temporal server binary')
  .requiredOption('--sql-tool <path>', "Temporal's SQL schema tool")
  .requiredOption('--module <path>', 'the go.temporal.io/server module folder (schemas, config template)')
  .option('--port <port>', 'frontend gRPC port; the other services follow it', wholeNumber, 7233)
  .option('--data-dir <path>', 'its PostgreSQL cluster, config and log', `${DATA_DIR}/temporal-postgres`)
  .action((options: TemporalPostgresOptions) => runTemporalPostgres(options));

program
  .command('bundle-workflows')
  .description('prebuild the workflow bundle the worker loads (npm run build does this)')
  .action(() => writeWorkflowBundle());

program
  .command('docs-drivers')
  .description(`regenerate ${DRIVERS_DOC_PATH} from the drivers' declarations (npm run docs:drivers)`)
  .action(() => writeDriversDoc());

program.parseAsync().catch((err: unknown) => {
  console.error(`tempered: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
