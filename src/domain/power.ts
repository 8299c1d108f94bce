// Power states use Ironic's names on the API and in the database.
export const POWER_STATES = ['power on', 'power off', 'error'] as const;
export type PowerState = (typeof POWER_STATES)[number];

/** What a caller may ask for with PUT /v1/nodes/{id}/states/power. */
export const POWER_TARGETS = ['power on', 'power off', 'rebooting'] as const;
export type PowerTarget = (typeof POWER_TARGETS)[number];

/** The power state a request settles in once the BMC has done its work. */
export function settledPowerState(target: PowerTarget): PowerState {
  return target === 'power off' ? 'power off' : 'power on';
}

/**
 * A boot's power cycle (off, then on) under a key naming that boot: the step of it the BMC last
 * took, kept on the node (driver_internal_info.boot_power_cycle). A power call that runs again
 * with the same key (its workflow task was lost and ran again) skips what is already done, so the
 * machine is never cycled twice under the agent the first cycle booted.
 */
export interface BootPowerCycle {
  /** The boot's key (not `key`: a field of that name is masked as a secret in the API). */
  boot: string;
  done: 'power off' | 'power on';
}

/** Whether `target` of the boot `key` needs no BMC call: it, or the step after it, was already taken. */
export function doneInBootCycle(recorded: unknown, key: string, target: PowerTarget): boolean {
  const cycle = recorded as Partial<BootPowerCycle> | undefined;
  if (cycle?.boot !== key) return false;
  return cycle.done === target || (target === 'power off' && cycle.done === 'power on');
}
