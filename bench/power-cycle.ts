// Power-cycles N lab nodes at once through the API and prints throughput, latency and memory.
// Worker and API run from the compiled JavaScript, as in production, each in its own process.
//   npm run bench:power -- [--nodes 200] [--delay-ms 0] [--rounds 2]
import os from 'node:os';
import { parseArgs } from 'node:util';
import { formatCpu, sampleCpu } from './cpu.js';
import { formatHistoryEvents, formatHistoryTime, historyEvents } from './history-events.js';
import { percentile, samplePeakRss, startBenchStack } from './stack.js';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '200' },
    'delay-ms': { type: 'string', default: '0' },
    rounds: { type: 'string', default: '2' },
  },
});
const nodeCount = Number(values.nodes);
const delayMs = Number(values['delay-ms']);
const rounds = Number(values.rounds);

const stack = await startBenchStack({ count: nodeCount, powerDelayMs: delayMs });
try {
  const { uuids } = stack;
  console.log(
    `\nTempered power-cycle benchmark: ${nodeCount} lab nodes, BMC power delay ${delayMs} ms, ${os.cpus().length} cores`,
  );
  console.log('round  target      ops/s   p50 ms  p95 ms  max ms  worker RSS MB  api RSS MB');
  const cpuLines: string[] = [];
  const targets = ['power on', ...Array.from({ length: rounds }, () => 'rebooting')];
  for (const [round, target] of targets.entries()) {
    const rss = samplePeakRss([stack.workerPid, stack.apiPid]);
    const cpu = sampleCpu(stack);
    const started = performance.now();
    const latencies = await Promise.all(
      uuids.map(async (uuid) => {
        const t0 = performance.now();
        await stack.call('PUT', `/v1/nodes/${uuid}/states/power`, { target }, 202);
        // The workflow ends right after it records the settled power_state.
        await stack.operationEnded(uuid);
        return performance.now() - t0;
      }),
    );
    const elapsed = (performance.now() - started) / 1000;
    const [peakWorker, peakApi] = rss.stop();
    const cpuUsed = cpu.stop();
    const sorted = latencies.sort((a, b) => a - b);
    console.log(
      `${String(round + 1).padEnd(6)} ${target.padEnd(10)} ${(nodeCount / elapsed).toFixed(1).padStart(6)} ` +
        `${percentile(sorted, 50).toFixed(0).padStart(7)} ${percentile(sorted, 95).toFixed(0).padStart(7)} ` +
        `${sorted[sorted.length - 1].toFixed(0).padStart(7)} ${String(peakWorker).padStart(14)} ${String(peakApi).padStart(11)}`,
    );
    cpuLines.push(`round ${round + 1}: ${formatCpu(cpuUsed, nodeCount, elapsed, os.cpus().length)}`);
  }
  console.log(`\nCPU ms per power change:\n  ${cpuLines.join('\n  ')}`);
  const settled = await Promise.all(uuids.map((uuid) => stack.call('GET', `/v1/nodes/${uuid}`)));
  const wrong = settled.filter((n) => n.power_state !== 'power on' || n.last_error);
  console.log(`\nnodes not settled in "power on" or with last_error: ${wrong.length}`);
  // Each node's last workflow is its last power change (a reboot: off, then on).
  const histories = await Promise.all(uuids.map((uuid) => historyEvents(stack.client, `node/${uuid}`)));
  console.log(`history events per power change (last round): ${formatHistoryEvents(histories)}`);
  console.log(`history ms per power change (last round): ${formatHistoryTime(histories)}`);
} finally {
  await stack.close();
}
