// The test run: one PostgreSQL cluster and one Temporal dev server for all test files (each
// file makes its own database and task queue), the workflow bundle built once, then node's
// test runner over the files. Services stop when the run ends — pass, fail, a failed start or
// Ctrl-C — and the run ends with one plain line: `N passed, N failed[, N skipped]`.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startPostgres } from '../src/cli/postgres.js';
import { freePort } from '../src/cli/ports.js';
import { startTemporal } from '../src/cli/temporal-server.js';
import { writeWorkflowBundle } from '../src/cli/worker.js';
import { createLogger } from '../src/logger.js';

const TEST_DIRS = ['test/unit', 'test/integration', 'test/compat', 'test/vm'];

/** What test/support/summary-reporter.mjs writes. */
interface TestSummary {
  passed: number;
  failed: number;
  skipped: number;
}

const logger = createLogger('test-run', 'warn');
// Options (--test-name-pattern=…, --test-only) go to node's test runner; the rest are test files.
const testRunnerOptions = process.argv.slice(2).filter((arg) => arg.startsWith('--'));
const given = process.argv.slice(2).filter((arg) => !arg.startsWith('--'));
const files = given.length
  ? given
  : TEST_DIRS.filter((dir) => existsSync(dir)).flatMap((dir) =>
      readdirSync(dir)
        .filter((f) => f.endsWith('.test.ts'))
        .sort()
        .map((f) => path.join(dir, f)),
    );

const scratch = mkdtempSync(path.join(os.tmpdir(), 'tempered-test-'));
chmodSync(scratch, 0o755); // PostgreSQL runs as its own user and must reach its folder
const summaryFile = path.join(scratch, 'summary.json');
const stops: Array<() => Promise<void>> = [];
let child: ChildProcess | undefined;

/** Stops every service started so far, once; a failing stop is reported, never fatal. */
let stopping: Promise<void> | undefined;
function stopServices(): Promise<void> {
  stopping ??= (async () => {
    for (const stop of stops.reverse()) {
      await stop().catch((err: unknown) => console.error(`test run: stopping a service failed: ${String(err)}`));
    }
    rmSync(scratch, { recursive: true, force: true });
  })();
  return stopping;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`\ntest run: ${signal}, stopping the services`);
    child?.kill(signal);
    void stopServices().then(() => process.exit(130));
  });
}

function readSummary(): TestSummary | undefined {
  try {
    return JSON.parse(readFileSync(summaryFile, 'utf8')) as TestSummary;
  } catch {
    return undefined;
  }
}

let code = 1;
try {
  const postgres = await startPostgres(path.join(scratch, 'postgres'), logger);
  stops.push(() => postgres.stop());
  const temporal = await startTemporal({ port: await freePort(), logFile: path.join(scratch, 'temporal.log') }, logger);
  stops.push(() => temporal.stop());
  const bundle = path.join(scratch, 'workflow-bundle.js');
  await writeWorkflowBundle(bundle);

  child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--test',
      // Two files at once: each has its own database and task queue, and most of a file's time is spent
      // waiting on (simulated) hardware, so two share the 2 cores well. TEST_CONCURRENCY=1 runs one at a time.
      `--test-concurrency=${process.env.TEST_CONCURRENCY ?? '2'}`,
      '--test-timeout=600000',
      `--test-reporter=${process.stdout.isTTY ? 'spec' : 'tap'}`,
      '--test-reporter-destination=stdout',
      '--test-reporter=./test/support/summary-reporter.mjs',
      `--test-reporter-destination=${summaryFile}`,
      ...testRunnerOptions,
      ...files,
    ],
    {
      stdio: 'inherit',
      env: {
        ...process.env,
        TEST_POSTGRES_URL: postgres.url,
        TEMPORAL_ADDRESS: temporal.address,
        TEMPERED_WORKFLOW_BUNDLE: bundle,
        TEST_SCRATCH_DIR: scratch,
      },
    },
  );
  const running = child;
  code = await new Promise<number>((resolve) => running.once('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))));
  const summary = readSummary();
  if (summary) {
    const skipped = summary.skipped ? `, ${summary.skipped} skipped` : '';
    console.log(`\n${summary.passed} passed, ${summary.failed} failed${skipped}`);
    if (summary.failed > 0) code ||= 1;
  }
} catch (err) {
  console.error(`test run: ${err instanceof Error ? err.message : String(err)}`);
  code = 1;
} finally {
  await stopServices();
}
process.exit(code);
