// BIOS attributes: read the current ones, stage changes in the Settings object until the next boot.
import type { BiosValue, SimMachine } from '../machine.js';
import { systemPaths } from './paths.js';
import { link, noContent, RedfishRequestError, requireObject, type RouteTable } from './routes.js';

export function addBiosRoutes(routes: RouteTable, machine: SimMachine): void {
  const paths = systemPaths(machine.systemId);
  routes
    .resource(paths.bios, () => ({
      '@odata.id': paths.bios,
      '@odata.type': '#Bios.v1_1_0.Bios',
      Id: 'BIOS',
      Name: 'BIOS Configuration',
      Attributes: machine.biosAttributes,
      '@Redfish.Settings': { SettingsObject: link(paths.biosSettings) },
    }))
    .resource(paths.biosSettings, () => ({
      '@odata.id': paths.biosSettings,
      '@odata.type': '#Bios.v1_1_0.Bios',
      Id: 'Settings',
      Attributes: machine.pendingBiosAttributes,
    }))
    .patch(paths.biosSettings, (body) => {
      machine.stageBiosAttributes(parseAttributes(body, machine.biosAttributes));
      return noContent;
    });
}

/** Checks every attribute against the known ones before any is staged, so a bad one stages nothing. */
function parseAttributes(body: unknown, known: Readonly<Record<string, BiosValue>>): Record<string, BiosValue> {
  const attributes = requireObject(requireObject(body, 'a Bios PATCH').Attributes, 'Attributes');
  for (const [name, value] of Object.entries(attributes)) {
    if (!(name in known))
      throw new RedfishRequestError(400, 'Base.1.0.PropertyUnknown', `The BIOS attribute ${name} is not known.`);
    if (typeof value !== typeof known[name]) {
      throw new RedfishRequestError(
        400,
        'Base.1.0.PropertyValueTypeError',
        `The BIOS attribute ${name} must be a ${typeof known[name]}.`,
      );
    }
  }
  return attributes as Record<string, BiosValue>;
}
