// Side by side, on one lab and one stack: how long a deploy takes and how many reboots and power
// changes it costs when the node starts cold, fast-tracked (the agent kept running after
// cleaning), or warm (pre-booted by the boot verb), each optionally with kexec as the final boot.
// Run by `npm run bench:deploy -- --warm --kexec` (see deploy.ts); every group deploys at once.
//
// Two times per deploy: to active (the API says active: the workflow ended), and to the instance
// running (the lab machine's firmware started its disk after POST, or the ramdisk kexec-ed into
// it). Only the second is what a user waits for: a reboot's POST comes after "active".
import { startImageServerProcess, writeDiskImage } from '../src/sim/images.js';
import type { BootTarget, SimMachine } from '../src/sim/machine.js';
import { percentile, startBenchStack, type BenchStack } from './stack.js';
import { table } from './table.js';

export interface FinalBootBenchOptions {
  nodesPerGroup: number;
  powerDelayMs: number;
  postDelayMs: number;
  imageBytes: number;
  light: boolean;
  /** Adds a group pre-booted by the boot verb. */
  warm: boolean;
  /** The last group's deploys end with kexec instead of a reboot. */
  kexec: boolean;
}

interface Group {
  name: string;
  /** How the node is made ready (not measured): fast-track cleaning, or the boot verb after a plain one. */
  readiness: 'cold' | 'fast-track' | 'warm';
  finalBoot: 'reboot' | 'kexec';
}

interface DeployFigures {
  toActiveMs: number;
  toInstanceMs: number | undefined;
  active: boolean;
  reboots: number;
  kexecs: number;
  powerChanges: number;
}

function groupsFor(options: FinalBootBenchOptions): Group[] {
  const groups: Group[] = [
    { name: 'cold', readiness: 'cold', finalBoot: 'reboot' },
    { name: 'fast-track', readiness: 'fast-track', finalBoot: 'reboot' },
  ];
  const readiness = options.warm ? 'warm' : 'fast-track';
  if (options.kexec) groups.push({ name: `${readiness} + kexec`, readiness, finalBoot: 'kexec' });
  else if (options.warm) groups.push({ name: 'warm', readiness, finalBoot: 'reboot' });
  return groups;
}

const KERNEL = '6.1.0-13-amd64';

export async function compareFinalBoots(options: FinalBootBenchOptions): Promise<void> {
  const groups = groupsFor(options);
  const perGroup = options.nodesPerGroup;
  const stack = await startBenchStack({
    count: perGroup * groups.length,
    powerDelayMs: options.powerDelayMs,
    postDelayMs: options.postDelayMs,
    light: options.light,
  });
  try {
    const imageFile = `${stack.scratch}/linux.raw`;
    const imageHash = await writeDiskImage(imageFile, options.imageBytes, { kernel: KERNEL });
    const images = await startImageServerProcess({ 'linux.raw': imageFile });
    console.log(
      `\nTempered final-boot benchmark: ${perGroup} ${options.light ? 'light ' : ''}lab nodes per group, ` +
        `POST ${options.postDelayMs / 1000} s, BMC power delay ${options.powerDelayMs} ms, ` +
        `${options.imageBytes / 1024 ** 2} MiB raw image with a kernel`,
    );
    const members = groups.map((_, g) => stack.uuids.slice(g * perGroup, (g + 1) * perGroup));
    let started = performance.now();
    await Promise.all(
      groups.flatMap((group, g) =>
        members[g].map((uuid) => prepare(stack, uuid, group, images.url('linux.raw'), imageHash)),
      ),
    );
    console.log(`nodes made ready (not measured): ${((performance.now() - started) / 1000).toFixed(1)} s`);

    started = performance.now();
    const figures = await Promise.all(
      groups.map((_, g) =>
        Promise.all(
          members[g].map((uuid) => deployOne(stack, uuid, stack.lab.machines[stack.uuids.indexOf(uuid)].machine)),
        ),
      ),
    );
    console.log(`all deploys done in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
    await images.close();

    const s = (ms: number | undefined) => (ms === undefined ? '—' : (ms / 1000).toFixed(1));
    const mean = (xs: number[]) => (xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(2);
    const rows = groups.map((group, g) => {
      const f = figures[g];
      const toActive = f.map((d) => d.toActiveMs).sort((a, b) => a - b);
      const toInstance = f.map((d) => d.toInstanceMs ?? Infinity).sort((a, b) => a - b);
      const finite = (ms: number) => (Number.isFinite(ms) ? ms : undefined);
      return [
        group.name,
        `${s(percentile(toActive, 50))} / ${s(toActive[toActive.length - 1])}`,
        `${s(finite(percentile(toInstance, 50)))} / ${s(finite(toInstance[toInstance.length - 1]))}`,
        mean(f.map((d) => d.reboots)),
        mean(f.map((d) => d.kexecs)),
        mean(f.map((d) => d.powerChanges)),
        String(f.filter((d) => !d.active).length),
      ];
    });
    console.log(
      table(
        [
          'deploy from',
          'to active s p50 / max',
          'to instance running s p50 / max',
          'reboots/deploy',
          'kexecs/deploy',
          'power changes/deploy',
          'not active',
        ],
        rows,
      ),
    );
  } finally {
    await stack.close();
  }
}

async function provision(stack: BenchStack, uuid: string, body: Record<string, unknown>): Promise<void> {
  await stack.call('PUT', `/v1/nodes/${uuid}/states/provision`, body, 202);
  await stack.client.workflow
    .getHandle(`node/${uuid}`)
    .result()
    .catch(() => undefined);
}

/** Cleans the node (leaving the agent up for fast-track), boots it into the agent for warm, sets the image and final boot. */
async function prepare(stack: BenchStack, uuid: string, group: Group, imageUrl: string, hash: string): Promise<void> {
  await stack.call('PATCH', `/v1/nodes/${uuid}`, {
    driver_info: { fast_track: group.readiness === 'fast-track' },
    instance_info: {
      image_source: imageUrl,
      image_os_hash_algo: 'sha256',
      image_os_hash_value: hash,
      image_disk_format: 'raw',
      final_boot: group.finalBoot,
    },
  });
  await provision(stack, uuid, { target: 'manage' });
  await provision(stack, uuid, { target: 'provide' });
  if (group.readiness === 'warm') await provision(stack, uuid, { target: 'boot' });
  const node = await stack.call('GET', `/v1/nodes/${uuid}`);
  if (node.provision_state !== 'available') throw new Error(`${node.name} not available: ${node.last_error}`);
}

async function deployOne(stack: BenchStack, uuid: string, machine: SimMachine): Promise<DeployFigures> {
  const before = await stack.call('GET', `/v1/nodes/${uuid}`);
  let powerChanges = 0;
  let instanceAt: number | undefined;
  const onPower = () => powerChanges++;
  const onBoot = (target: BootTarget) => {
    if (target === 'Hdd') instanceAt ??= performance.now();
  };
  const onKexec = () => (instanceAt ??= performance.now());
  machine.on('power', onPower);
  machine.on('boot', onBoot);
  machine.on('kexec', onKexec);
  const t0 = performance.now();
  try {
    await provision(stack, uuid, { target: 'active' });
    const toActiveMs = performance.now() - t0;
    // A rebooted instance is running only after its POST: wait for it, bounded.
    const deadline = performance.now() + Math.max(60_000, 3 * machine.postDelayMs);
    while (instanceAt === undefined && performance.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const after = await stack.call('GET', `/v1/nodes/${uuid}`);
    const counted = (key: string) =>
      Number(after.driver_internal_info[key] ?? 0) - Number(before.driver_internal_info[key] ?? 0);
    return {
      toActiveMs,
      toInstanceMs: instanceAt === undefined ? undefined : instanceAt - t0,
      active: after.provision_state === 'active',
      reboots: counted('boots'),
      kexecs: counted('kexecs'),
      powerChanges,
    };
  } finally {
    machine.off('power', onPower);
    machine.off('boot', onBoot);
    machine.off('kexec', onKexec);
  }
}
