// A lab machine whose hardware is a QEMU virtual machine: when the machine's firmware starts its
// boot device (the BMC powered it on), QEMU starts with the inserted virtual CD (downloaded from
// its URL first, as a BMC does) or from the machine's disk; power off quits QEMU over QMP (a power
// cut); the guest powering off or resetting shows on the machine, and so through its BMC.
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream } from 'node:stream/web';
import { freePort } from '../../cli/ports.js';
import type { BootTarget, SimMachine } from '../machine.js';
import { QemuVm } from './vm.js';

export interface VmBootOptions {
  /** For the machine's UEFI variables, downloaded media, QMP socket and serial log. */
  dataDir: string;
  memoryMiB?: number;
  accel?: 'tcg' | 'kvm';
  /** Reports QEMU failures to start, which the machine cannot show otherwise. */
  onError?: (error: Error) => void;
}

export interface MachineVm {
  /** The guest's serial console, appended across boots. */
  serialLog: string;
  /** The loopback port forwarded to the agent in the guest; the agent advertises it. */
  agentHostPort: number;
  /** Quits any running VM and stops following the machine. */
  detach(): Promise<void>;
}

async function download(url: string, file: string): Promise<void> {
  const response = await fetch(url);
  if (!response.ok || !response.body) throw new Error(`virtual media ${url} answered HTTP ${response.status}`);
  await pipeline(Readable.fromWeb(response.body as ReadableStream), createWriteStream(file));
}

export async function runVmOnBoot(machine: SimMachine, options: VmBootOptions): Promise<MachineVm> {
  const agentHostPort = await freePort();
  const file = (suffix: string) => path.join(options.dataDir, `${machine.id}${suffix}`);
  const serialLog = file('-serial.log');
  let vm: QemuVm | undefined;
  // Power changes arrive faster than QEMU starts and stops: one at a time, in order.
  let queue = Promise.resolve();
  const enqueue = (work: () => Promise<void>) => {
    queue = queue.then(work).catch((error: Error) => options.onError?.(error));
  };

  const stop = async () => {
    const running = vm;
    vm = undefined;
    await running?.quit();
  };

  const start = async (target: BootTarget) => {
    await stop();
    const media = machine.virtualMedia;
    let isoPath: string | undefined;
    if (target === 'Cd' && media.inserted) {
      isoPath = file('-cd.iso');
      await download(media.image, isoPath);
    }
    const started = await QemuVm.start({
      name: machine.id,
      diskPath: machine.diskPath,
      varsPath: file('-efivars.fd'),
      isoPath,
      mac: machine.macs[0],
      agentHostPort,
      agentArgs: `--advertise-host 127.0.0.1 --advertise-port ${agentHostPort}`,
      serialLog,
      qmpSocket: file('.qmp'),
      memoryMiB: options.memoryMiB ?? 512,
      accel: options.accel ?? 'tcg',
    });
    vm = started;
    void started.exited.then((exit) => {
      if (vm !== started || exit === 'quit') return;
      // The guest itself powered off or rebooted (QEMU runs with -no-reboot): the machine follows.
      vm = undefined;
      machine.reset(exit === 'guest-reset' ? 'ForceRestart' : 'ForceOff');
    });
  };

  const onBoot = (target: BootTarget) => enqueue(() => start(target));
  const onPower = (state: 'On' | 'Off') => {
    if (state === 'Off') enqueue(stop);
  };
  machine.on('boot', onBoot);
  machine.on('power', onPower);
  return {
    serialLog,
    agentHostPort,
    async detach() {
      machine.off('boot', onBoot);
      machine.off('power', onPower);
      enqueue(stop);
      await queue;
      await rm(file('-cd.iso'), { force: true });
    },
  };
}
