// What Temporal and its SDK alone cost per operation on this machine, without Tempered: the floor
// under bench:power. N operations at once, each one local activity that does nothing, in two shapes:
// a workflow started per operation (Tempered's shape), and an update to one of N long-running
// workflows. Prints operations/s and the CPU per operation of the dev server and of this process
// (its worker and client), per round.
//   npm run bench:temporal-floor -- [--operations 200] [--rounds 3]
import os from 'node:os';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { freePort } from '../src/cli/ports.js';
import { startTemporal } from '../src/cli/temporal-server.js';
import { createLogger } from '../src/logger.js';
import { cpuSeconds } from './cpu.js';
import type * as workflows from './temporal-floor/workflows.js';

const { values } = parseArgs({
  options: {
    operations: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '3' },
  },
});
const operations = Number(values.operations);
const rounds = Number(values.rounds);
const TASK_QUEUE = 'temporal-floor';

Runtime.install({ logger: new DefaultLogger('WARN') });
const temporal = await startTemporal(
  { port: await freePort(), logFile: `${os.tmpdir()}/temporal-floor-${process.pid}.log` },
  createLogger('bench', 'warn'),
);
const nativeConnection = await NativeConnection.connect({ address: temporal.address });
const connection = await Connection.connect({ address: temporal.address });
try {
  const worker = await Worker.create({
    connection: nativeConnection,
    taskQueue: TASK_QUEUE,
    workflowBundle: await bundleWorkflowCode({
      workflowsPath: new URL('./temporal-floor/workflows.ts', import.meta.url).pathname,
      logger: new DefaultLogger('WARN'),
    }),
    activities: { nothing: async () => undefined },
    // Tempered's worker default (WORKER_MAX_CONCURRENT_WORKFLOW_TASKS).
    maxConcurrentWorkflowTaskExecutions: 30,
  });
  const running = worker.run();
  const client = new Client({ connection });

  console.log(`\nTemporal floor: ${operations} operations at once, one local activity each, ${os.cpus().length} cores`);
  console.log('shape                    round  ops/s  CPU ms per operation');
  const measure = async (shape: string, round: number, run: () => Promise<unknown>) => {
    const [ownBefore, temporalBefore, started] = [cpuSeconds(process.pid), cpuSeconds(temporal.pid), performance.now()];
    await run();
    const seconds = (performance.now() - started) / 1000;
    const perOperation = (cpu: number) => ((cpu / operations) * 1000).toFixed(1);
    const own = cpuSeconds(process.pid) - ownBefore;
    const server = cpuSeconds(temporal.pid) - temporalBefore;
    console.log(
      `${shape.padEnd(24)} ${String(round).padEnd(6)} ${(operations / seconds).toFixed(0).padStart(5)}  ` +
        `${perOperation(own + server)} (temporal ${perOperation(server)}, worker and client ${perOperation(own)})`,
    );
  };
  for (let round = 1; round <= rounds; round++)
    await measure('workflow per operation', round, () =>
      Promise.all(
        Array.from({ length: operations }, (_, i) =>
          client.workflow.execute<typeof workflows.operation>('operation', {
            taskQueue: TASK_QUEUE,
            workflowId: `operation-${round}-${i}`,
          }),
        ),
      ),
    );
  const longRunning = await Promise.all(
    Array.from({ length: operations }, (_, i) =>
      client.workflow.start<typeof workflows.longRunning>('longRunning', {
        taskQueue: TASK_QUEUE,
        workflowId: `long-running-${i}`,
      }),
    ),
  );
  for (let round = 1; round <= rounds; round++)
    await measure('update per operation', round, () =>
      Promise.all(longRunning.map((handle) => handle.executeUpdate('operate'))),
    );
  await Promise.all(longRunning.map((handle) => handle.signal('finish')));
  worker.shutdown();
  await running;
} finally {
  await connection.close();
  await nativeConnection.close();
  await temporal.stop();
}
