// What Temporal and its SDK alone cost on this machine, without Tempered: the floor under
// bench:power and bench:deploy. Every activity does nothing (bench/temporal-floor/):
//   - N power-change-shaped operations at once (one local activity each), as a workflow started per
//     operation (Tempered's shape) and as an update to one of N long-running workflows;
//   - N deploy-shaped workflows at once (a zero-delay deploy's 25 local activities, 4 activities and
//     a heartbeat signal under a timer).
// Prints operations/s, p50 for the deploys, and the CPU per operation of the dev server and of this
// process (its worker and client), which run on the same cores as they do in bench:power and bench:deploy.
//   npm run bench:temporal-floor -- [--operations 200] [--deploys 100] [--rounds 3]
import os from 'node:os';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { freePort } from '../src/cli/ports.js';
import { startTemporal } from '../src/cli/temporal-server.js';
import { createLogger } from '../src/logger.js';
import { cpuSeconds } from './cpu.js';
import { formatHistoryEvents, historyEvents } from './history-events.js';
import { percentile } from './stack.js';
import { floorActivities } from './temporal-floor/activities.js';
import type * as workflows from './temporal-floor/workflows.js';

const { values } = parseArgs({
  options: {
    operations: { type: 'string', default: '200' },
    deploys: { type: 'string', default: '100' },
    rounds: { type: 'string', default: '3' },
  },
});
const operations = Number(values.operations);
const deploys = Number(values.deploys);
const rounds = Number(values.rounds);
const TASK_QUEUE = 'temporal-floor';

// Its CPU per operation counts one server process; Temporal on PostgreSQL is measured by the others.
if ((process.env.BENCH_TEMPORAL ?? 'dev') !== 'dev') {
  console.error('bench:temporal-floor runs on the dev server only; unset BENCH_TEMPORAL');
  process.exit(2);
}
Runtime.install({ logger: new DefaultLogger('WARN') });
const temporal = await startTemporal(
  { port: await freePort(), logFile: `${os.tmpdir()}/temporal-floor-${process.pid}.log` },
  createLogger('bench', 'warn'),
);
const nativeConnection = await NativeConnection.connect({ address: temporal.address });
const connection = await Connection.connect({ address: temporal.address });
try {
  const client = new Client({ connection });
  const worker = await Worker.create({
    connection: nativeConnection,
    taskQueue: TASK_QUEUE,
    workflowBundle: await bundleWorkflowCode({
      workflowsPath: new URL('./temporal-floor/workflows.ts', import.meta.url).pathname,
      logger: new DefaultLogger('WARN'),
    }),
    activities: floorActivities(client),
    // Tempered's worker default (WORKER_MAX_CONCURRENT_WORKFLOW_TASKS).
    maxConcurrentWorkflowTaskExecutions: 30,
  });
  const running = worker.run();
  try {
    /** Runs `run` for `count` operations and prints a row: operations/s and CPU per operation. */
    const measure = async (label: string, count: number, run: () => Promise<string>) => {
      const [ownBefore, temporalBefore, started] = [
        cpuSeconds(process.pid),
        cpuSeconds(temporal.pid),
        performance.now(),
      ];
      const suffix = await run();
      const seconds = (performance.now() - started) / 1000;
      const perOperation = (cpu: number) => ((cpu / count) * 1000).toFixed(1);
      const own = cpuSeconds(process.pid) - ownBefore;
      const server = cpuSeconds(temporal.pid) - temporalBefore;
      console.log(
        `${label.padEnd(28)} ${(count / seconds).toFixed(0).padStart(5)}  ` +
          `${perOperation(own + server)} (temporal ${perOperation(server)}, worker and client ${perOperation(own)})${suffix}`,
      );
    };

    console.log(`\nTemporal floor, ${os.cpus().length} cores; activities that do nothing`);
    console.log(`\n${operations} power-change-shaped operations at once, one local activity each`);
    console.log('shape, round                 ops/s  CPU ms per operation');
    for (let round = 1; round <= rounds; round++)
      await measure(`workflow per operation, ${round}`, operations, async () => {
        await Promise.all(
          Array.from({ length: operations }, (_, i) =>
            client.workflow.execute<typeof workflows.operation>('operation', {
              taskQueue: TASK_QUEUE,
              workflowId: `operation-${round}-${i}`,
            }),
          ),
        );
        return '';
      });
    const longRunning = await Promise.all(
      Array.from({ length: operations }, (_, i) =>
        client.workflow.start<typeof workflows.longRunning>('longRunning', {
          taskQueue: TASK_QUEUE,
          workflowId: `long-running-${i}`,
        }),
      ),
    );
    for (let round = 1; round <= rounds; round++)
      await measure(`update per operation, ${round}`, operations, async () => {
        await Promise.all(longRunning.map((handle) => handle.executeUpdate('operate')));
        return '';
      });
    await Promise.all(longRunning.map((handle) => handle.signal('finish')));

    console.log(`\n${deploys} deploy-shaped workflows at once`);
    console.log('round                        dep/s  CPU ms per deploy');
    for (let round = 1; round <= rounds; round++) {
      const ids = Array.from({ length: deploys }, (_, i) => `deploy-${round}-${i}`);
      await measure(`${round}`, deploys, async () => {
        const latencies = await Promise.all(
          ids.map(async (workflowId) => {
            const started = performance.now();
            await client.workflow.execute<typeof workflows.deployShaped>('deployShaped', {
              taskQueue: TASK_QUEUE,
              workflowId,
            });
            return performance.now() - started;
          }),
        );
        const sorted = latencies.sort((a, b) => a - b);
        return `; end to end p50 ${(percentile(sorted, 50) / 1000).toFixed(1)} s, p95 ${(percentile(sorted, 95) / 1000).toFixed(1)} s`;
      });
      if (round === rounds) {
        const histories = await Promise.all(ids.map((id) => historyEvents(client, id)));
        console.log(`history events per deploy: ${formatHistoryEvents(histories)}`);
      }
    }
  } finally {
    worker.shutdown();
    await running;
  }
} finally {
  await connection.close();
  await nativeConnection.close();
  await temporal.stop();
}
