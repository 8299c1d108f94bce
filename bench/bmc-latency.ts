// Latency of single BMC calls per driver against its emulator, and throughput with many nodes
// called at once. Calls go straight through the drivers (no API, no Temporal), so the figures
// are the drivers' and the emulators' own.
//   npm run bench:bmc -- [--nodes 50] [--samples 30] [--rounds 5]
import os from 'node:os';
import { rm } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { ipmiDriver } from '../src/drivers/ipmi.js';
import { redfishDriver } from '../src/drivers/redfish.js';
import type { Bmc } from '../src/drivers/types.js';
import { startLab } from '../src/sim/lab.js';
import { scratchDir, startIpmiSim, startSushyEmulator } from '../test/compat/emulators.js';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '50' },
    samples: { type: 'string', default: '30' },
    rounds: { type: 'string', default: '5' },
  },
});
const nodeCount = Number(values.nodes);
const samples = Number(values.samples);
const rounds = Number(values.rounds);
const credentials = { username: 'admin', password: 'bench-pw' };

interface Target {
  name: string;
  bmcs: Bmc[];
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function time(call: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await call();
  return performance.now() - started;
}

/** p50/p95 in ms of `samples` sequential calls on one BMC; `between` runs untimed after each. */
async function latency(call: () => Promise<unknown>, between?: () => Promise<unknown>): Promise<string> {
  const durations: number[] = [];
  for (let i = 0; i < samples; i++) {
    durations.push(await time(call));
    await between?.();
  }
  durations.sort((a, b) => a - b);
  return `${percentile(durations, 50).toFixed(1).padStart(7)} ${percentile(durations, 95).toFixed(1).padStart(7)}`;
}

/** Calls per second with every BMC called `rounds` times, all BMCs at once. */
async function throughput(bmcs: Bmc[], call: (bmc: Bmc) => Promise<unknown>): Promise<string> {
  const started = performance.now();
  await Promise.all(
    bmcs.map(async (bmc) => {
      for (let i = 0; i < rounds; i++) await call(bmc);
    }),
  );
  return ((bmcs.length * rounds) / ((performance.now() - started) / 1000)).toFixed(0).padStart(8);
}

async function measure({ name, bmcs }: Target): Promise<void> {
  const [first] = bmcs;
  await first.validate();
  const status = await latency(() => first.getPowerState());
  // Power on from off every time: the untimed forced off in between resets the machine.
  const powerOn = await latency(
    () => first.setPowerState('power on'),
    () => first.setPowerState('power off'),
  );
  const boot = await latency(() => first.setBootDevice('pxe', { persistent: false }));
  const statusRate = await throughput(bmcs, (bmc) => bmc.getPowerState());
  const bootRate = await throughput(bmcs, (bmc) => bmc.setBootDevice('pxe', { persistent: false }));
  console.log(`${name.padEnd(26)} ${status}   ${powerOn}   ${boot}   ${statusRate} ${bootRate}`);
}

const labDir = await scratchDir('bench-lab');
const [sushy, lab, ipmiSims] = await Promise.all([
  startSushyEmulator({ systems: nodeCount, ...credentials }),
  startLab({ count: nodeCount, dataDir: labDir, ...credentials }),
  Promise.all(Array.from({ length: nodeCount }, () => startIpmiSim(credentials))),
]);
try {
  const redfishInfo = (address: string, systemId?: string) => ({
    redfish_address: address,
    redfish_username: credentials.username,
    redfish_password: credentials.password,
    ...(systemId ? { redfish_system_id: systemId } : {}),
  });
  const targets: Target[] = [
    {
      name: 'redfish → sushy-tools',
      bmcs: sushy.systems.map((s) =>
        redfishDriver.connect({ nodeUuid: s.uuid, driverInfo: redfishInfo(sushy.url, s.uuid) }),
      ),
    },
    {
      name: 'redfish → lab BMC',
      bmcs: lab.machines.map((m) => redfishDriver.connect({ nodeUuid: m.name, driverInfo: redfishInfo(m.bmcUrl) })),
    },
    {
      name: 'ipmi → ipmi_sim',
      bmcs: ipmiSims.map((sim) =>
        ipmiDriver.connect({
          nodeUuid: String(sim.port),
          driverInfo: {
            ipmi_address: '127.0.0.1',
            ipmi_port: sim.port,
            ipmi_username: credentials.username,
            ipmi_password: credentials.password,
          },
        }),
      ),
    },
  ];
  console.log(
    `\nBMC driver latency: ${samples} sequential calls on one node; throughput: ${nodeCount} nodes × ${rounds} calls at once; ${os.cpus().length} cores`,
  );
  console.log(
    `${'driver → emulator'.padEnd(26)} power status ms   power on ms       boot override ms  calls/s with ${nodeCount} nodes`,
  );
  console.log(`${''.padEnd(26)}     p50     p95       p50     p95       p50     p95     status     boot`);
  for (const target of targets) await measure(target);
} finally {
  await Promise.all([sushy.stop(), lab.close(), ...ipmiSims.map((sim) => sim.stop())]);
  await rm(labDir, { recursive: true, force: true });
}
