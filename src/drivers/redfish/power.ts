// Power: read the system's state and reset it with the best ResetType the BMC offers.
import type { PowerState } from '../../domain/power.js';
import type { BmcPower, BmcPowerTarget } from '../types.js';
import type { RedfishSystem } from './system.js';

type ResetIntent = 'on' | 'off' | 'soft off' | 'restart' | 'soft restart' | 'cycle';
/** ResetTypes that carry out each intent, best first; the BMC's advertised list picks among them. */
const RESET_TYPE_PREFERENCES: Record<ResetIntent, readonly string[]> = {
  on: ['On', 'ForceOn'],
  off: ['ForceOff', 'GracefulShutdown'],
  'soft off': ['GracefulShutdown'],
  restart: ['ForceRestart', 'GracefulRestart', 'PowerCycle'],
  'soft restart': ['GracefulRestart'],
  cycle: ['PowerCycle', 'ForceRestart'],
};

// Transitional states count as where the machine is heading, as in Ironic, so an idempotent
// request does not repeat a reset that is already under way.
const POWER_STATES = new Map<string | null | undefined, PowerState>([
  ['On', 'power on'],
  ['PoweringOn', 'power on'],
  ['Off', 'power off'],
  ['PoweringOff', 'power off'],
]);

function resetIntent(target: BmcPowerTarget, current: PowerState): ResetIntent | undefined {
  switch (target) {
    case 'power on':
      return current === 'power on' ? undefined : 'on';
    case 'power off':
      return current === 'power off' ? undefined : 'off';
    case 'soft power off':
      return current === 'power off' ? undefined : 'soft off';
    // Rebooting or cycling a machine that is off powers it on, as Ironic does.
    case 'rebooting':
      return current === 'power on' ? 'restart' : 'on';
    case 'soft rebooting':
      return current === 'power on' ? 'soft restart' : 'on';
    case 'power cycle':
      return current === 'power on' ? 'cycle' : 'on';
  }
}

export function redfishPower(system: RedfishSystem): BmcPower {
  const { client } = system;
  return {
    async getPowerState() {
      return POWER_STATES.get((await system.get()).system.PowerState) ?? 'error';
    },

    async setPowerState(target) {
      const { path, system: current } = await system.get();
      const intent = resetIntent(target, POWER_STATES.get(current.PowerState) ?? 'error');
      if (!intent) return;
      const reset = current.Actions?.['#ComputerSystem.Reset'];
      if (!reset) throw client.error('unsupported', `offers no ComputerSystem.Reset action on ${path}`);
      const offered = reset['ResetType@Redfish.AllowableValues'];
      const preferences = RESET_TYPE_PREFERENCES[intent];
      // A BMC that does not advertise its reset types gets the standard one.
      const resetType = offered ? preferences.find((type) => offered.includes(type)) : preferences[0];
      if (!resetType) {
        throw client.error(
          'unsupported',
          `cannot ${intent} the system: it offers reset types ${offered!.join(', ')}, none of ${preferences.join(', ')}`,
        );
      }
      await client.request('POST', reset.target, { ResetType: resetType });
    },
  };
}
