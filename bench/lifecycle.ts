// Side by side with OpenStack Ironic: the same lifecycle with the same N, no hardware on either
// side (Tempered's fake driver and fake deploy interface; Ironic's fake-hardware), one run each,
// back to back on the same machine, Tempered first and stopped before Ironic starts.
//   npm run bench:lifecycle -- [--nodes 100] [--ironic ../shared/bench/ironic/run.sh]
// Phases, as the Ironic script has them: create, manage, provide (automated cleaning), deploy,
// power off, power on, undeploy (deleting → cleaning → available). Each phase sends all N requests
// at once; a node is done when its operation's workflow has ended (Ironic's script polls the node
// list every 0.2 s instead). The N=1 column is the median of three lifecycles of a fresh node.
import { spawn } from 'node:child_process';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { percentile, samplePeakRss, startBenchStack, type BenchStack } from './stack.js';
import { table } from './table.js';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '100' },
    ironic: { type: 'string' },
  },
});
const nodeCount = Number(values.nodes);
const SINGLE_RUNS = 3;
/** Between phases, as Ironic's script waits, so both lifecycle walls count the same pauses. */
const SETTLE_MS = 500;

const PHASES = [
  { name: 'manage', kind: 'provision', target: 'manage' },
  { name: 'provide', kind: 'provision', target: 'provide' },
  { name: 'deploy', kind: 'provision', target: 'active' },
  { name: 'power_off', kind: 'power', target: 'power off' },
  { name: 'power_on', kind: 'power', target: 'power on' },
  { name: 'undeploy', kind: 'provision', target: 'deleted' },
] as const;
type PhaseName = (typeof PHASES)[number]['name'];

interface PhaseFigures {
  wallS: number;
  p50S: number;
  p95S: number;
  maxS: number;
  failed: number;
}

const IMAGE = {
  image_source: 'http://127.0.0.1:9/never-fetched.raw',
  image_os_hash_algo: 'sha256',
  image_os_hash_value: 'a'.repeat(64),
};
const seconds = (ms: number) => ms / 1000;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function createNodes(stack: BenchStack, prefix: string, count: number): Promise<string[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const node = await stack.call(
        'POST',
        '/v1/nodes',
        { name: `${prefix}-${i}`, driver: 'fake', deploy_interface: 'fake', resource_class: 'bench' },
        201,
      );
      return node.uuid as string;
    }),
  );
}

/** Runs one phase on all `uuids` at once; per-node latency is request sent → operation ended. */
async function runPhase(stack: BenchStack, uuids: string[], phase: (typeof PHASES)[number]): Promise<PhaseFigures> {
  if (phase.name === 'deploy')
    await Promise.all(uuids.map((uuid) => stack.call('PATCH', `/v1/nodes/${uuid}`, { instance_info: IMAGE })));
  const started = performance.now();
  const latencies = await Promise.all(
    uuids.map(async (uuid) => {
      const t0 = performance.now();
      await stack.call('PUT', `/v1/nodes/${uuid}/states/${phase.kind}`, { target: phase.target }, 202);
      await stack.operationEnded(uuid);
      return performance.now() - t0;
    }),
  );
  const wallMs = performance.now() - started;
  const nodes = await Promise.all(uuids.map((uuid) => stack.call('GET', `/v1/nodes/${uuid}`)));
  const expected = phase.name === 'power_off' ? 'power off' : phase.name === 'power_on' ? 'power on' : undefined;
  const failed = nodes.filter(
    (n) => n.last_error || (expected ? n.power_state !== expected : n.target_provision_state !== null),
  ).length;
  const sorted = latencies.sort((a, b) => a - b);
  return {
    wallS: seconds(wallMs),
    p50S: seconds(percentile(sorted, 50)),
    p95S: seconds(percentile(sorted, 95)),
    maxS: seconds(sorted[sorted.length - 1]),
    failed,
  };
}

async function lifecycle(stack: BenchStack, uuids: string[]): Promise<Record<PhaseName, PhaseFigures>> {
  const figures = {} as Record<PhaseName, PhaseFigures>;
  for (const phase of PHASES) {
    figures[phase.name] = await runPhase(stack, uuids, phase);
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  }
  return figures;
}

interface SystemFigures {
  single: Record<PhaseName, number>;
  batch: Record<PhaseName, PhaseFigures>;
  createS: number;
  lifecycleS: number;
  peakRss: string;
}

async function benchTempered(): Promise<SystemFigures> {
  const stack = await startBenchStack({ count: 0, powerDelayMs: 0 });
  try {
    const runId = Date.now().toString(36);
    const singles: Record<PhaseName, PhaseFigures>[] = [];
    for (let run = 0; run < SINGLE_RUNS; run++)
      singles.push(await lifecycle(stack, await createNodes(stack, `single-${runId}-${run}`, 1)));
    const single = Object.fromEntries(
      PHASES.map(({ name }) => [name, median(singles.map((s) => s[name].p50S))]),
    ) as Record<PhaseName, number>;

    const rss = samplePeakRss([stack.workerPid, stack.apiPid]);
    const started = performance.now();
    const uuids = await createNodes(stack, `bench-${runId}`, nodeCount);
    const createS = seconds(performance.now() - started);
    const batch = await lifecycle(stack, uuids);
    const lifecycleS = seconds(performance.now() - started);
    const [worker, api] = rss.stop();
    console.log(`API 503 answers (retried after Retry-After): ${stack.unavailableAnswers()}`);
    return { single, batch, createS, lifecycleS, peakRss: `worker ${worker} MB + API ${api} MB` };
  } finally {
    await stack.close();
  }
}

/** Runs Ironic's own script, showing its output, and reads its RESULT_JSON line. */
async function benchIronic(script: string): Promise<SystemFigures> {
  const child = spawn('bash', [script, String(nodeCount)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk;
    process.stdout.write(chunk);
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const line = output.split('\n').find((l) => l.startsWith('RESULT_JSON '));
  if (!line) throw new Error(`${script} printed no RESULT_JSON line (exit ${code})`);
  const result = JSON.parse(line.slice('RESULT_JSON '.length));
  const batch = Object.fromEntries(
    PHASES.map(({ name }) => {
      const b = result.batch[name];
      return [name, { wallS: b.wall_s, p50S: b.p50_s, p95S: b.p95_s, maxS: b.max_s, failed: b.failed }];
    }),
  ) as Record<PhaseName, PhaseFigures>;
  const single = Object.fromEntries(PHASES.map(({ name }) => [name, result.single[name].median_s])) as Record<
    PhaseName,
    number
  >;
  return {
    single,
    batch,
    createS: result.create_wall_s,
    lifecycleS: result.lifecycle_wall_s,
    peakRss: `${(result.peak_rss_total_bytes / 2 ** 20).toFixed(0)} MiB`,
  };
}

function printSystem(title: string, figures: SystemFigures): void {
  console.log(`\n${title}`);
  console.log(
    table(
      ['phase', 'N=1 s', `N=${nodeCount} wall s`, 'p50 s', 'p95 s', 'max s', 'failed'],
      [
        ['create', '-', figures.createS.toFixed(2), '-', '-', '-', '-'],
        ...PHASES.map(({ name }) => {
          const b = figures.batch[name];
          return [
            name,
            figures.single[name].toFixed(3),
            b.wallS.toFixed(2),
            b.p50S.toFixed(2),
            b.p95S.toFixed(2),
            b.maxS.toFixed(2),
            String(b.failed),
          ];
        }),
        ['lifecycle', '-', figures.lifecycleS.toFixed(2), '-', '-', '-', '-'],
      ],
    ),
  );
  console.log(`peak RSS: ${figures.peakRss}`);
}

const load = () =>
  os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
console.log(
  `Lifecycle benchmark, N=${nodeCount}, no hardware (fake), ${os.cpus().length} cores; load average before: ${load()}`,
);
const tempered = await benchTempered();
printSystem(`Tempered (fake driver, fake deploy interface; worker and API compiled, each its own process)`, tempered);
if (!values.ironic) {
  console.log('\n(no --ironic <run.sh>: Ironic not run)');
} else {
  console.log(`\nload average before Ironic: ${load()}`);
  const ironic = await benchIronic(values.ironic);
  printSystem('Ironic (as read from its RESULT_JSON)', ironic);
  const ratio = (theirs: number, ours: number) => `${(theirs / ours).toFixed(1)}×`;
  console.log(`\nSide by side (ratio: Ironic's time / Tempered's; above 1× Tempered is faster)`);
  console.log(
    table(
      [
        'phase',
        'Tempered N=1 s',
        'Ironic N=1 s',
        'ratio',
        `Tempered N=${nodeCount} s`,
        `Ironic N=${nodeCount} s`,
        'ratio',
      ],
      [
        ...PHASES.map(({ name }) => {
          const [t1, i1, tn, in_] = [
            tempered.single[name],
            ironic.single[name],
            tempered.batch[name].wallS,
            ironic.batch[name].wallS,
          ];
          return [name, t1.toFixed(3), i1.toFixed(3), ratio(i1, t1), tn.toFixed(2), in_.toFixed(2), ratio(in_, tn)];
        }),
        [
          'lifecycle',
          '-',
          '-',
          '-',
          tempered.lifecycleS.toFixed(2),
          ironic.lifecycleS.toFixed(2),
          ratio(ironic.lifecycleS, tempered.lifecycleS),
        ],
      ],
    ),
  );
  console.log(`targets: N=${nodeCount} lifecycle ≥ 3× faster than Ironic's; every N=1 phase no slower than Ironic's`);
}
console.log(`load average after: ${load()}`);
