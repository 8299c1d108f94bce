// Deploys N available lab nodes at once through the API and prints throughput, end-to-end
// latency, the orchestration overhead per deploy, reboots per deploy and the worker's memory.
//   npm run bench:deploy -- [--nodes 100] [--delay-ms 0] [--post-seconds 0] [--image-mib 16] [--light]
//                           [--warm] [--kexec]
// --light runs the lab's agents inside this process (the light lab), for 1,000 nodes.
// --warm / --kexec compare instead, N nodes per group (final-boot.ts): cold, fast-track, and warm
// (pre-booted by the boot verb) or kexec, or both (warm + kexec), with reboots and power changes.
//
// Hardware time of one deploy, the part a faster Tempered could not remove:
//   power      every power change of the machine during the deploy takes --delay-ms;
//   POST       --post-seconds before the ramdisk starts (the workflow ends when the instance is
//              powered on, so the instance's own POST is outside the measured time);
//   ramdisk    from the machine starting its ramdisk to the agent listening (the lab's agent is
//              a process that starts in a second where a real ramdisk takes tens of seconds);
//   commands   the agent's own record of its commands, started to finished (image write etc.).
// Orchestration overhead is end-to-end minus that: workflow and activity scheduling, BMC and
// agent calls, the agent's lookup and heartbeat, polling granularity, database writes — and, on
// one small machine, the CPU the lab itself takes from all of them.
import { existsSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startImageServerProcess, writeDiskImage } from '../src/sim/images.js';
import { formatCpu, sampleCpu } from './cpu.js';
import { compareFinalBoots } from './final-boot.js';
import type { BootTarget } from '../src/sim/machine.js';
import { formatHistoryEvents, formatHistoryTime, historyEvents } from './history-events.js';
import { percentile, samplePeakRss, startBenchStack, type BenchStack } from './stack.js';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '100' },
    'delay-ms': { type: 'string', default: '0' },
    'post-seconds': { type: 'string', default: '0' },
    'image-mib': { type: 'string', default: '16' },
    light: { type: 'boolean', default: false },
    warm: { type: 'boolean', default: false },
    kexec: { type: 'boolean', default: false },
  },
});
const nodeCount = Number(values.nodes);
const powerDelayMs = Number(values['delay-ms']);
const postDelayMs = Number(values['post-seconds']) * 1000;
const imageBytes = Number(values['image-mib']) * 1024 ** 2;

// The lab's agents inherit this; their "command started/succeeded" lines time the in-band work.
process.env.LOG_LEVEL = 'info';

interface AgentLogLine {
  time: number;
  pid: number;
  /** Set by the light lab, whose agents share one pid. */
  machine?: string;
  msg: string;
  id?: string;
  node?: string;
}

/** Per node, from the agents' log lines written after `offset`: when each agent listened, and its commands' total time. */
function agentTimes(stack: BenchStack, offset: number): Map<string, { listenedAt: number[]; commandsMs: number }> {
  const lines: AgentLogLine[] = readFileSync(stack.agentLogFile)
    .subarray(offset)
    .toString('utf8')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line));
  // An agent names its node once it has looked up; its pid ties its other lines to that node.
  const agentOf = (line: AgentLogLine) => line.machine ?? line.pid;
  const nodeOfPid = new Map(lines.filter((l) => l.msg === 'looked up').map((l) => [agentOf(l), l.node!]));
  const commandStarts = new Map(lines.filter((l) => l.msg === 'command started').map((l) => [l.id, l.time]));
  const times = new Map<string, { listenedAt: number[]; commandsMs: number }>();
  for (const line of lines) {
    const node = nodeOfPid.get(agentOf(line));
    if (!node) continue;
    const entry = times.get(node) ?? { listenedAt: [], commandsMs: 0 };
    times.set(node, entry);
    if (line.msg === 'agent listening') entry.listenedAt.push(line.time);
    if (line.msg === 'command succeeded' || line.msg === 'command failed')
      entry.commandsMs += line.time - commandStarts.get(line.id)!;
  }
  return times;
}

const RAMDISK_TARGETS: ReadonlySet<BootTarget> = new Set<BootTarget>(['Pxe', 'Cd', 'UefiHttp']);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const ms = (x: number) => x.toFixed(0);

/** N deploys at once from cold nodes, with where their time went. */
async function throughput(): Promise<void> {
  const stack = await startBenchStack({ count: nodeCount, powerDelayMs, postDelayMs, light: values.light });
  try {
    const { uuids, client, lab } = stack;
    const imageFile = path.join(stack.scratch, 'bench.raw');
    const imageHash = await writeDiskImage(imageFile, imageBytes);
    const images = await startImageServerProcess({ 'bench.raw': imageFile });
    const provision = async (uuid: string, body: Record<string, unknown>) => {
      await stack.call('PUT', `/v1/nodes/${uuid}/states/provision`, body, 202);
      await stack.operationEnded(uuid);
    };

    console.log(
      `\nTempered deploy benchmark: ${nodeCount} ${values.light ? 'light ' : ''}lab nodes, BMC power delay ${powerDelayMs} ms, POST ${postDelayMs / 1000} s, ` +
        `${imageBytes / 1024 ** 2} MiB raw image with a config drive, ${os.cpus().length} cores`,
    );
    let started = performance.now();
    await Promise.all(
      uuids.map(async (uuid) => {
        await provision(uuid, { target: 'manage' });
        await provision(uuid, { target: 'provide' });
        await stack.call('PATCH', `/v1/nodes/${uuid}`, {
          instance_info: {
            image_source: images.url('bench.raw'),
            image_os_hash_algo: 'sha256',
            image_os_hash_value: imageHash,
            image_disk_format: 'raw',
          },
        });
      }),
    );
    const notAvailable = (await Promise.all(uuids.map((uuid) => stack.call('GET', `/v1/nodes/${uuid}`)))).filter(
      (n) => n.provision_state !== 'available',
    );
    if (notAvailable.length > 0)
      throw new Error(`${notAvailable.length} nodes not available after provide, e.g. ${notAvailable[0].last_error}`);
    console.log(
      `made available (manage + provide, not measured): ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );

    const before = await Promise.all(uuids.map((uuid) => stack.call('GET', `/v1/nodes/${uuid}`)));
    const logOffset = existsSync(stack.agentLogFile) ? statSync(stack.agentLogFile).size : 0;
    const ramdiskStarts = new Map<string, number[]>();
    const powerChanges = uuids.map(() => 0);
    const detach = lab.machines.map(({ machine }, i) => {
      const onPower = () => powerChanges[i]++;
      machine.on('power', onPower);
      const onBoot = (target: BootTarget) => {
        if (RAMDISK_TARGETS.has(target))
          ramdiskStarts.set(uuids[i], [...(ramdiskStarts.get(uuids[i]) ?? []), Date.now()]);
      };
      machine.on('boot', onBoot);
      return () => {
        machine.off('boot', onBoot);
        machine.off('power', onPower);
      };
    });
    const rss = samplePeakRss([stack.workerPid, stack.apiPid]);
    const cpu = sampleCpu(stack);
    started = performance.now();
    const endToEnd = await Promise.all(
      uuids.map(async (uuid, i) => {
        const t0 = performance.now();
        await provision(uuid, { target: 'active', configdrive: { meta_data: { hostname: lab.machines[i].name } } });
        return performance.now() - t0;
      }),
    );
    const elapsedSeconds = (performance.now() - started) / 1000;
    const [workerPeak, apiPeak] = rss.stop();
    const cpuUsed = cpu.stop();
    detach.forEach((off) => off());
    await images.close();

    const after = await Promise.all(uuids.map((uuid) => stack.call('GET', `/v1/nodes/${uuid}`)));
    const failed = after.filter((n) => n.provision_state !== 'active');
    const agents = agentTimes(stack, logOffset);
    const counted = (key: string) =>
      after.map((n, i) => Number(n.driver_internal_info[key] ?? 0) - Number(before[i].driver_internal_info[key] ?? 0));
    const [boots, ramdiskBoots, instanceBoots] = ['boots', 'ramdisk_boots', 'instance_boots'].map(counted);
    const parts = uuids.map((uuid, i) => {
      const listened = agents.get(uuid)?.listenedAt ?? [];
      const ramdisk = (ramdiskStarts.get(uuid) ?? []).reduce(
        (sum, start, k) => sum + (listened[k] ?? start) - start,
        0,
      );
      return {
        power: powerChanges[i] * powerDelayMs,
        post: ramdiskBoots[i] * postDelayMs,
        ramdisk,
        commands: agents.get(uuid)?.commandsMs ?? 0,
      };
    });
    const hardware = parts.map((p) => p.power + p.post + p.ramdisk + p.commands);
    const overhead = endToEnd.map((total, i) => total - hardware[i]).sort((a, b) => a - b);
    const sorted = [...endToEnd].sort((a, b) => a - b);
    const meanOf = (key: keyof (typeof parts)[number]) => ms(mean(parts.map((p) => p[key])));

    console.log(
      `deploys/s:                 ${(nodeCount / elapsedSeconds).toFixed(2)}  (${nodeCount} deploys in ${elapsedSeconds.toFixed(1)} s, ${failed.length} not active)`,
    );
    console.log(
      `end-to-end ms:             p50 ${ms(percentile(sorted, 50))}  p95 ${ms(percentile(sorted, 95))}  max ${ms(sorted[sorted.length - 1])}`,
    );
    console.log(
      `hardware ms per deploy:    mean ${ms(mean(hardware))} = power ${meanOf('power')} + POST ${meanOf('post')} + ` +
        `ramdisk start ${meanOf('ramdisk')} + agent commands ${meanOf('commands')}`,
    );
    console.log(
      `orchestration ms/deploy:   mean ${ms(mean(overhead))}  p50 ${ms(percentile(overhead, 50))}  p95 ${ms(percentile(overhead, 95))}  (end-to-end minus hardware)`,
    );
    console.log(
      `reboots per deploy:        ${mean(boots).toFixed(2)} (ramdisk ${mean(ramdiskBoots).toFixed(2)}, instance ${mean(instanceBoots).toFixed(2)})`,
    );
    console.log(`CPU ms per deploy:         ${formatCpu(cpuUsed, nodeCount, elapsedSeconds, os.cpus().length)}`);
    console.log(`peak RSS MB:               worker ${workerPeak}, api ${apiPeak}`);
    console.log(`API 503 answers (retried): ${stack.unavailableAnswers()}`);
    const histories = await Promise.all(uuids.map((uuid) => historyEvents(client, `node/${uuid}`)));
    console.log(`history events per deploy: ${formatHistoryEvents(histories)}`);
    console.log(`history ms per deploy:     ${formatHistoryTime(histories)}`);
    if (failed.length > 0)
      console.log(`first failure: ${failed[0].name}: ${failed[0].provision_state}: ${failed[0].last_error}`);
  } finally {
    await stack.close();
  }
}

if (values.warm || values.kexec) {
  await compareFinalBoots({
    nodesPerGroup: nodeCount,
    powerDelayMs,
    postDelayMs,
    imageBytes,
    light: values.light,
    warm: values.warm,
    kexec: values.kexec,
  });
} else {
  await throughput();
}
