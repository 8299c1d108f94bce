import type { BmcDriver } from './types.js';
import { fakeDriver } from './fake.js';
import { ipmiDriver } from './ipmi.js';
import { redfishDriver } from './redfish.js';

const drivers: Record<string, BmcDriver> = Object.fromEntries(
  [fakeDriver, redfishDriver, ipmiDriver].map((driver) => [driver.description.name, driver]),
);

export function getDriver(name: string): BmcDriver {
  const driver = drivers[name];
  if (!driver) throw new Error(`no driver named "${name}"`);
  return driver;
}
