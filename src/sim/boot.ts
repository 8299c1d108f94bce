// The lab's boot model: a machine that powers on into the network (PXE, UEFI HTTP) or virtual
// media boots the ramdisk, which here means the agent program starts as a child process with
// the simulated platform, its disk the machine's disk file. Power off ends it as a power cut
// does (SIGKILL); the agent can power the machine off, reboot it, or kexec into the instance.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import os from 'node:os';
import type { SimMachineMessage } from '../agent/main.js';
import { sibling } from '../cli/paths.js';
import type { BootTarget, SimMachine, SimPowerState } from './machine.js';

export interface AgentBootOptions {
  /** The Tempered API the agent looks up and heartbeats to. */
  apiUrl: string;
  /** The agents' JSON log lines are appended here; absent: discarded. */
  logFile?: string;
  /** The agent program, run by plain node; absent: the one beside this module, run as this process runs (compiled, or under tsx). */
  program?: string;
}

/** Boot targets that load the ramdisk rather than the machine's own disk. */
const RAMDISK_BOOT_TARGETS: ReadonlySet<BootTarget> = new Set<BootTarget>(['Pxe', 'Cd', 'UefiHttp']);

/** Starts the agent whenever `machine` boots the ramdisk and stops it when the machine goes off; returns the detach. */
export function bootAgentOnRamdiskBoot(machine: SimMachine, options: AgentBootOptions): () => Promise<void> {
  let agent: ChildProcess | undefined;

  const stopAgent = async () => {
    const running = agent;
    agent = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
    running.kill('SIGKILL');
    await exited;
  };

  const startAgent = () => {
    const log = options.logFile ? openSync(options.logFile, 'a') : 'ignore';
    const args = [
      ...(options.program ? [options.program] : [...process.execArgv, sibling(import.meta.url, '../agent/main')]),
      ...['--platform', 'sim', '--api-url', options.apiUrl, '--listen', '127.0.0.1:0', '--advertise-host', '127.0.0.1'],
      ...['--sim-disk', machine.diskPath, '--sim-macs', machine.macs.join(','), '--sim-serial', machine.id, '--scratch-dir', os.tmpdir()],
    ];
    const child = spawn(process.execPath, args, { stdio: ['ignore', log, log, 'ipc'] });
    if (typeof log === 'number') closeSync(log);
    child.on('message', (message: SimMachineMessage) => {
      if (message.type === 'power-off') machine.reset('ForceOff');
      else if (message.type === 'reboot') machine.reset('ForceRestart');
      // kexec: the machine stays on, now running the deployed instance instead of the ramdisk.
      else void stopAgent();
    });
    agent = child;
  };

  const onPower = (state: SimPowerState) => {
    if (state === 'Off') void stopAgent();
  };
  const onBoot = (bootTarget: BootTarget) => {
    if (RAMDISK_BOOT_TARGETS.has(bootTarget)) startAgent();
  };
  machine.on('power', onPower);
  machine.on('boot', onBoot);
  return async () => {
    machine.off('power', onPower);
    machine.off('boot', onBoot);
    await stopAgent();
  };
}
