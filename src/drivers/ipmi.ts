// The IPMI driver: power and boot device over IPMI 2.0 LAN through Debian's ipmitool, as Ironic
// does. The password reaches ipmitool through its environment (-E), never its command line.
import { execFile } from 'node:child_process';
import {
  checkDriverInfo,
  DRIVERS,
  integerValue,
  IPMI_DEFAULT_CIPHER_SUITE,
  IPMI_DEFAULT_PORT,
  type BootDevice,
} from '../domain/drivers.js';
import type { PowerState } from '../domain/power.js';
import { scrubSecret } from '../domain/secrets.js';
import { BmcError, type Bmc, type BmcDriver, type BmcPowerTarget, type BootMode, type BootSettings } from './types.js';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { isAddressAllowed } from '../domain/bmc-access.js';

export interface IpmiDriverOptions {
  /** The ipmitool program; default: `ipmitool` on the PATH. */
  ipmitool?: string;
  /** ipmitool's own retries of a LAN request (-R) and its wait for each answer in seconds (-N). */
  lanRetries?: number;
  lanTimeoutSeconds?: number;
  /** Hard limit for one ipmitool run, after which it is killed, so a wedged BMC never holds a worker. */
  commandTimeoutMs?: number;
}

const DEFAULTS: Required<IpmiDriverOptions> = {
  ipmitool: 'ipmitool',
  lanRetries: 2,
  lanTimeoutSeconds: 2,
  commandTimeoutMs: 30_000,
};

const BOOT_DEVICES: Partial<Record<BootDevice, string>> = { pxe: 'pxe', disk: 'disk', cdrom: 'cdrom', bios: 'bios' };
/** `chassis bootparam get 5` spells the boot device selector like this. */
const BOOT_SELECTORS: [RegExp, BootDevice][] = [
  [/Force PXE/i, 'pxe'],
  [/Hard-Drive/i, 'disk'],
  [/CD\/DVD/i, 'cdrom'],
  [/BIOS Setup/i, 'bios'],
];

/** Lines `ipmitool -v` prints on every call, which say nothing about a failure. */
const VERBOSE_NOISE = [/^Loading IANA PEN Registry/, /^Running Get VSO Capabilities/, /^Discovered IPMB address/];
/** Error kinds by what ipmitool prints, most specific first (an auth failure also prints "Unable to establish"). */
const ERROR_PATTERNS: [RegExp, BmcError['kind']][] = [
  [
    /RAKP 2 HMAC is invalid|unauthorized name|invalid user name|password|insufficient privilege|Activate Session error/i,
    'auth',
  ],
  [
    /Unable to establish|Get Auth Capabilities error|No response|Insufficient resources for session|timeout|Address lookup/i,
    'unreachable',
  ],
  [/Invalid command|not supported|Unsupported|Invalid data field/i, 'unsupported'],
];
const READING_HINTS: Record<BmcError['kind'], string> = {
  auth: 'rejected the user name or password',
  unreachable: 'did not answer',
  unsupported: 'does not support the command',
  protocol: 'failed the command',
};

interface IpmiDriverInfo {
  address: string;
  port: number;
  username: string | undefined;
  password: string | undefined;
  cipherSuite: number;
}

function parseDriverInfo(driverInfo: Record<string, unknown>): IpmiDriverInfo {
  const problem = checkDriverInfo('ipmi', driverInfo);
  if (problem) throw new BmcError(`${problem.field}: ${problem.message}`, 'protocol');
  const info = driverInfo as { ipmi_address: string; ipmi_username?: string; ipmi_password?: string };
  return {
    address: info.ipmi_address,
    port: integerValue(driverInfo.ipmi_port) ?? IPMI_DEFAULT_PORT,
    username: info.ipmi_username || undefined,
    password: info.ipmi_password || undefined,
    cipherSuite: integerValue(driverInfo.ipmi_cipher_suite) ?? IPMI_DEFAULT_CIPHER_SUITE,
  };
}

/** What ipmitool said about a failure: its stderr without the chatter -v adds. */
function failureText(stderr: string): string {
  const lines = stderr.split('\n').map((line) => line.trim());
  return lines
    .filter((line, i) => {
      if (line === '' || VERBOSE_NOISE.some((noise) => noise.test(line))) return false;
      // The VSO probe (DCMI/VITA) fails on most BMCs and is reported on the line after it.
      return !(
        /^Invalid completion code received/.test(line) && /^Running Get VSO Capabilities/.test(lines[i - 1] ?? '')
      );
    })
    .join('; ');
}

class IpmiConnection implements Bmc {
  readonly #info: IpmiDriverInfo;
  readonly #options: Required<IpmiDriverOptions>;

  readonly #allowedNetworks: readonly string[];

  constructor(info: IpmiDriverInfo, options: Required<IpmiDriverOptions>, allowedNetworks: readonly string[]) {
    this.#info = info;
    this.#options = options;
    this.#allowedNetworks = allowedNetworks;
  }

  /**
   * The address ipmitool is given: with allowed networks set, the BMC's name resolved here and
   * checked, and the checked IP passed on, so a DNS answer cannot change between check and use.
   */
  async #checkedAddress(): Promise<string> {
    const { address } = this.#info;
    if (this.#allowedNetworks.length === 0) return address;
    const resolved = isIP(address) ? [{ address }] : await lookup(address, { all: true }).catch(() => []);
    const allowed = resolved.find((a) => isAddressAllowed(a.address, this.#allowedNetworks));
    if (!allowed) throw this.#error('protocol', 'is outside the networks BMCs may be on (BMC_ALLOWED_NETWORKS)');
    return allowed.address;
  }

  async validate(): Promise<void> {
    await this.#run(['mc', 'info'], /IPMI Version/);
  }

  async getPowerState(): Promise<PowerState> {
    const output = await this.#run(['power', 'status'], /Chassis Power is (on|off)/);
    return /Chassis Power is on/.test(output) ? 'power on' : 'power off';
  }

  async setPowerState(target: BmcPowerTarget): Promise<void> {
    if (target === 'soft rebooting') throw this.#error('unsupported', 'soft reboot: IPMI has no graceful restart');
    const isOn = (await this.getPowerState()) === 'power on';
    const command = (
      {
        'power on': isOn ? undefined : 'on',
        'power off': isOn ? 'off' : undefined,
        'soft power off': isOn ? 'soft' : undefined,
        // A reboot or cycle of a machine that is off powers it on: IPMI would leave it off.
        rebooting: isOn ? 'reset' : 'on',
        'power cycle': isOn ? 'cycle' : 'on',
      } as const
    )[target];
    if (command) await this.#run(['power', command], /Chassis Power Control/);
  }

  async setBootDevice(
    device: BootDevice,
    { persistent, mode }: { persistent: boolean; mode?: BootMode },
  ): Promise<void> {
    const name = BOOT_DEVICES[device];
    if (!name)
      throw this.#error('unsupported', `boot device ${device}: IPMI offers ${Object.keys(BOOT_DEVICES).join(', ')}`);
    const flags = [...(persistent ? ['persistent'] : []), ...(mode === 'uefi' ? ['efiboot'] : [])];
    await this.#run(
      ['chassis', 'bootdev', name, ...(flags.length ? [`options=${flags.join(',')}`] : [])],
      /Set Boot Device to/,
    );
  }

  async getBootDevice(): Promise<BootSettings> {
    const output = await this.#run(['chassis', 'bootparam', 'get', '5'], /Boot Device Selector/);
    const selector = /Boot Device Selector\s*:\s*(.*)/.exec(output)?.[1] ?? '';
    return {
      device: BOOT_SELECTORS.find(([pattern]) => pattern.test(selector))?.[1],
      persistent: /all future boots/i.test(output),
      mode: /BIOS EFI boot/i.test(output) ? 'uefi' : /legacy/i.test(output) ? 'legacy' : undefined,
    };
  }

  /** Runs one ipmitool command; its stdout, which must match `success` (ipmitool exits 0 on some failures). */
  async #run(command: string[], success: RegExp): Promise<string> {
    const address = await this.#checkedAddress();
    const { port, username, password, cipherSuite } = this.#info;
    const { ipmitool, lanRetries, lanTimeoutSeconds, commandTimeoutMs } = this.#options;
    const args = [
      '-I',
      'lanplus',
      '-H',
      address,
      '-p',
      String(port),
      // An explicit suite: without one ipmitool asks for the list first, which some BMCs lack (10 s stall).
      '-C',
      String(cipherSuite),
      '-L',
      'ADMINISTRATOR',
      '-R',
      String(lanRetries),
      '-N',
      String(lanTimeoutSeconds),
      // Verbose, because only then does ipmitool tell a wrong password from an unreachable BMC.
      '-v',
      ...(username ? ['-U', username] : []),
      ...(password ? ['-E'] : []),
      ...command,
    ];
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      LC_ALL: 'C',
      ...(password ? { IPMI_PASSWORD: password } : {}),
    };
    const what = `ipmitool ${command.join(' ')}`;
    return new Promise((resolve, reject) => {
      execFile(ipmitool, args, { env, timeout: commandTimeoutMs, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
        if ((error as NodeJS.ErrnoException | null)?.code === 'ENOENT') {
          reject(
            new BmcError(
              `${ipmitool} is not installed on the worker; install Debian's ipmitool package (apt-get install ipmitool)`,
              'unsupported',
            ),
          );
          return;
        }
        if (error?.killed) {
          reject(this.#error('unreachable', `gave no answer to ${what} within ${commandTimeoutMs} ms`));
          return;
        }
        if (!error && success.test(stdout)) {
          resolve(stdout);
          return;
        }
        const detail = failureText(stderr) || stdout.trim() || `exit code ${error?.code ?? 0}`;
        const kind = ERROR_PATTERNS.find(([pattern]) => pattern.test(detail))?.[1] ?? 'protocol';
        reject(this.#error(kind, `${READING_HINTS[kind]} (${what}): ${detail}`));
      });
    });
  }

  /** Every failure names the BMC; the password is scrubbed in case a tool echoes it back. */
  #error(kind: BmcError['kind'], message: string): BmcError {
    const text = `IPMI BMC at ${this.#info.address}:${this.#info.port} ${message}`;
    return new BmcError(scrubSecret(text, this.#info.password), kind);
  }
}

export function createIpmiDriver(options: IpmiDriverOptions = {}): BmcDriver {
  const settings = { ...DEFAULTS, ...options };
  return {
    description: DRIVERS.ipmi,
    connect: ({ driverInfo, access }) =>
      new IpmiConnection(parseDriverInfo(driverInfo), settings, access?.allowedNetworks ?? []),
  };
}

export const ipmiDriver: BmcDriver = createIpmiDriver();
