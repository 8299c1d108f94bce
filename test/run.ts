// The test run: one PostgreSQL cluster and one Temporal dev server for all test files (each
// file makes its own database and task queue), the workflow bundle built once, then node's
// test runner over the files. Services stop when the run ends, pass or fail.
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startPostgres } from '../src/cli/postgres.js';
import { freePort } from '../src/cli/ports.js';
import { startTemporal } from '../src/cli/temporal-server.js';
import { writeWorkflowBundle } from '../src/cli/worker.js';
import { createLogger } from '../src/logger.js';

const logger = createLogger('test-run', 'warn');
const given = process.argv.slice(2);
const files = given.length
  ? given
  : ['test/unit', 'test/integration', 'test/compat'].flatMap((dir) =>
      readdirSync(dir).filter((f) => f.endsWith('.test.ts')).sort().map((f) => path.join(dir, f)),
    );

const scratch = mkdtempSync(path.join(os.tmpdir(), 'tempered-test-'));
chmodSync(scratch, 0o755); // PostgreSQL runs as its own user and must reach its folder
const postgres = await startPostgres(path.join(scratch, 'postgres'), logger);
const temporal = await startTemporal({ port: await freePort(), logFile: path.join(scratch, 'temporal.log') }, logger).catch(async (err) => {
  await postgres.stop();
  throw err;
});
const bundle = path.join(scratch, 'workflow-bundle.js');
await writeWorkflowBundle(bundle);

let code = 1;
try {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-timeout=600000', ...files],
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
  code = await new Promise<number>((resolve) => child.once('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))));
} finally {
  await temporal.stop();
  await postgres.stop();
  rmSync(scratch, { recursive: true, force: true });
}
process.exit(code);
