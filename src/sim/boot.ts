// The lab's boot model: a machine that powers on into the network (PXE, UEFI HTTP) or virtual
// media boots the ramdisk, which here means the agent program starts with the simulated
// platform, its disk the machine's disk file. Power off ends it as a power cut does; the agent
// can power the machine off, reboot it, or kexec into the instance.
//
// The agent runs either as its own process (the real program, as on a ramdisk), or — in a light
// lab — inside the lab's process: the same agent code, the same HTTP protocol to the same API
// (lookup, heartbeats, its own command listener), for a fraction of the memory, as Metal3's
// fake-ipa serves many machines from one process for scale tests.
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import os from 'node:os';
import pino from 'pino';
import { startAgent } from '../agent/agent.js';
import type { SimMachineMessage } from '../agent/main.js';
import { SimPlatform, type SimMachineControl } from '../agent/platform/sim.js';
import { sibling } from '../cli/paths.js';
import { createLogger, type Logger } from '../logger.js';
import { RAMDISK_BOOT_TARGETS, type BootTarget, type SimMachine, type SimPowerState } from './machine.js';

export interface AgentBootOptions {
  /** The Tempered API the agent looks up and heartbeats to. */
  apiUrl: string;
  /** The agents' JSON log lines are appended here; absent: discarded. */
  logFile?: string;
  /** The agent program, run by plain node; absent: the one beside this module, run as this process runs (compiled, or under tsx). */
  program?: string;
  /** Light lab: run the agents inside this process rather than one process per machine. */
  light?: boolean;
}

/** One booted agent; stop() is the power cut. */
interface BootedAgent {
  stop(): Promise<void>;
}

export type AgentLauncher = (machine: SimMachine, control: SimMachineControl) => BootedAgent;

/** How a lab runs the agents of its machines; made once per lab. */
export function agentLauncher(options: AgentBootOptions): AgentLauncher {
  return options.light ? inProcessLauncher(options) : agentProcessLauncher(options);
}

/** The real program in a process of its own; power off is SIGKILL. */
function agentProcessLauncher(options: AgentBootOptions): AgentLauncher {
  return (machine, control) => {
    const log = options.logFile ? openSync(options.logFile, 'a') : 'ignore';
    const args = [
      ...(options.program ? [options.program] : [...process.execArgv, sibling(import.meta.url, '../agent/main')]),
      ...['--platform', 'sim', '--api-url', options.apiUrl, '--listen', '127.0.0.1:0', '--advertise-host', '127.0.0.1'],
      ...[
        '--sim-disk',
        machine.diskPath,
        '--sim-macs',
        machine.macs.join(','),
        '--sim-serial',
        machine.diskSerial,
        '--scratch-dir',
        os.tmpdir(),
      ],
    ];
    const child = spawn(process.execPath, args, { stdio: ['ignore', log, log, 'ipc'] });
    if (typeof log === 'number') closeSync(log);
    child.on('message', (message: SimMachineMessage) => {
      if (message.type === 'power-off') control.powerOff();
      else if (message.type === 'reboot') control.reboot();
      else control.kexec(message.request);
    });
    return {
      async stop() {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGKILL');
        await exited;
      },
    };
  };
}

/**
 * The agent code inside this process. A power cut stops its heartbeats and closes its listener;
 * a command already running (an image write) runs to its end, unlike on a real machine.
 */
function inProcessLauncher(options: AgentBootOptions): AgentLauncher {
  const logger: Logger = options.logFile
    ? pino(
        { name: 'agent', level: process.env.LOG_LEVEL ?? 'info' },
        pino.destination({ dest: options.logFile, append: true, sync: false, mkdir: true }),
      )
    : createLogger('agent', 'silent');
  return (machine, control) => {
    const platform = new SimPlatform({
      diskPath: machine.diskPath,
      macs: machine.macs,
      serial: machine.diskSerial,
      scratchDir: os.tmpdir(),
      control,
    });
    const started = startAgent({
      apiUrl: options.apiUrl,
      platform,
      // The machine names its lines, as the pid does for an agent process.
      logger: logger.child({ machine: machine.id }),
      listenHost: '127.0.0.1',
      listenPort: 0,
    });
    started.catch((err: Error) => logger.error({ machine: machine.id, error: err.message }, 'agent did not start'));
    return {
      stop: () =>
        started.then(
          (agent) => agent.stop(),
          () => undefined,
        ),
    };
  };
}

/** Starts the agent whenever `machine` boots the ramdisk and stops it when the machine goes off; returns the detach. */
export function bootAgentOnRamdiskBoot(machine: SimMachine, launch: AgentLauncher): () => Promise<void> {
  let agent: BootedAgent | undefined;

  const stopAgent = async () => {
    const running = agent;
    agent = undefined;
    await running?.stop();
  };
  const control: SimMachineControl = {
    powerOff: () => machine.reset('ForceOff'),
    reboot: () => machine.reset('ForceRestart'),
    // kexec: the machine stays on, now running the deployed instance instead of the ramdisk.
    kexec: () => {
      machine.kexec();
      void stopAgent();
    },
  };

  const onPower = (state: SimPowerState) => {
    if (state === 'Off') void stopAgent();
  };
  const onBoot = (bootTarget: BootTarget) => {
    if (RAMDISK_BOOT_TARGETS.has(bootTarget)) agent = launch(machine, control);
  };
  machine.on('power', onPower);
  machine.on('boot', onBoot);
  return async () => {
    machine.off('power', onPower);
    machine.off('boot', onBoot);
    await stopAgent();
  };
}
