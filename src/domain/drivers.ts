// What each BMC driver declares: its capabilities and the schema of its driver_info.
// Pure data, so the API can validate nodes and publish the matrix without loading protocol code.
import { bmcHost, bmcHostProblem, parseVerifyCa, type BmcAccess } from './bmc-access.js';

export const CAPABILITIES = [
  'power',
  'reboot',
  'soft_power_off',
  'soft_reboot',
  'power_cycle',
  'boot_device',
  'persistent_boot_device',
  'boot_mode',
  'virtual_media',
  'inventory',
  'firmware_update',
  'bios',
] as const;
export type Capability = (typeof CAPABILITIES)[number];

export const CAPABILITY_DESCRIPTIONS: Readonly<Record<Capability, string>> = {
  power: 'read the power state; power on and off (forced)',
  reboot: 'hard reboot; rebooting a machine that is off powers it on',
  soft_power_off: 'ask the operating system to shut down (ACPI)',
  soft_reboot: 'ask the operating system to restart',
  power_cycle: 'power off, then on again',
  boot_device: 'set the next boot device (Ironic names: pxe, disk, cdrom, bios, uefi-http)',
  persistent_boot_device: 'keep the boot device for every boot, not only the next one',
  boot_mode: 'choose UEFI or Legacy (BIOS) boot along with the boot device',
  virtual_media: 'insert and eject an ISO by URL on the virtual CD (virtual-media and DHCP-less boot)',
  inventory: 'read CPUs, memory, disks and NICs with their MAC addresses out of band, for inspection',
  firmware_update: 'update firmware from an image URL, as an out-of-band step polled until its task ends',
  bios: 'read BIOS settings and apply new ones (applied by a reboot), as an out-of-band step',
};

export const BOOT_DEVICES = ['pxe', 'disk', 'cdrom', 'bios', 'uefi-http'] as const;
export type BootDevice = (typeof BOOT_DEVICES)[number];

/**
 * How a node is deployed: `agent` writes the image from the ramdisk's agent; `ramdisk` boots the
 * ramdisk as the instance; `fake` (Ironic's no-hardware mode) boots no ramdisk and writes
 * nothing, running only the BMC's out-of-band steps, so a whole lifecycle runs without an agent.
 */
export const DEPLOY_INTERFACES = ['agent', 'ramdisk', 'fake'] as const;
export type DeployInterface = (typeof DEPLOY_INTERFACES)[number];

/** Whether cleaning and deploying a node with this deploy interface boot the agent's ramdisk. */
export function bootsRamdisk(deployInterface: string): boolean {
  return deployInterface !== 'fake';
}

/**
 * How a node is inspected (Ironic's inspect_interface): `auto` reads what the BMC knows out of band
 * and boots the agent when that leaves CPUs, memory, disks or NICs unknown (or the driver reads no
 * inventory); `redfish` stays out of band; `agent` always boots the agent.
 */
export const INSPECT_INTERFACES = ['auto', 'redfish', 'agent'] as const;
export type InspectInterface = (typeof INSPECT_INTERFACES)[number];

export type DriverInfoType = 'string' | 'boolean' | 'boolean-or-string' | 'integer-or-string';

export interface DriverInfoField {
  name: string;
  required: boolean;
  secret: boolean;
  type: DriverInfoType;
  description: string;
  /** For integer-or-string fields: the inclusive range of the number. */
  range?: readonly [number, number];
  /** For string fields with a fixed vocabulary. */
  choices?: readonly string[];
  /** For string fields: the longest allowed, in bytes of UTF-8. */
  maxBytes?: number;
  /** The BMC's host: changing it needs the secret fields given again. */
  bmcAddress?: boolean;
}

export interface DriverDescription {
  name: string;
  description: string;
  capabilities: readonly Capability[];
  bootDevices: readonly BootDevice[];
  /** What a user of this driver must know that the capabilities do not say. */
  notes: readonly string[];
  driverInfo: readonly DriverInfoField[];
}

const field = (
  name: string,
  description: string,
  opts: Partial<Omit<DriverInfoField, 'name' | 'description'>> = {},
): DriverInfoField => ({ name, description, required: false, secret: false, type: 'string', ...opts });

/** Keys every driver takes: how Tempered treats the node, not how it reaches the BMC. */
const COMMON_DRIVER_INFO: readonly DriverInfoField[] = [
  field(
    'fast_track',
    "Cleaning leaves the agent running, so the node comes out of cleaning pre-booted; default: the worker's FAST_TRACK.",
    { type: 'boolean' },
  ),
];

/** The node's fast-track choice (driver_info.fast_track, true or false, also as a string), else `fallback`. */
export function fastTrackOf(driverInfo: Record<string, unknown>, fallback: boolean): boolean {
  const value = driverInfo.fast_track;
  return value === undefined ? fallback : value === true || value === 'true';
}

export const REDFISH_AUTH_TYPES = ['auto', 'basic', 'session'] as const;
export const IPMI_DEFAULT_PORT = 623;
/** Suite 3 (HMAC-SHA1, AES-CBC-128) is the one nearly every IPMI 2.0 BMC supports. */
export const IPMI_DEFAULT_CIPHER_SUITE = 3;

export const DRIVERS: Readonly<Record<string, DriverDescription>> = {
  fake: {
    name: 'fake',
    description: "No hardware: power and boot settings are kept in the worker's memory. For tests and demos.",
    capabilities: [
      'power',
      'reboot',
      'soft_power_off',
      'soft_reboot',
      'power_cycle',
      'boot_device',
      'persistent_boot_device',
      'boot_mode',
    ],
    bootDevices: BOOT_DEVICES,
    notes: ['Every change lands at once; state is lost when the worker restarts.'],
    driverInfo: COMMON_DRIVER_INFO,
  },
  redfish: {
    name: 'redfish',
    description:
      'DMTF Redfish over HTTP(S), for current Dell iDRAC, HPE iLO, Lenovo XCC, Supermicro and OpenBMC machines.',
    // Redfish is the one protocol that covers all of them.
    capabilities: CAPABILITIES,
    bootDevices: ['pxe', 'disk', 'cdrom', 'bios', 'uefi-http'],
    notes: [
      'Each power action uses a ResetType the system advertises, best first: reboot ForceRestart, GracefulRestart, PowerCycle; power cycle PowerCycle, else ForceRestart; power off ForceOff, else GracefulShutdown.',
      'Virtual media: the first CD/DVD device under the system, else under its manager; insert is skipped when the same image is already in.',
      'A boot device the system does not list in BootSourceOverrideTarget@Redfish.AllowableValues is refused before anything changes.',
      'Requests time out after 10 s; GET and PATCH are retried on 5xx and connection errors with backoff, POST only when the BMC surely did not act (connection refused, 503).',
    ],
    driverInfo: [
      field('redfish_address', 'BMC base URL, e.g. https://10.0.0.5 (no scheme means https; http:// for emulators).', {
        required: true,
        bmcAddress: true,
      }),
      field(
        'redfish_system_id',
        'Id or path of the ComputerSystem, e.g. /redfish/v1/Systems/1; default: the only member of /redfish/v1/Systems.',
      ),
      field('redfish_username', 'BMC user name.', { required: true }),
      field('redfish_password', 'BMC password.', { required: true, secret: true }),
      field(
        'redfish_verify_ca',
        'true (system CA store), false (no verification), or the path of a CA bundle on the worker; default true.',
        {
          type: 'boolean-or-string',
        },
      ),
      field(
        'redfish_auth_type',
        'basic, session (X-Auth-Token) or auto (session when the BMC offers a SessionService); default auto.',
        {
          choices: REDFISH_AUTH_TYPES,
        },
      ),
      ...COMMON_DRIVER_INFO,
    ],
  },
  ipmi: {
    name: 'ipmi',
    description: 'IPMI 2.0 over LAN (lanplus) through ipmitool, for older machines.',
    capabilities: [
      'power',
      'reboot',
      'soft_power_off',
      'power_cycle',
      'boot_device',
      'persistent_boot_device',
      'boot_mode',
    ],
    bootDevices: ['pxe', 'disk', 'cdrom', 'bios'],
    notes: [
      'Needs ipmitool on the worker (Debian: apt-get install ipmitool); the password reaches it through its environment, never its command line.',
      'Reboot is a hard reset (chassis power reset); a power cycle of a machine that is off leaves it off, as IPMI specifies.',
      'Many BMCs drop the persistent and efiboot flags of a boot device; the driver cannot tell.',
    ],
    driverInfo: [
      field('ipmi_address', 'BMC host name or IP address.', { required: true, bmcAddress: true }),
      field('ipmi_port', `UDP port of the BMC; default ${IPMI_DEFAULT_PORT}.`, {
        type: 'integer-or-string',
        range: [1, 65535],
      }),
      field('ipmi_username', 'BMC user name; default: the anonymous (null) user.', { maxBytes: 16 }),
      // IPMI 2.0 caps passwords at 20 bytes; ipmitool refuses longer ones.
      field('ipmi_password', 'BMC password (at most 20 bytes).', { secret: true, maxBytes: 20 }),
      field('ipmi_cipher_suite', `IPMI 2.0 cipher suite (ipmitool -C); default ${IPMI_DEFAULT_CIPHER_SUITE}.`, {
        type: 'integer-or-string',
        range: [0, 17],
      }),
      ...COMMON_DRIVER_INFO,
    ],
  },
};

export const DRIVER_NAMES = Object.keys(DRIVERS);

export interface DriverInfoProblem {
  field: string;
  message: string;
}

/** The whole number an integer-or-string value holds, or undefined when it holds none. */
export function integerValue(value: unknown): number | undefined {
  const number = typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
  return typeof number === 'number' && Number.isInteger(number) ? number : undefined;
}

function valueProblem(spec: DriverInfoField, value: unknown): string | undefined {
  switch (spec.type) {
    case 'string':
      if (typeof value !== 'string') return 'must be a string';
      if (spec.choices && !spec.choices.includes(value)) return `must be one of ${spec.choices.join(', ')}`;
      if (spec.maxBytes !== undefined && new TextEncoder().encode(value).length > spec.maxBytes)
        return `must be at most ${spec.maxBytes} bytes`;
      return undefined;
    case 'boolean':
      return [true, false, 'true', 'false'].includes(value as string) ? undefined : 'must be true or false';
    case 'boolean-or-string':
      return typeof value === 'string' || typeof value === 'boolean' ? undefined : 'must be a boolean or a string';
    case 'integer-or-string': {
      const number = integerValue(value);
      if (number === undefined) return 'must be a whole number (or a string of digits)';
      if (spec.range && (number < spec.range[0] || number > spec.range[1]))
        return `must be between ${spec.range[0]} and ${spec.range[1]}`;
      return undefined;
    }
  }
}

/** The first problem with `info` for `driver`, or undefined when it is valid. */
export function checkDriverInfo(driver: string, info: Record<string, unknown>): DriverInfoProblem | undefined {
  const description = Object.hasOwn(DRIVERS, driver) ? DRIVERS[driver] : undefined;
  if (!description)
    return { field: 'driver', message: `unknown driver "${driver}"; known: ${DRIVER_NAMES.join(', ')}` };
  const known = new Map(description.driverInfo.map((f) => [f.name, f]));
  for (const [key, value] of Object.entries(info)) {
    const spec = known.get(key);
    if (!spec) return { field: `driver_info.${key}`, message: `unknown key for driver "${driver}"` };
    const problem = valueProblem(spec, value);
    if (problem) return { field: `driver_info.${key}`, message: problem };
  }
  for (const spec of description.driverInfo) {
    if (spec.required && (info[spec.name] === undefined || info[spec.name] === '')) {
      return { field: `driver_info.${spec.name}`, message: `required by driver "${driver}": ${spec.description}` };
    }
  }
  return undefined;
}

/**
 * When `after` points the node at another BMC than `before`, the secret the body left as stored
 * (`keptSecrets`: dotted paths such as driver_info.redfish_password): otherwise the stored password
 * would be sent to whatever host the new address names.
 */
export function secretToGiveAgain(
  driver: string,
  before: Record<string, unknown>,
  after: Record<string, unknown>,
  keptSecrets: ReadonlySet<string>,
): DriverInfoProblem | undefined {
  const fields = Object.hasOwn(DRIVERS, driver) ? DRIVERS[driver].driverInfo : [];
  const moved = fields.find((f) => f.bmcAddress && before[f.name] !== after[f.name]);
  if (!moved) return undefined;
  const kept = fields.find((f) => f.secret && keptSecrets.has(`driver_info.${f.name}`));
  if (!kept) return undefined;
  return {
    field: `driver_info.${kept.name}`,
    message: `give ${kept.name} again along with the new ${moved.name}: a stored password is never sent to a new address`,
  };
}

/**
 * The first part of `info` the operator's BMC access rules refuse: an address (an IP literal)
 * outside the allowed networks, or a redfish_verify_ca that is no boolean nor a bundle in the CA
 * directory. Host names are checked when the driver resolves them.
 */
export function driverInfoAccessProblem(
  driver: string,
  info: Record<string, unknown>,
  access: BmcAccess,
): DriverInfoProblem | undefined {
  const fields = Object.hasOwn(DRIVERS, driver) ? DRIVERS[driver].driverInfo : [];
  for (const spec of fields) {
    const value = info[spec.name];
    if (!spec.bmcAddress || typeof value !== 'string') continue;
    const host = bmcHost(value);
    const problem = host && bmcHostProblem(host, access);
    if (problem) return { field: `driver_info.${spec.name}`, message: `${host} ${problem}` };
  }
  if (driver === 'redfish') {
    const verifyCa = parseVerifyCa(info.redfish_verify_ca, access);
    if (typeof verifyCa === 'object' && 'problem' in verifyCa)
      return { field: 'driver_info.redfish_verify_ca', message: verifyCa.problem };
  }
  return undefined;
}
