import type { BmcDriver } from './types.js';
import { fakeDriver } from './fake.js';
import { redfishDriver } from './redfish.js';

const drivers: Record<string, BmcDriver> = {
  [fakeDriver.description.name]: fakeDriver,
  [redfishDriver.description.name]: redfishDriver,
};

export function getDriver(name: string): BmcDriver {
  const driver = drivers[name];
  if (!driver) throw new Error(`no driver named "${name}"`);
  return driver;
}
