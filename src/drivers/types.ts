// The small interface every BMC driver implements. Activities call it; nothing above
// activities ever speaks a protocol.
import type { DriverDescription } from '../domain/drivers.js';
import type { PowerState, PowerTarget } from '../domain/power.js';

export type BootDevice = 'pxe' | 'disk' | 'cdrom';

/** A connection to one node's BMC, built from its driver_info. */
export interface Bmc {
  /** Proves the BMC answers with these credentials (used by verify). */
  validate(): Promise<void>;
  getPowerState(): Promise<PowerState>;
  /** Idempotent: asking for the state the machine is already in succeeds. */
  setPowerState(target: PowerTarget): Promise<void>;
  setBootDevice(device: BootDevice, options: { persistent: boolean }): Promise<void>;
}

export interface BmcTarget {
  nodeUuid: string;
  driverInfo: Record<string, unknown>;
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
