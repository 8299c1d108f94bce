// One simulated lab machine: power, a boot override, NICs, a disk file, BIOS settings, firmware
// and a virtual CD. Its power model follows sushy-tools: a reset is accepted at once and takes
// effect after a delay.
import { EventEmitter } from 'node:events';
import { mkdir, open } from 'node:fs/promises';
import path from 'node:path';

export type SimPowerState = 'On' | 'Off';

export const BOOT_TARGETS = ['None', 'Pxe', 'Hdd', 'Cd', 'UefiHttp'] as const;
export type BootTarget = (typeof BOOT_TARGETS)[number];

export const BOOT_OVERRIDE_ENABLED = ['Disabled', 'Once', 'Continuous'] as const;
export type BootOverrideEnabled = (typeof BOOT_OVERRIDE_ENABLED)[number];

export const BOOT_MODES = ['UEFI', 'Legacy'] as const;
export type BootMode = (typeof BOOT_MODES)[number];

export interface BootOverride {
  target: BootTarget;
  enabled: BootOverrideEnabled;
  mode: BootMode;
}

/** What each Redfish ResetType does to the machine. */
const RESET_EFFECTS = {
  On: 'on',
  ForceOn: 'on',
  ForceOff: 'off',
  GracefulShutdown: 'off',
  ForceRestart: 'restart',
  GracefulRestart: 'restart',
  PowerCycle: 'restart',
} as const;
export type ResetType = keyof typeof RESET_EFFECTS;
export const RESET_TYPES = Object.keys(RESET_EFFECTS) as ResetType[];

/** Boot targets that load the ramdisk rather than the machine's own disk. */
export const RAMDISK_BOOT_TARGETS: ReadonlySet<BootTarget> = new Set<BootTarget>(['Pxe', 'Cd', 'UefiHttp']);

/** What the machine runs: nothing, its firmware's POST, the agent's ramdisk, or the deployed instance. */
export type SimSystem = 'off' | 'post' | 'ramdisk' | 'instance';

/** The device a machine boots from when no override is enabled: its own disk. */
const DEFAULT_BOOT_TARGET: BootTarget = 'Hdd';
/** Sparse, so free until written; 4 GiB is the smallest disk the agent takes for a root device. */
export const DEFAULT_DISK_SIZE_BYTES = 4 * 1024 ** 3;
const NICS_PER_MACHINE = 2;

export type BiosValue = string | number | boolean;
const INITIAL_BIOS_ATTRIBUTES: Readonly<Record<string, BiosValue>> = {
  BootMode: 'Uefi',
  ProcTurboMode: 'Enabled',
  LogicalProc: 'Enabled',
  SriovGlobalEnable: 'Disabled',
  NumLock: 'On',
};
export type FirmwareComponent = 'BIOS' | 'BMC';

export interface VirtualMedia {
  image: string;
  inserted: boolean;
}
const NO_MEDIA: VirtualMedia = { image: '', inserted: false };

export interface SimMachineOptions {
  /** Position in the lab; fixes the id, system UUID and MACs, so a restarted lab looks the same. */
  index: number;
  /** Folder for the disk file; created when missing. */
  diskDir: string;
  diskSizeBytes?: number;
  /** How long a power change takes to land after the BMC accepted it. */
  powerDelayMs?: number;
  /** How long the firmware takes (POST) from power on until it starts the boot device. */
  postDelayMs?: number;
  /** The reset types the BMC advertises and accepts; default all of RESET_TYPES. */
  resetTypes?: readonly ResetType[];
}

interface SimMachineEvents {
  /** Emitted on every power change. */
  power: [state: SimPowerState];
  /** Emitted when POST is over and the firmware starts `bootTarget`; not if the machine goes off first. */
  boot: [bootTarget: BootTarget];
  /** Emitted when the running ramdisk kexecs into the instance: no power change, no POST. */
  kexec: [];
}

export class SimMachine extends EventEmitter<SimMachineEvents> {
  readonly id: string;
  readonly systemId: string;
  readonly macs: readonly string[];
  readonly diskPath: string;
  readonly diskSizeBytes: number;
  readonly powerDelayMs: number;
  readonly postDelayMs: number;
  readonly resetTypes: readonly ResetType[];
  readonly cpus = { count: 4, model: 'Tempered Lab vCPU' };
  readonly memoryGiB = 8;

  #powerState: SimPowerState = 'Off';
  #bootOverride: BootOverride = { target: 'None', enabled: 'Disabled', mode: 'UEFI' };
  #pendingPowerChange: NodeJS.Timeout | undefined;
  #pendingBoot: NodeJS.Timeout | undefined;
  #bios: Record<string, BiosValue> = { ...INITIAL_BIOS_ATTRIBUTES };
  #pendingBios: Record<string, BiosValue> = {};
  #firmware: Record<FirmwareComponent, string> = { BIOS: '1.0.0', BMC: '1.0.0' };
  #virtualMedia: VirtualMedia = NO_MEDIA;
  #system: SimSystem = 'off';

  /** Builds the machine and creates its sparse disk file (kept, with its contents, if it exists). */
  static async create(options: SimMachineOptions): Promise<SimMachine> {
    const machine = new SimMachine(options);
    await mkdir(options.diskDir, { recursive: true });
    const disk = await open(machine.diskPath, 'a');
    try {
      await disk.truncate(machine.diskSizeBytes);
    } finally {
      await disk.close();
    }
    return machine;
  }

  private constructor(options: SimMachineOptions) {
    super();
    const { index } = options;
    if (!Number.isInteger(index) || index < 0 || index > 0xffff)
      throw new RangeError(`machine index ${index} out of 0..65535`);
    this.id = `lab-${String(index).padStart(3, '0')}`;
    this.systemId = `5e1ab000-0000-4000-8000-${index.toString(16).padStart(12, '0')}`;
    this.macs = Array.from({ length: NICS_PER_MACHINE }, (_, nic) =>
      ['52', '54', '00', index >> 8, index & 0xff, nic]
        .map((octet) => (typeof octet === 'string' ? octet : octet.toString(16).padStart(2, '0')))
        .join(':'),
    );
    this.diskSizeBytes = options.diskSizeBytes ?? DEFAULT_DISK_SIZE_BYTES;
    this.diskPath = path.join(options.diskDir, `${this.id}.img`);
    this.powerDelayMs = options.powerDelayMs ?? 0;
    this.postDelayMs = options.postDelayMs ?? 0;
    this.resetTypes = options.resetTypes ?? RESET_TYPES;
  }

  /** The disk's serial number, the same to the BMC and to the agent (and to QEMU, in the VM lab). */
  get diskSerial(): string {
    return `${this.id}-disk0`;
  }

  get powerState(): SimPowerState {
    return this.#powerState;
  }

  get system(): SimSystem {
    return this.#system;
  }

  /**
   * The ramdisk's kernel loads the instance's and jumps into it: the machine stays on, skips POST,
   * and runs the instance. Only a running ramdisk can do it.
   */
  kexec(): void {
    if (this.#system !== 'ramdisk') throw new Error(`${this.id} runs ${this.#system}: only a running ramdisk kexecs`);
    this.#system = 'instance';
    this.emit('kexec');
  }

  get bootOverride(): Readonly<BootOverride> {
    return { ...this.#bootOverride };
  }

  setBootOverride(change: Partial<BootOverride>): void {
    this.#bootOverride = { ...this.#bootOverride, ...change };
  }

  get biosAttributes(): Readonly<Record<string, BiosValue>> {
    return { ...this.#bios };
  }

  get pendingBiosAttributes(): Readonly<Record<string, BiosValue>> {
    return { ...this.#pendingBios };
  }

  /** Stages BIOS settings; they take effect when the machine next powers on, as on real servers. */
  stageBiosAttributes(changes: Readonly<Record<string, BiosValue>>): void {
    this.#pendingBios = { ...this.#pendingBios, ...changes };
  }

  get firmwareVersions(): Readonly<Record<FirmwareComponent, string>> {
    return { ...this.#firmware };
  }

  /** Flashes a new BIOS image: the patch level goes up by one. Returns the new version. */
  flashBios(): string {
    this.#firmware.BIOS = this.#firmware.BIOS.replace(/\d+$/, (patch) => String(Number(patch) + 1));
    return this.#firmware.BIOS;
  }

  get virtualMedia(): Readonly<VirtualMedia> {
    return { ...this.#virtualMedia };
  }

  insertMedia(image: string): void {
    this.#virtualMedia = { image, inserted: true };
  }

  ejectMedia(): void {
    this.#virtualMedia = NO_MEDIA;
  }

  /** Applies a Redfish reset. A newer reset replaces one still pending. */
  reset(type: ResetType): void {
    this.#cancelPendingPowerChange();
    const effect = RESET_EFFECTS[type];
    if (effect === 'restart') {
      this.#setPowerState('Off');
      this.#schedulePowerState('On');
    } else if ((effect === 'on') !== (this.#powerState === 'On')) {
      this.#schedulePowerState(effect === 'on' ? 'On' : 'Off');
    }
  }

  /** Drops any pending power change and boot, so nothing fires after the lab is closed. */
  stop(): void {
    this.#cancelPendingPowerChange();
    this.#cancelPendingBoot();
  }

  #cancelPendingBoot(): void {
    clearTimeout(this.#pendingBoot);
    this.#pendingBoot = undefined;
  }

  #cancelPendingPowerChange(): void {
    clearTimeout(this.#pendingPowerChange);
    this.#pendingPowerChange = undefined;
  }

  #schedulePowerState(state: SimPowerState): void {
    if (this.powerDelayMs <= 0) {
      this.#setPowerState(state);
      return;
    }
    this.#pendingPowerChange = setTimeout(() => {
      this.#pendingPowerChange = undefined;
      this.#setPowerState(state);
    }, this.powerDelayMs).unref();
  }

  #setPowerState(state: SimPowerState): void {
    if (state === this.#powerState) return;
    this.#powerState = state;
    this.#cancelPendingBoot();
    this.#system = state === 'On' ? 'post' : 'off';
    if (state === 'On') this.#applyPendingBios();
    this.emit('power', state);
    if (state === 'On') this.#scheduleBoot(this.#consumeBootTarget());
  }

  #applyPendingBios(): void {
    Object.assign(this.#bios, this.#pendingBios);
    this.#pendingBios = {};
  }

  /** A BMC reports the machine on at once; the boot device starts only after POST. */
  #scheduleBoot(bootTarget: BootTarget): void {
    const start = () => {
      this.#system = RAMDISK_BOOT_TARGETS.has(bootTarget) ? 'ramdisk' : 'instance';
      this.emit('boot', bootTarget);
    };
    if (this.postDelayMs <= 0) {
      start();
      return;
    }
    this.#pendingBoot = setTimeout(() => {
      this.#pendingBoot = undefined;
      start();
    }, this.postDelayMs).unref();
  }

  /** The device this boot uses; a "Once" override is spent by it, as on real BMCs. */
  #consumeBootTarget(): BootTarget {
    const { target, enabled } = this.#bootOverride;
    if (enabled === 'Disabled' || target === 'None') return DEFAULT_BOOT_TARGET;
    if (enabled === 'Once') this.#bootOverride.enabled = 'Disabled';
    return target;
  }
}
