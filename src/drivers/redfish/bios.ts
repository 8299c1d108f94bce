// BIOS: settings staged in the Settings object, applied by a reboot, followed as a step that
// reruns until the BIOS reports them.
import { z } from 'zod';
import { done, rerunAfter } from '../../domain/steps.js';
import type { BiosSettings, BmcBios, BmcPower } from '../types.js';
import { linkSchema, type RedfishSystem } from './system.js';

const biosSchema = z.object({
  Attributes: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).default({}),
  '@Redfish.Settings': z.object({ SettingsObject: linkSchema.optional() }).optional(),
});

export function redfishBios(system: RedfishSystem, power: BmcPower, stepPollSeconds: number): BmcBios {
  const { client } = system;

  const readBios = async () => {
    const { path: systemPath, system: current } = await system.get();
    if (!current.Bios) throw client.error('unsupported', `offers no Bios resource on ${systemPath}`);
    const path = current.Bios['@odata.id'];
    return { path, bios: await client.getAs(biosSchema, path) };
  };

  return {
    async getBiosSettings() {
      const { bios } = await readBios();
      return Object.fromEntries(
        Object.entries(bios.Attributes).filter((entry): entry is [string, BiosSettings[string]] => entry[1] !== null),
      );
    },

    async applyBiosSettings(settings, state) {
      const { path, bios } = await readBios();
      if (Object.entries(settings).every(([name, value]) => bios.Attributes[name] === value)) return done();
      if (!state) {
        // Changes are staged in the settings resource and take effect when the machine next boots.
        await client.request('PATCH', bios['@Redfish.Settings']?.SettingsObject?.['@odata.id'] ?? `${path}/Settings`, {
          Attributes: settings,
        });
        await power.setPowerState('rebooting');
      }
      return rerunAfter(stepPollSeconds, { staged: true as const });
    },
  };
}
