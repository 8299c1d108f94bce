// Power sync: the rules of the periodic check that every node's BMC still reports the power state
// the node records (Ironic's _sync_power_states). Pure: the pace, whom to skip, when a silent BMC
// becomes a fault, and which BMC endpoint a node's calls count against.
/** What the operator configures; it travels as the Schedule's workflow argument. */
export interface PowerSyncSettings {
  /** Every eligible node is checked once per period. */
  periodSeconds: number;
  /** BMC calls per second over the whole fleet, at most. */
  maxCallsPerSecond: number;
  /** Calls to one BMC endpoint (scheme://host:port): at most this many per second… */
  perBmcHostCallsPerSecond: number;
  /** …and at most this many at once. */
  perBmcHostConcurrency: number;
  /** Consecutive failed checks after which the node gets fault "power failure" and maintenance. */
  failureLimit: number;
  /** Ironic's force_power_state_during_sync: set the BMC back to the recorded state instead of recording what it reports. */
  forcePowerState: boolean;
}

export const DEFAULT_POWER_SYNC_SETTINGS: PowerSyncSettings = {
  periodSeconds: 60,
  maxCallsPerSecond: 500,
  perBmcHostCallsPerSecond: 5,
  perBmcHostConcurrency: 2,
  // Ironic's [conductor]power_state_sync_max_retries.
  failureLimit: 3,
  forcePowerState: false,
};

/** The fault a node gets when its BMC stops answering (Ironic's faults.POWER_FAILURE). */
export const POWER_FAILURE_FAULT = 'power failure';

/** The share of the period a run spreads its calls over, leaving room for slow BMCs before the next run. */
const SPREAD_SHARE = 0.6;

/**
 * Calls per second a run of `nodeCount` checks goes at: spread over most of the period rather than
 * all at once (BMCs and the database see an even trickle), never above the global limit.
 */
export function syncCallsPerSecond(nodeCount: number, settings: PowerSyncSettings): number {
  const spread = nodeCount / (settings.periodSeconds * SPREAD_SHARE);
  return Math.min(settings.maxCallsPerSecond, Math.max(1, Math.ceil(spread)));
}

/** Whether a run at the global limit can check `nodeCount` nodes within the period at all. */
export function periodReachable(nodeCount: number, settings: PowerSyncSettings): boolean {
  return nodeCount / settings.maxCallsPerSecond <= settings.periodSeconds;
}

/**
 * The BMC endpoint a node's calls go to, so nodes behind one BMC (a chassis manager, an emulator
 * serving many systems) share its per-host limit; nodes without a network BMC each count alone.
 */
export function bmcHostKey(nodeUuid: string, driverInfo: Record<string, unknown>): string {
  const redfish = driverInfo.redfish_address;
  if (typeof redfish === 'string') {
    const address = /^[a-z][a-z0-9+.-]*:\/\//i.test(redfish) ? redfish : `https://${redfish}`;
    if (URL.canParse(address)) return new URL(address).origin;
  }
  const ipmi = driverInfo.ipmi_address;
  if (typeof ipmi === 'string') return `ipmi://${ipmi}:${String(driverInfo.ipmi_port ?? 623)}`;
  return `node:${nodeUuid}`;
}

/** After a failed check: how many in a row now, and whether that makes the BMC faulty. */
export function afterFailure(
  previousFailures: number,
  settings: PowerSyncSettings,
): { failures: number; fault: boolean } {
  const failures = previousFailures + 1;
  return { failures, fault: failures >= settings.failureLimit };
}

/** Checks of one run, counted; the workflow's result and what the Temporal UI shows. */
export interface PowerSyncTally {
  checked: number;
  unchanged: number;
  /** Recorded as found (or, forced, set back): the power changed behind our back. */
  changed: number;
  failed: number;
  /** Nodes that got fault "power failure" in this run. */
  faulted: number;
  /** Nodes whose "power failure" cleared because their BMC answers again. */
  recovered: number;
  /** Left alone because an operation holds them. */
  locked: number;
}

export const EMPTY_TALLY: PowerSyncTally = {
  checked: 0,
  unchanged: 0,
  changed: 0,
  failed: 0,
  faulted: 0,
  recovered: 0,
  locked: 0,
};

export function addTallies(a: PowerSyncTally, b: PowerSyncTally): PowerSyncTally {
  const sum = { ...a };
  for (const key of Object.keys(sum) as (keyof PowerSyncTally)[]) sum[key] += b[key];
  return sum;
}
