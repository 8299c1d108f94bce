// Management: the boot override (device, once or persistent, UEFI or legacy) of the system.
import type { BootDevice } from '../../domain/drivers.js';
import type { BmcBoot, BootMode } from '../types.js';
import type { RedfishSystem } from './system.js';

const BOOT_TARGETS: Record<BootDevice, string> = {
  pxe: 'Pxe',
  disk: 'Hdd',
  cdrom: 'Cd',
  bios: 'BiosSetup',
  'uefi-http': 'UefiHttp',
};
const BOOT_MODES: Record<BootMode, string> = { uefi: 'UEFI', legacy: 'Legacy' };

export function redfishManagement(system: RedfishSystem): BmcBoot {
  const { client } = system;
  return {
    async setBootDevice(device, { persistent, mode }) {
      const { path, system: current } = await system.get();
      const target = BOOT_TARGETS[device];
      const offeredTargets = current.Boot?.['BootSourceOverrideTarget@Redfish.AllowableValues'];
      if (offeredTargets && !offeredTargets.includes(target)) {
        throw client.error(
          'unsupported',
          `does not offer boot target ${target} on ${path} (offered: ${offeredTargets.join(', ')})`,
        );
      }
      const offeredModes = current.Boot?.['BootSourceOverrideMode@Redfish.AllowableValues'];
      if (mode && offeredModes && !offeredModes.includes(BOOT_MODES[mode])) {
        throw client.error(
          'unsupported',
          `does not offer boot mode ${BOOT_MODES[mode]} on ${path} (offered: ${offeredModes.join(', ')})`,
        );
      }
      await client.request('PATCH', path, {
        Boot: {
          BootSourceOverrideTarget: target,
          BootSourceOverrideEnabled: persistent ? 'Continuous' : 'Once',
          ...(mode ? { BootSourceOverrideMode: BOOT_MODES[mode] } : {}),
        },
      });
    },

    async getBootDevice() {
      const boot = (await system.get()).system.Boot;
      const enabled = boot?.BootSourceOverrideEnabled;
      const device = (Object.keys(BOOT_TARGETS) as BootDevice[]).find(
        (d) => BOOT_TARGETS[d] === boot?.BootSourceOverrideTarget,
      );
      const mode = (Object.keys(BOOT_MODES) as BootMode[]).find((m) => BOOT_MODES[m] === boot?.BootSourceOverrideMode);
      return { device: enabled === 'Disabled' ? undefined : device, persistent: enabled === 'Continuous', mode };
    },
  };
}
