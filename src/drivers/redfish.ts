// The Redfish driver: one interface module per capability (power, management, virtual media,
// firmware, BIOS, inventory) over a shared handle on the ComputerSystem, as Ironic's
// drivers/modules/redfish/ are over utils.get_system. The transport lives in redfish-client.ts.
import { checkDriverInfo, DRIVERS } from '../domain/drivers.js';
import { redfishBios } from './redfish/bios.js';
import { redfishFirmware } from './redfish/firmware.js';
import { redfishInventory } from './redfish/inventory.js';
import { redfishManagement } from './redfish/management.js';
import { redfishPower } from './redfish/power.js';
import { RedfishSystem } from './redfish/system.js';
import { redfishVirtualMedia } from './redfish/virtual-media.js';
import { RedfishClientPool, type RedfishAuthType, type RedfishEndpoint, type RetryPolicy } from './redfish-client.js';
import { BmcError, type Bmc, type BmcDriver } from './types.js';
import { ANY_BMC, parseVerifyCa, type BmcAccess } from '../domain/bmc-access.js';

export interface RedfishDriverOptions {
  /** Limit for each HTTP request, body included. */
  requestTimeoutMs?: number;
  retry?: RetryPolicy;
  /** How long a firmware update or BIOS change waits between checks. */
  stepPollSeconds?: number;
}

const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
const DEFAULT_RETRY: RetryPolicy = { attempts: 3, initialDelayMs: 500 };
const DEFAULT_STEP_POLL_SECONDS = 15;

interface RedfishDriverInfo extends RedfishEndpoint {
  systemId: string | undefined;
}

function parseDriverInfo(driverInfo: Record<string, unknown>, access: BmcAccess): RedfishDriverInfo {
  const problem = checkDriverInfo('redfish', driverInfo);
  if (problem) throw new BmcError(`${problem.field}: ${problem.message}`, 'protocol');
  const info = driverInfo as {
    redfish_address: string;
    redfish_system_id?: string;
    redfish_username: string;
    redfish_password: string;
    redfish_verify_ca?: boolean | string;
    redfish_auth_type?: RedfishAuthType;
  };
  // Like Ironic, an address without a scheme means https.
  const address = /^[a-z][a-z0-9+.-]*:\/\//i.test(info.redfish_address)
    ? info.redfish_address
    : `https://${info.redfish_address}`;
  const url = URL.canParse(address) ? new URL(address) : undefined;
  if (url?.protocol !== 'http:' && url?.protocol !== 'https:') {
    throw new BmcError(`driver_info.redfish_address: "${info.redfish_address}" is not an http(s) URL`, 'protocol');
  }
  // Checked again here, not only by the API: the operator's rules may have changed since it was stored.
  const verifyCa = parseVerifyCa(info.redfish_verify_ca, access);
  if (typeof verifyCa === 'object' && 'problem' in verifyCa)
    throw new BmcError(`driver_info.redfish_verify_ca ${verifyCa.problem}`, 'protocol');
  return {
    origin: url.origin,
    systemId: info.redfish_system_id || undefined,
    username: info.redfish_username,
    password: info.redfish_password,
    verifyCa,
    allowedNetworks: access.allowedNetworks,
    authType: info.redfish_auth_type ?? 'auto',
  };
}

function connectRedfish(info: RedfishDriverInfo, pool: RedfishClientPool, stepPollSeconds: number): Bmc {
  const system = new RedfishSystem(pool.client(info), info.systemId);
  const power = redfishPower(system);
  return {
    validate: async () => void (await system.get()),
    ...power,
    ...redfishManagement(system),
    ...redfishVirtualMedia(system),
    ...redfishFirmware(system, stepPollSeconds),
    ...redfishBios(system, power, stepPollSeconds),
    ...redfishInventory(system),
  };
}

export function createRedfishDriver(options: RedfishDriverOptions = {}): BmcDriver {
  const pool = new RedfishClientPool(
    options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
    options.retry ?? DEFAULT_RETRY,
  );
  const stepPollSeconds = options.stepPollSeconds ?? DEFAULT_STEP_POLL_SECONDS;
  return {
    description: DRIVERS.redfish,
    connect: ({ driverInfo, access }) =>
      connectRedfish(parseDriverInfo(driverInfo, access ?? ANY_BMC), pool, stepPollSeconds),
  };
}

export const redfishDriver: BmcDriver = createRedfishDriver();
