// What each BMC driver declares: its capabilities and the schema of its driver_info.
// Pure data, so the API can validate nodes without loading any protocol code.

export const CAPABILITIES = ['power', 'reboot', 'boot_device'] as const;
export type Capability = (typeof CAPABILITIES)[number];

export interface DriverInfoField {
  name: string;
  required: boolean;
  secret: boolean;
  type: 'string' | 'boolean-or-string';
  description: string;
}

export interface DriverDescription {
  name: string;
  description: string;
  capabilities: readonly Capability[];
  bootDevices: readonly string[];
  driverInfo: readonly DriverInfoField[];
}

const field = (
  name: string,
  description: string,
  opts: Partial<Pick<DriverInfoField, 'required' | 'secret' | 'type'>> = {},
): DriverInfoField => ({ name, description, required: false, secret: false, type: 'string', ...opts });

export const DRIVERS: Readonly<Record<string, DriverDescription>> = {
  fake: {
    name: 'fake',
    description: 'No hardware: power and boot settings are kept in the worker\'s memory. For tests and demos.',
    capabilities: ['power', 'reboot', 'boot_device'],
    bootDevices: ['pxe', 'disk', 'cdrom'],
    driverInfo: [],
  },
  redfish: {
    name: 'redfish',
    description: 'DMTF Redfish over HTTP(S).',
    capabilities: ['power', 'reboot', 'boot_device'],
    bootDevices: ['pxe', 'disk', 'cdrom'],
    driverInfo: [
      field('redfish_address', 'BMC base URL, e.g. https://10.0.0.5 (http:// for emulators).', { required: true }),
      field('redfish_system_id', 'Path of the ComputerSystem, e.g. /redfish/v1/Systems/1; default: the only system.'),
      field('redfish_username', 'BMC user name.', { required: true }),
      field('redfish_password', 'BMC password.', { required: true, secret: true }),
      field('redfish_verify_ca', 'true, false, or the path of a CA bundle; default true.', {
        type: 'boolean-or-string',
      }),
    ],
  },
};

export const DRIVER_NAMES = Object.keys(DRIVERS);

export interface DriverInfoProblem {
  field: string;
  message: string;
}

/** The first problem with `info` for `driver`, or undefined when it is valid. */
export function checkDriverInfo(driver: string, info: Record<string, unknown>): DriverInfoProblem | undefined {
  const description = DRIVERS[driver];
  if (!description) return { field: 'driver', message: `unknown driver "${driver}"; known: ${DRIVER_NAMES.join(', ')}` };
  const known = new Map(description.driverInfo.map((f) => [f.name, f]));
  for (const [key, value] of Object.entries(info)) {
    const spec = known.get(key);
    if (!spec) return { field: `driver_info.${key}`, message: `unknown key for driver "${driver}"` };
    const ok = spec.type === 'string' ? typeof value === 'string' : typeof value === 'string' || typeof value === 'boolean';
    if (!ok) return { field: `driver_info.${key}`, message: `must be a ${spec.type.replaceAll('-', ' ')}` };
  }
  for (const spec of description.driverInfo) {
    if (spec.required && (info[spec.name] === undefined || info[spec.name] === '')) {
      return { field: `driver_info.${spec.name}`, message: `required by driver "${driver}": ${spec.description}` };
    }
  }
  return undefined;
}
