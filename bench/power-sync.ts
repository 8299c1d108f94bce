// Power sync at fleet scale: N light-lab machines, each behind its own emulated Redfish BMC on
// loopback, enrolled through the API; then runs of the power sync Schedule, each timed, while the
// API's node list is read over and over.
//   npm run bench:power-sync -- [--nodes 10000] [--period 60] [--runs 2]
// Each run is one the Schedule fired on its own. Prints per run: the time since the run before
// (the period achieved), the time to check every node against the period, BMC power reads per second,
// the worker's peak RSS, and GET /v1/nodes?limit=1000 p50/p99 (read every 250 ms, as a dashboard
// refreshing) while the run went, and idle before. 1% of the machines are switched on behind Tempered's back before each run, so every run
// also records differences. Nodes are enrolled through the API and then marked verified in the
// database (as a manage would leave them), sparing N verify operations that are not measured here.
import os from 'node:os';
import { parseArgs } from 'node:util';
import pg from 'pg';
import type { ScheduleHandle, WorkflowHandle } from '@temporalio/client';
import type { PowerSyncSummary } from '../src/workflows/power-sync.js';
import { DEFAULT_TASK_QUEUE } from '../src/workflows/contract.js';
import { powerSyncScheduleId } from '../src/workflows/power-sync-contract.js';
import { percentile, samplePeakRss, startBenchStack, type BenchStack } from './stack.js';
import { table } from './table.js';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '10000' },
    period: { type: 'string', default: '60' },
    runs: { type: 'string', default: '2' },
  },
});
const nodeCount = Number(values.nodes);
const periodSeconds = Number(values.period);
const runCount = Number(values.runs);
const CHANGED_SHARE = 0.01;
const LIST_PATH = '/v1/nodes?limit=1000';
const LIST_EVERY_MS = 250;

const load = () =>
  os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
const seconds = (ms: number) => (ms / 1000).toFixed(1);

/** An operator's dashboard refreshing: reads the node list every LIST_EVERY_MS until stopped; answers each request's milliseconds. */
function readNodeListUntil(stack: BenchStack, stop: Promise<unknown>): Promise<number[]> {
  let stopped = false;
  void stop.finally(() => (stopped = true));
  return (async () => {
    const latencies: number[] = [];
    while (!stopped) {
      const t0 = performance.now();
      await stack.call('GET', LIST_PATH);
      const ms = performance.now() - t0;
      latencies.push(ms);
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, LIST_EVERY_MS - ms)));
    }
    return latencies.sort((a, b) => a - b);
  })();
}

const p = (sorted: number[], q: number) => (sorted.length ? percentile(sorted, q).toFixed(1) : '-');

/** The Schedule's first firing after `after`, as soon as it started. */
async function nextRun(stack: BenchStack, schedule: ScheduleHandle, after: Date): Promise<WorkflowHandle> {
  for (;;) {
    const fired = (await schedule.describe()).info.recentActions.find((a) => a.takenAt > after);
    if (fired) {
      const { workflowId, firstExecutionRunId } = fired.action.workflow;
      return stack.client.workflow.getHandle(workflowId, firstExecutionRunId);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Until no run of the Schedule is going, so the next one starts after what a test changes. */
async function noRunGoing(stack: BenchStack, schedule: ScheduleHandle): Promise<void> {
  for (const { workflow } of (await schedule.describe()).info.runningActions)
    await stack.client.workflow.getHandle(workflow.workflowId, workflow.firstExecutionRunId).result();
}

console.log(
  `Power sync benchmark: ${nodeCount} light-lab nodes (one emulated Redfish BMC each), period ${periodSeconds} s, ` +
    `${os.cpus().length} cores; load average at start: ${load()}`,
);
const setupStarted = performance.now();
const stack = await startBenchStack(
  { count: nodeCount, light: true, powerDelayMs: 0 },
  {
    POWER_SYNC_PERIOD_SECONDS: String(periodSeconds),
  },
);
try {
  console.log(`lab up and enrolled in ${seconds(performance.now() - setupStarted)} s`);
  const db = new pg.Client({ connectionString: stack.databaseUrl });
  await db.connect();
  // The lab's machines start off, as a verify would have recorded.
  await db.query(`UPDATE nodes SET provision_state = 'manageable', power_state = 'power off'`);
  await db.end();

  const idle = await readNodeListUntil(stack, new Promise((resolve) => setTimeout(resolve, 5000)));
  console.log(`GET ${LIST_PATH} idle: p50 ${p(idle, 50)} ms, p99 ${p(idle, 99)} ms (${idle.length} requests)`);

  const schedule = stack.client.schedule.getHandle(powerSyncScheduleId(DEFAULT_TASK_QUEUE));
  const rows: string[][] = [];
  let previousStart: Date | undefined;
  for (let run = 1; run <= runCount; run++) {
    // Some machines were switched on or off behind Tempered's back since the last run.
    const flipped = stack.lab.machines.filter((_, i) => i % Math.round(1 / CHANGED_SHARE) === run % 100);
    await noRunGoing(stack, schedule);
    for (const { machine } of flipped) machine.reset(machine.powerState === 'On' ? 'ForceOff' : 'On');
    const flippedAt = new Date();
    const rss = samplePeakRss([stack.workerPid]);
    const handle = await nextRun(stack, schedule, flippedAt);
    const result: Promise<PowerSyncSummary> = handle.result();
    const listLatencies = readNodeListUntil(stack, result);
    const summary = await result;
    const { startTime: startedAt, closeTime } = await handle.describe();
    const ms = closeTime!.getTime() - startedAt.getTime();
    const list = await listLatencies;
    const [workerRss] = rss.stop();
    rows.push([
      String(run),
      previousStart ? `${seconds(startedAt.getTime() - previousStart.getTime())} s` : '-',
      `${seconds(ms)} s`,
      ms <= periodSeconds * 1000 ? 'yes' : 'NO',
      `${summary.checked}/${summary.nodes}`,
      `${summary.changed} (flipped ${flipped.length})`,
      String(summary.failed),
      (summary.checked / (ms / 1000)).toFixed(0),
      String(summary.callsPerSecond),
      `${workerRss} MB`,
      `${p(list, 50)} / ${p(list, 99)} ms (${list.length})`,
      load(),
    ]);
    previousStart = startedAt;
  }
  console.log(
    table(
      [
        'run',
        'since last run',
        'all nodes checked in',
        `within ${periodSeconds} s`,
        'checked',
        'changed',
        'failed',
        'BMC reads/s',
        'paced at /s',
        'worker peak RSS',
        `${LIST_PATH} p50 / p99 (requests)`,
        'load average',
      ],
      rows,
    ),
  );
  console.log(
    'A read is one getPowerState: GET the Systems collection and the system (no redfish_system_id); ' +
      'the first run also opens one Redfish session per BMC.',
  );
} finally {
  await stack.close();
}
