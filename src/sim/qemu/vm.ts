// One QEMU process: a small UEFI (OVMF) q35 machine with a virtio disk, an optional CD on
// virtio-scsi, one virtio NIC on QEMU's user-mode network (isolated inside the process: the host
// reaches the guest only through a port forwarded on 127.0.0.1, the guest reaches the host's
// loopback servers at 10.0.2.2), its serial console appended to a file, and QMP to quit it.
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, openSync, closeSync, rmSync } from 'node:fs';
import { QmpClient, type QmpEvent } from './qmp.js';

export const QEMU_BINARY = 'qemu-system-x86_64';
const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd';
const OVMF_VARS_TEMPLATE = '/usr/share/OVMF/OVMF_VARS_4M.fd';
/** Where the agent listens inside the guest (ironic-python-agent's port). */
export const GUEST_AGENT_PORT = 9999;
/** QEMU user-mode networking's address for the host's loopback, seen from the guest. */
export const HOST_FROM_GUEST = '10.0.2.2';

export interface VmOptions {
  name: string;
  diskPath: string;
  /** UEFI variables of this machine, kept across power cycles (created from OVMF's template). */
  varsPath: string;
  /** Present: a CD holding this ISO is attached and boots first. */
  isoPath?: string;
  mac: string;
  /** 127.0.0.1:hostPort is forwarded to the guest's agent port. */
  agentHostPort: number;
  /** Passed to the ramdisk's agent through fw_cfg (opt/tempered/agent_args). */
  agentArgs: string;
  serialLog: string;
  qmpSocket: string;
  memoryMiB: number;
  /** tcg (works everywhere) or kvm. */
  accel: 'tcg' | 'kvm';
}

/** Why QEMU stopped: the guest powered off, the guest reset (QEMU runs with -no-reboot), or we quit it. */
export type VmExit = 'guest-shutdown' | 'guest-reset' | 'quit';

export function qemuInstalled(): boolean {
  return (
    existsSync(OVMF_CODE) && (process.env.PATH ?? '').split(':').some((dir) => existsSync(`${dir}/${QEMU_BINARY}`))
  );
}

export function qemuArguments(options: VmOptions): string[] {
  return [
    ...['-name', options.name, '-machine', `q35,accel=${options.accel}`, '-m', String(options.memoryMiB), '-smp', '1'],
    ...['-nodefaults', '-display', 'none', '-no-reboot'],
    ...[
      '-drive',
      `if=pflash,format=raw,readonly=on,file=${OVMF_CODE}`,
      '-drive',
      `if=pflash,format=raw,file=${options.varsPath}`,
    ],
    ...['-chardev', `file,id=serial0,path=${options.serialLog},append=on`, '-serial', 'chardev:serial0'],
    ...['-qmp', `unix:${options.qmpSocket},server=on,wait=off`],
    ...['-device', 'virtio-scsi-pci,id=scsi0'],
    ...(options.isoPath
      ? [
          '-drive',
          `if=none,id=cd0,media=cdrom,readonly=on,file=${options.isoPath}`,
          '-device',
          'scsi-cd,drive=cd0,bootindex=1',
        ]
      : []),
    ...[
      '-drive',
      `if=none,id=disk0,format=raw,file=${options.diskPath}`,
      '-device',
      `virtio-blk-pci,drive=disk0,bootindex=2,serial=${options.name}-disk0`,
    ],
    ...['-netdev', `user,id=net0,hostfwd=tcp:127.0.0.1:${options.agentHostPort}-:${GUEST_AGENT_PORT}`],
    // No option ROM: the lab VM never boots from the network, and OVMF starts faster without it.
    ...['-device', `virtio-net-pci,netdev=net0,mac=${options.mac},romfile=`],
    ...['-fw_cfg', `name=opt/tempered/agent_args,string=${options.agentArgs}`],
  ];
}

export class QemuVm {
  readonly exited: Promise<VmExit>;
  readonly #process: ChildProcess;
  #qmp: QmpClient | undefined;
  #exit: VmExit = 'guest-shutdown';

  private constructor(options: VmOptions) {
    if (!existsSync(options.varsPath)) copyFileSync(OVMF_VARS_TEMPLATE, options.varsPath);
    rmSync(options.qmpSocket, { force: true });
    const log = openSync(`${options.serialLog}.qemu`, 'a');
    this.#process = spawn(QEMU_BINARY, qemuArguments(options), { stdio: ['ignore', log, log] });
    closeSync(log);
    this.exited = new Promise((resolve) => this.#process.once('exit', () => resolve(this.#exit)));
  }

  static async start(options: VmOptions): Promise<QemuVm> {
    const vm = new QemuVm(options);
    const early = vm.exited.then(() => {
      throw new Error(`QEMU exited at start; see ${options.serialLog}.qemu`);
    });
    vm.#qmp = await Promise.race([QmpClient.connect(options.qmpSocket, (event) => vm.#onEvent(event)), early]);
    return vm;
  }

  #onEvent(event: QmpEvent): void {
    if (event.event === 'SHUTDOWN' && this.#exit !== 'quit')
      this.#exit = event.data?.reason === 'guest-reset' ? 'guest-reset' : 'guest-shutdown';
  }

  /** A power cut: QEMU stops at once. Falls back to SIGKILL when QMP does not answer. */
  async quit(): Promise<void> {
    if (this.#process.exitCode !== null || this.#process.signalCode !== null) return;
    this.#exit = 'quit';
    await this.#qmp?.execute('quit').catch(() => this.#process.kill('SIGKILL'));
    await this.exited;
    this.#qmp?.close();
  }
}
