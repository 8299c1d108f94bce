// The small interface every BMC driver implements. Activities call it; nothing above
// activities ever speaks a protocol.
import type { BootDevice, DriverDescription } from '../domain/drivers.js';
import type { PowerState, PowerTarget } from '../domain/power.js';
import type { StepResult } from '../domain/steps.js';
import type { BmcAccess } from '../domain/bmc-access.js';

export type { BootDevice } from '../domain/drivers.js';

/** Ironic's power targets; the API's three plus the graceful ones and a power cycle. */
export type BmcPowerTarget = PowerTarget | 'soft power off' | 'soft rebooting' | 'power cycle';

export type BootMode = 'uefi' | 'legacy';

export interface BootSettings {
  /** undefined: no override, the machine boots as its firmware is configured. */
  device: BootDevice | undefined;
  persistent: boolean;
  /** undefined when the BMC does not say. */
  mode: BootMode | undefined;
}

export interface Inventory {
  /** architecture: as Linux names it (x86_64, aarch64). */
  cpus: { count: number | undefined; model: string | undefined; architecture: string | undefined };
  memoryMiB: number | undefined;
  disks: { name: string; sizeBytes: number | undefined; model: string | undefined; serialNumber: string | undefined }[];
  nics: { name: string; macAddress: string }[];
}

export interface FirmwareUpdateRequest {
  /** Where the BMC downloads the image from. */
  imageUrl: string;
  /** Redfish paths of the firmware to update; default: the BMC decides from the image. */
  targets?: string[];
}
/** Between checks of a firmware update: the task monitor the BMC gave. */
export interface FirmwareUpdateState {
  taskMonitor: string;
}

export type BiosSettings = Record<string, string | number | boolean>;
/** Between checks of a BIOS change: the settings are staged and a reboot was requested. */
export interface BiosApplyState {
  staged: true;
}

export interface BmcPower {
  getPowerState(): Promise<PowerState>;
  /** Asks once and returns; the caller polls getPowerState. Asking for the state the machine is in succeeds. */
  setPowerState(target: BmcPowerTarget): Promise<void>;
}

export interface BmcBoot {
  setBootDevice(device: BootDevice, options: { persistent: boolean; mode?: BootMode }): Promise<void>;
  getBootDevice(): Promise<BootSettings>;
}

export interface BmcVirtualMedia {
  insertVirtualMedia(imageUrl: string): Promise<void>;
  /** Succeeds when nothing is inserted. */
  ejectVirtualMedia(): Promise<void>;
}

export interface BmcFirmware {
  /** Starts the update on the first call (no state), then follows its task. */
  updateFirmware(request: FirmwareUpdateRequest, state?: FirmwareUpdateState): Promise<StepResult<FirmwareUpdateState>>;
}

export interface BmcBios {
  getBiosSettings(): Promise<BiosSettings>;
  /** Stages the settings and reboots on the first call, then waits until the BIOS reports them. */
  applyBiosSettings(settings: BiosSettings, state?: BiosApplyState): Promise<StepResult<BiosApplyState>>;
}

export interface BmcInventory {
  getInventory(): Promise<Inventory>;
}

/**
 * A connection to one node's BMC, built from its driver_info: power and boot always, the other
 * interfaces exactly when the driver declares the matching capability (virtual_media, inventory,
 * firmware_update, bios); a BMC that lacks one at run time answers with a BmcError 'unsupported'.
 */
export interface Bmc
  extends BmcPower, BmcBoot, Partial<BmcVirtualMedia>, Partial<BmcFirmware>, Partial<BmcBios>, Partial<BmcInventory> {
  /** Proves the BMC answers with these credentials (used by verify). */
  validate(): Promise<void>;
}

export interface BmcTarget {
  nodeUuid: string;
  driverInfo: Record<string, unknown>;
  /** The operator's rules for BMC networks and CA bundles; absent: any network, no CA bundles. */
  access?: BmcAccess;
}

export interface BmcDriver {
  description: DriverDescription;
  connect(target: BmcTarget): Bmc;
}

/** Why a BMC call failed; the activity layer maps `retryable` onto Temporal's retry policy. */
export class BmcError extends Error {
  constructor(
    message: string,
    readonly kind: 'auth' | 'unreachable' | 'protocol' | 'unsupported',
  ) {
    super(message);
    this.name = 'BmcError';
  }

  get retryable(): boolean {
    return this.kind === 'unreachable';
  }
}
