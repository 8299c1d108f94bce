// The Redfish driver: power and boot device of one ComputerSystem over HTTP(S) with basic auth.
import { z } from 'zod';
import { checkDriverInfo, DRIVERS } from '../domain/drivers.js';
import type { PowerState, PowerTarget } from '../domain/power.js';
import { MASK } from '../domain/secrets.js';
import { BmcError, type Bmc, type BmcDriver, type BootDevice } from './types.js';

export interface RedfishDriverOptions {
  /** Limit for each HTTP request, body included. */
  requestTimeoutMs?: number;
}

const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
const SYSTEMS_PATH = '/redfish/v1/Systems';

const BOOT_TARGETS: Record<BootDevice, string> = { pxe: 'Pxe', disk: 'Hdd', cdrom: 'Cd' };

type ResetIntent = 'on' | 'off' | 'restart';
/** ResetTypes that carry out each intent, best first; the BMC's advertised list picks among them. */
const RESET_TYPE_PREFERENCES: Record<ResetIntent, readonly string[]> = {
  on: ['On', 'ForceOn'],
  off: ['ForceOff', 'GracefulShutdown'],
  restart: ['ForceRestart', 'GracefulRestart', 'PowerCycle'],
};
const RESET_INTENT_WORDS: Record<ResetIntent, string> = { on: 'power on', off: 'power off', restart: 'restart' };

// Transitional states count as where the machine is heading, as in Ironic, so an idempotent
// request does not repeat a reset that is already under way.
const POWER_STATES = new Map<string | null | undefined, PowerState>([
  ['On', 'power on'],
  ['PoweringOn', 'power on'],
  ['Off', 'power off'],
  ['PoweringOff', 'power off'],
]);

const systemCollectionSchema = z.object({ Members: z.array(z.object({ '@odata.id': z.string() })) });
const computerSystemSchema = z.object({
  '@odata.type': z.string().optional(),
  PowerState: z.string().nullish(),
  Boot: z.object({ 'BootSourceOverrideTarget@Redfish.AllowableValues': z.array(z.string()).optional() }).optional(),
  Actions: z
    .object({
      '#ComputerSystem.Reset': z
        .object({ target: z.string(), 'ResetType@Redfish.AllowableValues': z.array(z.string()).optional() })
        .optional(),
    })
    .optional(),
});
type ComputerSystem = z.infer<typeof computerSystemSchema>;
const redfishErrorSchema = z.object({
  error: z.object({
    message: z.string().optional(),
    '@Message.ExtendedInfo': z.array(z.object({ Message: z.string().optional() })).optional(),
  }),
});

interface RedfishDriverInfo {
  origin: string;
  systemId: string | undefined;
  username: string;
  password: string;
}

function parseDriverInfo(driverInfo: Record<string, unknown>): RedfishDriverInfo {
  const problem = checkDriverInfo('redfish', driverInfo);
  if (problem) throw new BmcError(`${problem.field}: ${problem.message}`, 'protocol');
  // redfish_verify_ca is accepted but not applied yet: https uses Node's default CA store, so
  // `false` (self-signed BMC certificates) is not honoured until the TLS issue lands.
  const info = driverInfo as {
    redfish_address: string;
    redfish_system_id?: string;
    redfish_username: string;
    redfish_password: string;
  };
  // Like Ironic, an address without a scheme means https.
  const address = /^[a-z][a-z0-9+.-]*:\/\//i.test(info.redfish_address) ? info.redfish_address : `https://${info.redfish_address}`;
  const url = URL.canParse(address) ? new URL(address) : undefined;
  if (url?.protocol !== 'http:' && url?.protocol !== 'https:') {
    throw new BmcError(`driver_info.redfish_address: "${info.redfish_address}" is not an http(s) URL`, 'protocol');
  }
  return {
    origin: url.origin,
    systemId: info.redfish_system_id || undefined,
    username: info.redfish_username,
    password: info.redfish_password,
  };
}

function resetIntent(target: PowerTarget, current: PowerState): ResetIntent | undefined {
  switch (target) {
    case 'power on':
      return current === 'power on' ? undefined : 'on';
    case 'power off':
      return current === 'power off' ? undefined : 'off';
    case 'rebooting':
      // Rebooting a machine that is off powers it on, as Ironic does.
      return current === 'power on' ? 'restart' : 'on';
  }
}

/** The readable text of a Redfish error body: its ExtendedInfo messages, else its message. */
function redfishErrorText(body: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  const result = redfishErrorSchema.safeParse(parsed);
  if (!result.success) return undefined;
  const messages = (result.data.error['@Message.ExtendedInfo'] ?? []).flatMap((info) => info.Message ?? []);
  return messages.length > 0 ? messages.join('; ') : result.data.error.message;
}

class RedfishConnection implements Bmc {
  readonly #info: RedfishDriverInfo;
  readonly #requestTimeoutMs: number;
  readonly #authorization: string;
  #systemPath: string | undefined;

  constructor(info: RedfishDriverInfo, requestTimeoutMs: number) {
    this.#info = info;
    this.#requestTimeoutMs = requestTimeoutMs;
    this.#authorization = `Basic ${Buffer.from(`${info.username}:${info.password}`).toString('base64')}`;
  }

  async validate(): Promise<void> {
    await this.#getSystem();
  }

  async getPowerState(): Promise<PowerState> {
    const { system } = await this.#getSystem();
    return POWER_STATES.get(system.PowerState) ?? 'error';
  }

  async setPowerState(target: PowerTarget): Promise<void> {
    const { path, system } = await this.#getSystem();
    const intent = resetIntent(target, POWER_STATES.get(system.PowerState) ?? 'error');
    if (!intent) return;
    const reset = system.Actions?.['#ComputerSystem.Reset'];
    if (!reset) throw this.#error('unsupported', `offers no ComputerSystem.Reset action on ${path}`);
    await this.#request('POST', reset.target, { ResetType: this.#chooseResetType(intent, reset['ResetType@Redfish.AllowableValues']) });
  }

  async setBootDevice(device: BootDevice, { persistent }: { persistent: boolean }): Promise<void> {
    const { path, system } = await this.#getSystem();
    const target = BOOT_TARGETS[device];
    const offered = system.Boot?.['BootSourceOverrideTarget@Redfish.AllowableValues'];
    if (offered && !offered.includes(target)) {
      throw this.#error('unsupported', `does not offer boot target ${target} on ${path} (offered: ${offered.join(', ')})`);
    }
    await this.#request('PATCH', path, {
      Boot: { BootSourceOverrideTarget: target, BootSourceOverrideEnabled: persistent ? 'Continuous' : 'Once' },
    });
  }

  #chooseResetType(intent: ResetIntent, offered: readonly string[] | undefined): string {
    const preferences = RESET_TYPE_PREFERENCES[intent];
    // A BMC that does not advertise its reset types gets the standard one.
    const chosen = offered ? preferences.find((type) => offered.includes(type)) : preferences[0];
    if (!chosen) {
      throw this.#error(
        'unsupported',
        `cannot ${RESET_INTENT_WORDS[intent]} the system: it offers reset types ${offered!.join(', ')}, none of ${preferences.join(', ')}`,
      );
    }
    return chosen;
  }

  async #getSystem(): Promise<{ path: string; system: ComputerSystem }> {
    const path = await this.#resolveSystemPath();
    const system = this.#parse(computerSystemSchema, await this.#request('GET', path), `GET ${path}`);
    const type = system['@odata.type'];
    if (type && !type.includes('ComputerSystem.')) {
      throw this.#error('protocol', `has a ${type} at ${path}, not a ComputerSystem; check redfish_system_id`);
    }
    return { path, system };
  }

  async #resolveSystemPath(): Promise<string> {
    if (this.#systemPath) return this.#systemPath;
    const { systemId } = this.#info;
    if (systemId) {
      this.#systemPath = systemId.startsWith('/') ? systemId : `${SYSTEMS_PATH}/${encodeURIComponent(systemId)}`;
      return this.#systemPath;
    }
    const members = this.#parse(systemCollectionSchema, await this.#request('GET', SYSTEMS_PATH), `GET ${SYSTEMS_PATH}`)
      .Members.map((member) => member['@odata.id']);
    if (members.length !== 1) {
      throw this.#error(
        'protocol',
        members.length === 0
          ? 'lists no systems'
          : `manages ${members.length} systems (${members.join(', ')}); set redfish_system_id to choose one`,
      );
    }
    this.#systemPath = members[0];
    return this.#systemPath;
  }

  /** One HTTP exchange; the parsed JSON body of a 2xx answer, undefined when it has none. */
  async #request(method: 'GET' | 'POST' | 'PATCH', path: string, body?: unknown): Promise<unknown> {
    const exchange = `${method} ${path}`;
    const url = new URL(path, this.#info.origin);
    // Links come from the BMC; never send the credentials to another host it names.
    if (url.origin !== this.#info.origin) throw this.#error('protocol', `links to ${url.origin}, outside the BMC`);
    let response: Response;
    let text: string;
    try {
      response = await fetch(url, {
        method,
        headers: {
          Authorization: this.#authorization,
          Accept: 'application/json',
          'OData-Version': '4.0',
          ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.#requestTimeoutMs),
      });
      text = await response.text();
    } catch (error) {
      if (error instanceof Error && error.name === 'TimeoutError') {
        throw this.#error('unreachable', `gave no answer to ${exchange} within ${this.#requestTimeoutMs} ms`);
      }
      // fetch reports network failures as "fetch failed" with the system error as the cause.
      const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
      const reason = cause instanceof Error ? ((cause as NodeJS.ErrnoException).code ?? cause.message) : String(cause);
      throw this.#error('unreachable', `could not be reached for ${exchange}: ${reason}`);
    }
    if (response.status === 401 || response.status === 403) {
      throw this.#error('auth', `rejected the credentials for user ${this.#info.username} (HTTP ${response.status})`);
    }
    if (!response.ok) {
      const detail = redfishErrorText(text) ?? (response.statusText || 'no details');
      // 501 means the BMC lacks the feature, which retrying will not change.
      const kind = response.status === 501 ? 'unsupported' : response.status >= 500 ? 'unreachable' : 'protocol';
      throw this.#error(kind, `answered ${exchange} with HTTP ${response.status}: ${detail}`);
    }
    if (text.trim() === '') return undefined;
    try {
      return JSON.parse(text);
    } catch {
      throw this.#error('protocol', `answered ${exchange} with a body that is not JSON`);
    }
  }

  #parse<T>(schema: z.ZodType<T>, value: unknown, exchange: string): T {
    const result = schema.safeParse(value);
    if (!result.success) throw this.#error('protocol', `answered ${exchange} with an unexpected body: ${z.prettifyError(result.error)}`);
    return result.data;
  }

  /** Every failure names the BMC; the password is scrubbed in case a BMC echoes it back. */
  #error(kind: BmcError['kind'], message: string): BmcError {
    const text = `BMC at ${this.#info.origin} ${message}`;
    return new BmcError(this.#info.password ? text.replaceAll(this.#info.password, MASK) : text, kind);
  }
}

export function createRedfishDriver(options: RedfishDriverOptions = {}): BmcDriver {
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  return {
    description: DRIVERS.redfish,
    connect: ({ driverInfo }) => new RedfishConnection(parseDriverInfo(driverInfo), requestTimeoutMs),
  };
}

export const redfishDriver: BmcDriver = createRedfishDriver();
