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
