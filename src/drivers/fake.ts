// The fake driver: no hardware, state kept in this process. Like Ironic's fake-hardware.
import { DRIVERS } from '../domain/drivers.js';
import type { PowerState } from '../domain/power.js';
import { settledPowerState } from '../domain/power.js';
import type { BmcDriver } from './types.js';

const powerByNode = new Map<string, PowerState>();

export const fakeDriver: BmcDriver = {
  description: DRIVERS.fake,
  connect({ nodeUuid: key }) {
    return {
      async validate() {},
      async getPowerState() {
        return powerByNode.get(key) ?? 'power off';
      },
      async setPowerState(target) {
        powerByNode.set(key, settledPowerState(target));
      },
      async setBootDevice() {},
    };
  },
};
