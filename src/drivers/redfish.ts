// The Redfish driver: power, boot, virtual media, inventory, firmware and BIOS of one
// ComputerSystem. The transport (TLS, auth, retries) lives in redfish-client.ts.
import { z } from 'zod';
import { checkDriverInfo, DRIVERS, type BootDevice } from '../domain/drivers.js';
import type { PowerState } from '../domain/power.js';
import { RedfishClientPool, type RedfishAuthType, type RedfishClient, type RedfishEndpoint, type RetryPolicy } from './redfish-client.js';
import {
  BmcError,
  type BiosApplyState,
  type BiosSettings,
  type Bmc,
  type BmcDriver,
  type BmcPowerTarget,
  type BootMode,
  type BootSettings,
  type FirmwareUpdateRequest,
  type FirmwareUpdateState,
  type Inventory,
} from './types.js';
import { done, failed, rerunAfter, type StepResult } from '../domain/steps.js';

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
const ROOT_PATH = '/redfish/v1/';
const SYSTEMS_PATH = '/redfish/v1/Systems';

const BOOT_TARGETS: Record<BootDevice, string> = { pxe: 'Pxe', disk: 'Hdd', cdrom: 'Cd', bios: 'BiosSetup', 'uefi-http': 'UefiHttp' };
const BOOT_MODES: Record<BootMode, string> = { uefi: 'UEFI', legacy: 'Legacy' };

type ResetIntent = 'on' | 'off' | 'soft off' | 'restart' | 'soft restart' | 'cycle';
/** ResetTypes that carry out each intent, best first; the BMC's advertised list picks among them. */
const RESET_TYPE_PREFERENCES: Record<ResetIntent, readonly string[]> = {
  on: ['On', 'ForceOn'],
  off: ['ForceOff', 'GracefulShutdown'],
  'soft off': ['GracefulShutdown'],
  restart: ['ForceRestart', 'GracefulRestart', 'PowerCycle'],
  'soft restart': ['GracefulRestart'],
  cycle: ['PowerCycle', 'ForceRestart'],
};

// Transitional states count as where the machine is heading, as in Ironic, so an idempotent
// request does not repeat a reset that is already under way.
const POWER_STATES = new Map<string | null | undefined, PowerState>([
  ['On', 'power on'],
  ['PoweringOn', 'power on'],
  ['Off', 'power off'],
  ['PoweringOff', 'power off'],
]);

/** Task states after which a task will not change again. */
const TASK_FAILED_STATES = new Set(['Exception', 'Killed', 'Cancelled']);

const link = z.object({ '@odata.id': z.string() });
const collectionSchema = z.object({ Members: z.array(link) });
const actionSchema = z.object({ target: z.string() });
const computerSystemSchema = z.object({
  '@odata.type': z.string().optional(),
  PowerState: z.string().nullish(),
  Boot: z
    .object({
      BootSourceOverrideTarget: z.string().nullish(),
      BootSourceOverrideEnabled: z.string().nullish(),
      BootSourceOverrideMode: z.string().nullish(),
      'BootSourceOverrideTarget@Redfish.AllowableValues': z.array(z.string()).optional(),
      'BootSourceOverrideMode@Redfish.AllowableValues': z.array(z.string()).optional(),
    })
    .optional(),
  ProcessorSummary: z.object({ Count: z.number().nullish(), Model: z.string().nullish() }).optional(),
  MemorySummary: z.object({ TotalSystemMemoryGiB: z.number().nullish() }).optional(),
  Processors: link.optional(),
  Storage: link.optional(),
  SimpleStorage: link.optional(),
  EthernetInterfaces: link.optional(),
  VirtualMedia: link.optional(),
  Bios: link.optional(),
  Links: z.object({ ManagedBy: z.array(link).optional() }).optional(),
  Actions: z
    .object({
      '#ComputerSystem.Reset': actionSchema.extend({ 'ResetType@Redfish.AllowableValues': z.array(z.string()).optional() }).optional(),
    })
    .optional(),
});
type ComputerSystem = z.infer<typeof computerSystemSchema>;
const virtualMediaSchema = z.object({
  MediaTypes: z.array(z.string()).optional(),
  Image: z.string().nullish(),
  Inserted: z.boolean().nullish(),
  Actions: z
    .object({ '#VirtualMedia.InsertMedia': actionSchema.optional(), '#VirtualMedia.EjectMedia': actionSchema.optional() })
    .optional(),
});
const processorSchema = z.object({ Model: z.string().nullish(), TotalCores: z.number().nullish() });
const storageSchema = z.object({ Drives: z.array(link).optional() });
const driveSchema = z.object({
  Id: z.string().optional(),
  Name: z.string().optional(),
  CapacityBytes: z.number().nullish(),
  Model: z.string().nullish(),
  SerialNumber: z.string().nullish(),
});
const simpleStorageSchema = z.object({
  Devices: z.array(z.object({ Name: z.string().optional(), CapacityBytes: z.number().nullish(), Model: z.string().nullish() })).optional(),
});
const nicSchema = z.object({ Id: z.string().optional(), MACAddress: z.string().nullish(), PermanentMACAddress: z.string().nullish() });
const managerSchema = z.object({ VirtualMedia: link.optional() });
const serviceRootSchema = z.object({ UpdateService: link.optional() });
const updateServiceSchema = z.object({ Actions: z.object({ '#UpdateService.SimpleUpdate': actionSchema.optional() }).optional() });
const taskSchema = z.object({
  '@odata.id': z.string().optional(),
  TaskState: z.string().optional(),
  TaskStatus: z.string().optional(),
  Messages: z.array(z.object({ Message: z.string().optional() })).optional(),
});
const biosSchema = z.object({
  Attributes: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).default({}),
  '@Redfish.Settings': z.object({ SettingsObject: link.optional() }).optional(),
});

interface RedfishDriverInfo extends RedfishEndpoint {
  systemId: string | undefined;
}

function parseDriverInfo(driverInfo: Record<string, unknown>): RedfishDriverInfo {
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
  const address = /^[a-z][a-z0-9+.-]*:\/\//i.test(info.redfish_address) ? info.redfish_address : `https://${info.redfish_address}`;
  const url = URL.canParse(address) ? new URL(address) : undefined;
  if (url?.protocol !== 'http:' && url?.protocol !== 'https:') {
    throw new BmcError(`driver_info.redfish_address: "${info.redfish_address}" is not an http(s) URL`, 'protocol');
  }
  // Ironic's users write the flag as a string too.
  const verifyCa = info.redfish_verify_ca ?? true;
  return {
    origin: url.origin,
    systemId: info.redfish_system_id || undefined,
    username: info.redfish_username,
    password: info.redfish_password,
    verifyCa: typeof verifyCa === 'string' && /^(true|false)$/i.test(verifyCa) ? verifyCa.toLowerCase() === 'true' : verifyCa,
    authType: info.redfish_auth_type ?? 'auto',
  };
}

function resetIntent(target: BmcPowerTarget, current: PowerState): ResetIntent | undefined {
  switch (target) {
    case 'power on':
      return current === 'power on' ? undefined : 'on';
    case 'power off':
      return current === 'power off' ? undefined : 'off';
    case 'soft power off':
      return current === 'power off' ? undefined : 'soft off';
    // Rebooting or cycling a machine that is off powers it on, as Ironic does.
    case 'rebooting':
      return current === 'power on' ? 'restart' : 'on';
    case 'soft rebooting':
      return current === 'power on' ? 'soft restart' : 'on';
    case 'power cycle':
      return current === 'power on' ? 'cycle' : 'on';
  }
}

const optionalText = (value: string | null | undefined) => value ?? undefined;

class RedfishConnection implements Bmc {
  readonly #systemId: string | undefined;
  readonly #client: RedfishClient;
  readonly #stepPollSeconds: number;
  #systemPath: string | undefined;

  constructor(info: RedfishDriverInfo, client: RedfishClient, stepPollSeconds: number) {
    this.#systemId = info.systemId;
    this.#client = client;
    this.#stepPollSeconds = stepPollSeconds;
  }

  async validate(): Promise<void> {
    await this.#getSystem();
  }

  async getPowerState(): Promise<PowerState> {
    const { system } = await this.#getSystem();
    return POWER_STATES.get(system.PowerState) ?? 'error';
  }

  async setPowerState(target: BmcPowerTarget): Promise<void> {
    const { path, system } = await this.#getSystem();
    const intent = resetIntent(target, POWER_STATES.get(system.PowerState) ?? 'error');
    if (!intent) return;
    const reset = system.Actions?.['#ComputerSystem.Reset'];
    if (!reset) throw this.#client.error('unsupported', `offers no ComputerSystem.Reset action on ${path}`);
    const offered = reset['ResetType@Redfish.AllowableValues'];
    const preferences = RESET_TYPE_PREFERENCES[intent];
    // A BMC that does not advertise its reset types gets the standard one.
    const resetType = offered ? preferences.find((type) => offered.includes(type)) : preferences[0];
    if (!resetType) {
      throw this.#client.error(
        'unsupported',
        `cannot ${intent} the system: it offers reset types ${offered!.join(', ')}, none of ${preferences.join(', ')}`,
      );
    }
    await this.#client.request('POST', reset.target, { ResetType: resetType });
  }

  async setBootDevice(device: BootDevice, { persistent, mode }: { persistent: boolean; mode?: BootMode }): Promise<void> {
    const { path, system } = await this.#getSystem();
    const target = BOOT_TARGETS[device];
    const offeredTargets = system.Boot?.['BootSourceOverrideTarget@Redfish.AllowableValues'];
    if (offeredTargets && !offeredTargets.includes(target)) {
      throw this.#client.error('unsupported', `does not offer boot target ${target} on ${path} (offered: ${offeredTargets.join(', ')})`);
    }
    const offeredModes = system.Boot?.['BootSourceOverrideMode@Redfish.AllowableValues'];
    if (mode && offeredModes && !offeredModes.includes(BOOT_MODES[mode])) {
      throw this.#client.error('unsupported', `does not offer boot mode ${BOOT_MODES[mode]} on ${path} (offered: ${offeredModes.join(', ')})`);
    }
    await this.#client.request('PATCH', path, {
      Boot: {
        BootSourceOverrideTarget: target,
        BootSourceOverrideEnabled: persistent ? 'Continuous' : 'Once',
        ...(mode ? { BootSourceOverrideMode: BOOT_MODES[mode] } : {}),
      },
    });
  }

  async getBootDevice(): Promise<BootSettings> {
    const boot = (await this.#getSystem()).system.Boot;
    const enabled = boot?.BootSourceOverrideEnabled;
    const device = (Object.keys(BOOT_TARGETS) as BootDevice[]).find((d) => BOOT_TARGETS[d] === boot?.BootSourceOverrideTarget);
    const mode = (Object.keys(BOOT_MODES) as BootMode[]).find((m) => BOOT_MODES[m] === boot?.BootSourceOverrideMode);
    return { device: enabled === 'Disabled' ? undefined : device, persistent: enabled === 'Continuous', mode };
  }

  async insertVirtualMedia(imageUrl: string): Promise<void> {
    const { path, media } = await this.#virtualCd();
    if (media.Inserted && media.Image === imageUrl) return;
    if (media.Inserted) await this.#ejectMedia(path, media);
    const insert = media.Actions?.['#VirtualMedia.InsertMedia'];
    if (!insert) throw this.#client.error('unsupported', `offers no VirtualMedia.InsertMedia action on ${path}`);
    await this.#client.request('POST', insert.target, { Image: imageUrl, Inserted: true, WriteProtected: true });
  }

  async ejectVirtualMedia(): Promise<void> {
    const { path, media } = await this.#virtualCd();
    if (media.Inserted) await this.#ejectMedia(path, media);
  }

  async getInventory(): Promise<Inventory> {
    const { system } = await this.#getSystem();
    return {
      cpus: await this.#processors(system),
      memoryMiB: system.MemorySummary?.TotalSystemMemoryGiB == null ? undefined : Math.round(system.MemorySummary.TotalSystemMemoryGiB * 1024),
      disks: await this.#disks(system),
      nics: await this.#nics(system),
    };
  }

  async updateFirmware(request: FirmwareUpdateRequest, state?: FirmwareUpdateState): Promise<StepResult<FirmwareUpdateState>> {
    if (state) return this.#followTask(state);
    const root = this.#parse(serviceRootSchema, await this.#client.get(ROOT_PATH), `GET ${ROOT_PATH}`);
    if (!root.UpdateService) throw this.#client.error('unsupported', 'offers no UpdateService');
    const servicePath = root.UpdateService['@odata.id'];
    const service = this.#parse(updateServiceSchema, await this.#client.get(servicePath), `GET ${servicePath}`);
    const simpleUpdate = service.Actions?.['#UpdateService.SimpleUpdate'];
    if (!simpleUpdate) throw this.#client.error('unsupported', `offers no UpdateService.SimpleUpdate action on ${servicePath}`);
    const response = await this.#client.request('POST', simpleUpdate.target, {
      ImageURI: request.imageUrl,
      TransferProtocol: new URL(request.imageUrl).protocol.replace(':', '').toUpperCase(),
      ...(request.targets ? { Targets: request.targets } : {}),
    });
    // The task monitor comes in Location (202), or the task itself in the body; neither: done at once.
    const taskMonitor = response.location ?? taskSchema.safeParse(response.body).data?.['@odata.id'];
    return taskMonitor ? rerunAfter(this.#stepPollSeconds, { taskMonitor }) : done();
  }

  async getBiosSettings(): Promise<BiosSettings> {
    const { bios } = await this.#bios();
    return Object.fromEntries(Object.entries(bios.Attributes).filter((entry): entry is [string, string | number | boolean] => entry[1] !== null));
  }

  async applyBiosSettings(settings: BiosSettings, state?: BiosApplyState): Promise<StepResult<BiosApplyState>> {
    const { path, bios } = await this.#bios();
    if (Object.entries(settings).every(([name, value]) => bios.Attributes[name] === value)) return done();
    if (!state) {
      // Changes are staged in the settings resource and take effect when the machine next boots.
      await this.#client.request('PATCH', bios['@Redfish.Settings']?.SettingsObject?.['@odata.id'] ?? `${path}/Settings`, { Attributes: settings });
      await this.setPowerState('rebooting');
    }
    return rerunAfter(this.#stepPollSeconds, { staged: true });
  }

  async #followTask({ taskMonitor }: FirmwareUpdateState): Promise<StepResult<FirmwareUpdateState>> {
    const response = await this.#client.request('GET', taskMonitor);
    const task = taskSchema.safeParse(response.body).data;
    // A monitor answers 202 while the task runs; a task resource always 200 with its state.
    const state = task?.TaskState ?? (response.status === 202 ? 'Running' : 'Completed');
    const messages = (task?.Messages ?? []).flatMap((m) => m.Message ?? []).join('; ');
    if (TASK_FAILED_STATES.has(state) || (state === 'Completed' && task?.TaskStatus === 'Critical')) {
      return failed(this.#client.error('protocol', `failed the firmware update (task ${taskMonitor} ${state}): ${messages || 'no details'}`).message);
    }
    if (state === 'Completed') return done();
    return rerunAfter(this.#stepPollSeconds, { taskMonitor });
  }

  async #bios() {
    const { path: systemPath, system } = await this.#getSystem();
    if (!system.Bios) throw this.#client.error('unsupported', `offers no Bios resource on ${systemPath}`);
    const path = system.Bios['@odata.id'];
    return { path, bios: this.#parse(biosSchema, await this.#client.get(path), `GET ${path}`) };
  }

  async #ejectMedia(path: string, media: z.infer<typeof virtualMediaSchema>): Promise<void> {
    const eject = media.Actions?.['#VirtualMedia.EjectMedia'];
    if (!eject) throw this.#client.error('unsupported', `offers no VirtualMedia.EjectMedia action on ${path}`);
    await this.#client.request('POST', eject.target, {});
  }

  /** The virtual CD: under the system (sushy-tools, newer BMCs) or under its manager (most vendors). */
  async #virtualCd() {
    const { path: systemPath, system } = await this.#getSystem();
    let collectionLink = system.VirtualMedia;
    for (const manager of collectionLink ? [] : (system.Links?.ManagedBy ?? [])) {
      collectionLink = this.#parse(managerSchema, await this.#client.get(manager['@odata.id']), `GET ${manager['@odata.id']}`).VirtualMedia;
      if (collectionLink) break;
    }
    for (const path of collectionLink ? await this.#members(collectionLink['@odata.id']) : []) {
      const media = this.#parse(virtualMediaSchema, await this.#client.get(path), `GET ${path}`);
      if (media.MediaTypes?.some((type) => type === 'CD' || type === 'DVD')) return { path, media };
    }
    throw this.#client.error('unsupported', `offers no virtual CD for ${systemPath}`);
  }

  async #processors(system: ComputerSystem): Promise<Inventory['cpus']> {
    const summary = system.ProcessorSummary;
    if (summary?.Count != null) return { count: summary.Count, model: optionalText(summary.Model) };
    const paths = system.Processors ? await this.#optionalMembers(system.Processors['@odata.id']) : undefined;
    if (!paths?.length) return { count: undefined, model: undefined };
    const first = this.#parse(processorSchema, await this.#client.get(paths[0]), `GET ${paths[0]}`);
    return { count: paths.length, model: optionalText(first.Model) };
  }

  async #disks(system: ComputerSystem): Promise<Inventory['disks']> {
    const storages = system.Storage ? await this.#optionalMembers(system.Storage['@odata.id']) : undefined;
    if (storages) {
      const drives = [];
      for (const storagePath of storages) {
        const storage = this.#parse(storageSchema, await this.#client.get(storagePath), `GET ${storagePath}`);
        for (const { '@odata.id': drivePath } of storage.Drives ?? []) {
          const drive = this.#parse(driveSchema, await this.#client.get(drivePath), `GET ${drivePath}`);
          drives.push({
            name: drive.Name ?? drive.Id ?? drivePath,
            sizeBytes: drive.CapacityBytes ?? undefined,
            model: optionalText(drive.Model),
            serialNumber: optionalText(drive.SerialNumber),
          });
        }
      }
      return drives;
    }
    // Older BMCs describe disks only in SimpleStorage.
    const simple = system.SimpleStorage ? await this.#optionalMembers(system.SimpleStorage['@odata.id']) : undefined;
    const disks = [];
    for (const path of simple ?? []) {
      for (const device of this.#parse(simpleStorageSchema, await this.#client.get(path), `GET ${path}`).Devices ?? []) {
        disks.push({ name: device.Name ?? path, sizeBytes: device.CapacityBytes ?? undefined, model: optionalText(device.Model), serialNumber: undefined });
      }
    }
    return disks;
  }

  async #nics(system: ComputerSystem): Promise<Inventory['nics']> {
    const nics = [];
    for (const path of system.EthernetInterfaces ? await this.#members(system.EthernetInterfaces['@odata.id']) : []) {
      const nic = this.#parse(nicSchema, await this.#client.get(path), `GET ${path}`);
      const macAddress = nic.MACAddress ?? nic.PermanentMACAddress;
      if (macAddress) nics.push({ name: nic.Id ?? path, macAddress: macAddress.toLowerCase() });
    }
    return nics;
  }

  async #members(collectionPath: string): Promise<string[]> {
    return this.#parse(collectionSchema, await this.#client.get(collectionPath), `GET ${collectionPath}`).Members.map((m) => m['@odata.id']);
  }

  /** Members of a collection the BMC may not implement (404 or 501): undefined then. */
  async #optionalMembers(collectionPath: string): Promise<string[] | undefined> {
    const body = await this.#client.getOptional(collectionPath);
    return body === undefined ? undefined : this.#parse(collectionSchema, body, `GET ${collectionPath}`).Members.map((m) => m['@odata.id']);
  }

  async #getSystem(): Promise<{ path: string; system: ComputerSystem }> {
    const path = await this.#resolveSystemPath();
    const system = this.#parse(computerSystemSchema, await this.#client.get(path), `GET ${path}`);
    const type = system['@odata.type'];
    if (type && !type.includes('ComputerSystem.')) {
      throw this.#client.error('protocol', `has a ${type} at ${path}, not a ComputerSystem; check redfish_system_id`);
    }
    return { path, system };
  }

  async #resolveSystemPath(): Promise<string> {
    if (this.#systemPath) return this.#systemPath;
    const systemId = this.#systemId;
    if (systemId) {
      this.#systemPath = systemId.startsWith('/') ? systemId : `${SYSTEMS_PATH}/${encodeURIComponent(systemId)}`;
      return this.#systemPath;
    }
    const members = await this.#members(SYSTEMS_PATH);
    if (members.length !== 1) {
      throw this.#client.error(
        'protocol',
        members.length === 0
          ? 'lists no systems'
          : `manages ${members.length} systems (${members.join(', ')}); set redfish_system_id to choose one`,
      );
    }
    this.#systemPath = members[0];
    return this.#systemPath;
  }

  #parse<T>(schema: z.ZodType<T>, value: unknown, exchange: string): T {
    const result = schema.safeParse(value);
    if (!result.success) throw this.#client.error('protocol', `answered ${exchange} with an unexpected body: ${z.prettifyError(result.error)}`);
    return result.data;
  }
}

export function createRedfishDriver(options: RedfishDriverOptions = {}): BmcDriver {
  const pool = new RedfishClientPool(options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS, options.retry ?? DEFAULT_RETRY);
  const stepPollSeconds = options.stepPollSeconds ?? DEFAULT_STEP_POLL_SECONDS;
  return {
    description: DRIVERS.redfish,
    connect: ({ driverInfo }) => {
      const info = parseDriverInfo(driverInfo);
      return new RedfishConnection(info, pool.client(info), stepPollSeconds);
    },
  };
}

export const redfishDriver: BmcDriver = createRedfishDriver();
