// The fake driver: no hardware, state kept in this process. Like Ironic's fake-hardware.
import { DRIVERS } from '../domain/drivers.js';
import type { PowerState } from '../domain/power.js';
import type { BmcDriver, BootSettings } from './types.js';

const powerByNode = new Map<string, PowerState>();
const bootByNode = new Map<string, BootSettings>();

export const fakeDriver: BmcDriver = {
  description: DRIVERS.fake,
  connect({ nodeUuid: key }) {
    return {
      async validate() {},
      async getPowerState() {
        return powerByNode.get(key) ?? 'power off';
      },
      async setPowerState(target) {
        powerByNode.set(key, target === 'power off' || target === 'soft power off' ? 'power off' : 'power on');
      },
      async setBootDevice(device, { persistent, mode }) {
        bootByNode.set(key, { device, persistent, mode });
      },
      async getBootDevice() {
        return bootByNode.get(key) ?? { device: undefined, persistent: false, mode: undefined };
      },
    };
  },
};
