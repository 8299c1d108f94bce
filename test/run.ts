// The test run: one PostgreSQL cluster and one Temporal dev server for all test files (each
// file makes its own database and task queue), the workflow bundle built once, then node's
// test runner over the files. Services stop when the run ends — pass, fail, a failed start or
// Ctrl-C — and the run ends with one plain line: `N passed, N failed[, N skipped]`.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
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

// A hung test must not hold CI past its limit: the whole run has a deadline, and once the last
// test has reported, the runner gets a grace period to exit (a process a test left running, such as
// a time-skipping server, can keep it alive). Either way its whole process group is killed.
const RUN_DEADLINE_MINUTES = Number(process.env.TEST_RUN_DEADLINE_MINUTES ?? '60');
const EXIT_GRACE_MS = 60_000;

/** Signals the test runner and everything it started that is still in its process group. */
function signalRunnerGroup(signal: NodeJS.Signals): void {
  if (!child?.pid) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // the group has already gone
  }
}

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
    signalRunnerGroup(signal);
    void stopServices().then(() => process.exit(130));
  });
}

/** Orphans of the runner's group by pid, with when each was first seen: one gets a few seconds to exit on its own. */
const orphansSeen = new Map<string, number>();
const ORPHAN_GRACE_MS = 5000;

/**
 * Kills processes of the runner's group whose parent has ended (now children of init) and that
 * have not exited on their own within a few seconds: a test file that exited, or was killed at its
 * timeout, left them. One holding the file's stdout would keep node's runner waiting for that file
 * until its timeout; each is named, as a defect to fix.
 */
function killOrphans(): void {
  if (!child?.pid) return;
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // it ended meanwhile
    }
    // After the command's closing parenthesis: state, ppid, pgrp.
    const [, ppid, pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) !== child.pid || ppid !== '1') continue;
    const firstSeen = orphansSeen.get(pid) ?? Date.now();
    orphansSeen.set(pid, firstSeen);
    if (Date.now() - firstSeen < ORPHAN_GRACE_MS) continue;
    const command = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    console.error(`test run: killed ${command} (pid ${pid}), left running by a test file that has ended`);
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // it ended meanwhile
    }
  }
}

/**
 * Resolves when the run passes its deadline, or when the last test has reported and the runner has
 * not exited since; sweeps orphans meanwhile. Ends quietly once `exited` is aborted.
 */
async function stuck(exited: AbortSignal): Promise<'deadline' | 'lingered'> {
  const deadline = Date.now() + RUN_DEADLINE_MINUTES * 60_000;
  while (Date.now() < deadline) {
    await delay(1000);
    if (exited.aborted) return new Promise(() => {});
    killOrphans();
    if (readSummary()) {
      await delay(EXIT_GRACE_MS);
      return 'lingered';
    }
  }
  return 'deadline';
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
      // Its own process group, so the run can stop every process a test file started.
      detached: true,
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
  const runnerEnded = new AbortController();
  const exited = new Promise<number>((resolve) =>
    running.once('exit', (c, signal) => {
      runnerEnded.abort();
      resolve(c ?? (signal ? 1 : 0));
    }),
  );
  const outcome = await Promise.race([exited.then(() => 'exited' as const), stuck(runnerEnded.signal)]);
  signalRunnerGroup('SIGKILL');
  code = await exited;
  const summary = readSummary();
  if (outcome === 'deadline') {
    console.error(`\ntest run: still running after ${RUN_DEADLINE_MINUTES} min (TEST_RUN_DEADLINE_MINUTES): stopped`);
    code = 1;
  } else if (outcome === 'lingered') {
    // Every test had reported: the verdict is theirs, and the lingering process is named as a defect to fix.
    console.error(
      `\ntest run: the test runner was still running ${EXIT_GRACE_MS / 1000} s after its last test: stopped it`,
    );
    code = summary && summary.failed === 0 ? 0 : 1;
  }
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
