// An emulated Redfish BMC for one SimMachine, modelled on sushy-tools' fake driver, and
// close enough to the DMTF schema that sushy (Ironic's client), redfishtool and our driver work.
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  BOOT_MODES,
  BOOT_OVERRIDE_ENABLED,
  BOOT_TARGETS,
  type BootOverride,
  type ResetType,
  type SimMachine,
} from './machine.js';

export interface RedfishBmcOptions {
  /** 0 or absent: a free port. */
  port?: number;
  username: string;
  password: string;
}

export interface RedfishBmc {
  /** Base URL to put in driver_info.redfish_address, e.g. http://127.0.0.1:41234 */
  url: string;
  port: number;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1024 * 1024;
const ROOT = '/redfish/v1';
const SYSTEMS = `${ROOT}/Systems`;
const MANAGERS = `${ROOT}/Managers`;
const CHASSIS = `${ROOT}/Chassis`;
const SESSION_SERVICE = `${ROOT}/SessionService`;
const SESSIONS = `${SESSION_SERVICE}/Sessions`;
const UPDATE_SERVICE = `${ROOT}/UpdateService`;
const TASK_SERVICE = `${ROOT}/TaskService`;
const TASKS = `${TASK_SERVICE}/Tasks`;
const MANAGER_ID = 'BMC';
const CHASSIS_ID = 'Chassis';

const link = (path: string) => ({ '@odata.id': path });
const collection = (path: string, type: string, name: string, members: string[]) => ({
  '@odata.id': path,
  '@odata.type': `#${type}.${type}`,
  Name: name,
  'Members@odata.count': members.length,
  Members: members.map(link),
});
const healthy = { State: 'Enabled', Health: 'OK' };

/** A failed request, answered with a Redfish error body. */
class RedfishRequestError extends Error {
  constructor(
    readonly status: number,
    readonly messageId: string,
    message: string,
  ) {
    super(message);
  }
}

/** The DMTF error shape: a general code with the specific messages in @Message.ExtendedInfo. */
function redfishErrorBody(messageId: string, message: string) {
  return {
    error: {
      code: 'Base.1.0.GeneralError',
      message: 'A general error has occurred. See ExtendedInfo for more information.',
      '@Message.ExtendedInfo': [
        { '@odata.type': '#Message.v1_0_0.Message', MessageId: messageId, Message: message, Severity: 'Critical' },
      ],
    },
  };
}

interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';
type Handler = (body: unknown) => Reply | Promise<Reply>;
interface Route {
  /** Methods reachable without credentials: reading the service root, logging in. */
  publicMethods?: Method[];
  methods: Partial<Record<Method, Handler>>;
}

const ok = (body: unknown): Reply => ({ status: 200, body });
const noContent: Reply = { status: 204 };
const unauthorized: Reply = {
  status: 401,
  headers: { 'WWW-Authenticate': 'Basic realm="Redfish"' },
  body: redfishErrorBody('Base.1.0.NoValidSession', 'There is no valid session established with the implementation.'),
};

function requireObject(body: unknown, what: string): Record<string, unknown> {
  if (body && typeof body === 'object' && !Array.isArray(body)) return body as Record<string, unknown>;
  throw new RedfishRequestError(400, 'Base.1.0.MalformedJSON', `The request body for ${what} must be a JSON object.`);
}

function requireOneOf<T extends string>(value: unknown, allowed: readonly T[], property: string): T {
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  throw new RedfishRequestError(
    400,
    'Base.1.0.PropertyValueNotInList',
    `The value ${JSON.stringify(value)} for the property ${property} is not in the list of acceptable values: ${allowed.join(', ')}.`,
  );
}

const BOOT_PROPERTIES: Record<string, (value: unknown) => Partial<BootOverride>> = {
  BootSourceOverrideTarget: (value) => ({ target: requireOneOf(value, BOOT_TARGETS, 'BootSourceOverrideTarget') }),
  BootSourceOverrideEnabled: (value) => ({
    enabled: requireOneOf(value, BOOT_OVERRIDE_ENABLED, 'BootSourceOverrideEnabled'),
  }),
  BootSourceOverrideMode: (value) => ({ mode: requireOneOf(value, BOOT_MODES, 'BootSourceOverrideMode') }),
};

/** Validates a whole PATCH before applying any of it, so a bad field changes nothing. */
function parseBootPatch(body: unknown): Partial<BootOverride> {
  const { Boot: boot, ...others } = requireObject(body, 'a ComputerSystem PATCH');
  const unknown = Object.keys(others);
  if (unknown.length > 0 || boot === undefined) {
    throw new RedfishRequestError(
      400,
      'Base.1.0.PropertyNotWritable',
      unknown.length > 0
        ? `The properties ${unknown.join(', ')} are not writable; only Boot is.`
        : 'The PATCH carries no Boot property; only Boot is writable.',
    );
  }
  return Object.entries(requireObject(boot, 'Boot')).reduce<Partial<BootOverride>>((change, [property, value]) => {
    const parse = BOOT_PROPERTIES[property];
    if (!parse) throw new RedfishRequestError(400, 'Base.1.0.PropertyUnknown', `The property Boot.${property} is not known.`);
    return { ...change, ...parse(value) };
  }, {});
}

function buildRoutes(machine: SimMachine, sessions: SessionStore, outOfBand: OutOfBand): Map<string, Route> {
  const systemPath = `${SYSTEMS}/${machine.systemId}`;
  const resetPath = `${systemPath}/Actions/ComputerSystem.Reset`;
  const nicsPath = `${systemPath}/EthernetInterfaces`;
  const managerPath = `${MANAGERS}/${MANAGER_ID}`;
  const chassisPath = `${CHASSIS}/${CHASSIS_ID}`;
  const nics = machine.macs.map((mac, i) => ({ id: `nic${i}`, mac, path: `${nicsPath}/nic${i}` }));

  const computerSystem = () => {
    const boot = machine.bootOverride;
    return {
      '@odata.id': systemPath,
      '@odata.type': '#ComputerSystem.v1_10_0.ComputerSystem',
      Id: machine.systemId,
      Name: machine.id,
      UUID: machine.systemId,
      SystemType: 'Physical',
      PowerState: machine.powerState,
      Status: healthy,
      Boot: {
        BootSourceOverrideTarget: boot.target,
        BootSourceOverrideEnabled: boot.enabled,
        BootSourceOverrideMode: boot.mode,
        'BootSourceOverrideTarget@Redfish.AllowableValues': BOOT_TARGETS,
      },
      EthernetInterfaces: link(nicsPath),
      ...outOfBand.systemProperties,
      Links: { ManagedBy: [link(managerPath)], Chassis: [link(chassisPath)] },
      Actions: {
        '#ComputerSystem.Reset': { target: resetPath, 'ResetType@Redfish.AllowableValues': machine.resetTypes },
      },
    };
  };

  return new Map<string, Route>([
    ['/redfish', { publicMethods: ['GET'], methods: { GET: () => ok({ v1: `${ROOT}/` }) } }],
    [
      ROOT,
      {
        publicMethods: ['GET'],
        methods: {
          GET: () =>
            ok({
              '@odata.id': `${ROOT}/`,
              '@odata.type': '#ServiceRoot.v1_5_0.ServiceRoot',
              Id: 'RootService',
              Name: 'Tempered lab Redfish service',
              RedfishVersion: '1.6.0',
              UUID: machine.systemId,
              Systems: link(SYSTEMS),
              Managers: link(MANAGERS),
              Chassis: link(CHASSIS),
              SessionService: link(SESSION_SERVICE),
              UpdateService: link(UPDATE_SERVICE),
              TaskService: link(TASK_SERVICE),
              Links: { Sessions: link(SESSIONS) },
            }),
        },
      },
    ],
    [SYSTEMS, { methods: { GET: () => ok(collection(SYSTEMS, 'ComputerSystemCollection', 'Computer Systems', [systemPath])) } }],
    [
      systemPath,
      {
        methods: {
          GET: () => ok(computerSystem()),
          PATCH: (body) => {
            machine.setBootOverride(parseBootPatch(body));
            return noContent;
          },
        },
      },
    ],
    [
      resetPath,
      {
        methods: {
          POST: (body) => {
            const { ResetType: resetType } = requireObject(body, 'ComputerSystem.Reset');
            if (resetType === undefined) {
              throw new RedfishRequestError(
                400,
                'Base.1.0.ActionParameterMissing',
                'The action ComputerSystem.Reset requires the parameter ResetType to be present in the request body.',
              );
            }
            if (!(machine.resetTypes as readonly unknown[]).includes(resetType)) {
              throw new RedfishRequestError(
                400,
                'Base.1.0.ActionParameterValueNotInList',
                `The value ${JSON.stringify(resetType)} for the parameter ResetType in the action ComputerSystem.Reset is not in the list of acceptable values: ${machine.resetTypes.join(', ')}.`,
              );
            }
            machine.reset(resetType as ResetType);
            return noContent;
          },
        },
      },
    ],
    [
      nicsPath,
      {
        methods: {
          GET: () =>
            ok(
              collection(
                nicsPath,
                'EthernetInterfaceCollection',
                'Ethernet Interfaces',
                nics.map((nic) => nic.path),
              ),
            ),
        },
      },
    ],
    ...nics.map(({ id, mac, path }): [string, Route] => [
      path,
      {
        methods: {
          GET: () =>
            ok({
              '@odata.id': path,
              '@odata.type': '#EthernetInterface.v1_4_0.EthernetInterface',
              Id: id,
              Name: `Ethernet interface ${id}`,
              MACAddress: mac,
              PermanentMACAddress: mac,
              LinkStatus: 'LinkUp',
              Status: healthy,
            }),
        },
      },
    ]),
    [MANAGERS, { methods: { GET: () => ok(collection(MANAGERS, 'ManagerCollection', 'Managers', [managerPath])) } }],
    [
      managerPath,
      {
        methods: {
          GET: () =>
            ok({
              '@odata.id': managerPath,
              '@odata.type': '#Manager.v1_5_0.Manager',
              Id: MANAGER_ID,
              Name: `BMC of ${machine.id}`,
              ManagerType: 'BMC',
              PowerState: 'On',
              Status: healthy,
              Links: { ManagerForServers: [link(systemPath)], ManagerForChassis: [link(chassisPath)] },
            }),
        },
      },
    ],
    [CHASSIS, { methods: { GET: () => ok(collection(CHASSIS, 'ChassisCollection', 'Chassis', [chassisPath])) } }],
    [
      chassisPath,
      {
        methods: {
          GET: () =>
            ok({
              '@odata.id': chassisPath,
              '@odata.type': '#Chassis.v1_10_0.Chassis',
              Id: CHASSIS_ID,
              Name: `Chassis of ${machine.id}`,
              ChassisType: 'RackMount',
              PowerState: machine.powerState,
              Status: healthy,
              Links: { ComputerSystems: [link(systemPath)], ManagedBy: [link(managerPath)] },
            }),
        },
      },
    ],
    ...outOfBand.routes,
    [
      SESSION_SERVICE,
      {
        methods: {
          GET: () =>
            ok({
              '@odata.id': SESSION_SERVICE,
              '@odata.type': '#SessionService.v1_1_6.SessionService',
              Id: 'SessionService',
              Name: 'Session Service',
              ServiceEnabled: true,
              Status: healthy,
              Sessions: link(SESSIONS),
            }),
        },
      },
    ],
    [
      SESSIONS,
      {
        publicMethods: ['POST'],
        methods: {
          GET: () => ok(collection(SESSIONS, 'SessionCollection', 'Sessions', sessions.paths())),
          POST: (body) => sessions.login(body),
        },
      },
    ],
  ]);
}

/** The lab machine's hardware as inventory reports it. */
const LAB_CPUS = { Count: 4, Model: 'Tempered Lab vCPU' };
const LAB_MEMORY_GIB = 8;
const INITIAL_BIOS_ATTRIBUTES: Readonly<Record<string, string | number | boolean>> = {
  BootMode: 'Uefi',
  ProcTurboMode: 'Enabled',
  LogicalProc: 'Enabled',
  SriovGlobalEnable: 'Disabled',
  NumLock: 'On',
};
const IMAGE_DOWNLOAD_TIMEOUT_MS = 10_000;

/** Fetches an image as a BMC would before using it; the reason when it cannot. */
async function downloadProblem(url: unknown): Promise<string | undefined> {
  if (typeof url !== 'string' || !URL.canParse(url)) return `The image URI ${JSON.stringify(url)} is not a URL.`;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(IMAGE_DOWNLOAD_TIMEOUT_MS) });
    await response.arrayBuffer();
    return response.ok ? undefined : `Downloading ${url} answered HTTP ${response.status}.`;
  } catch (error) {
    return `Downloading ${url} failed: ${error instanceof Error ? error.message : String(error)}.`;
  }
}

/**
 * What sushy-tools' fake driver cannot do, so the driver is proven here: BIOS settings staged
 * until the next boot, firmware updates followed through a task, a virtual CD, and an inventory.
 */
function outOfBandRoutes(machine: SimMachine) {
  const systemPath = `${SYSTEMS}/${machine.systemId}`;
  const biosPath = `${systemPath}/Bios`;
  const biosSettingsPath = `${biosPath}/Settings`;
  const virtualMediaPath = `${systemPath}/VirtualMedia`;
  const cdPath = `${virtualMediaPath}/Cd`;
  const storagePath = `${systemPath}/Storage`;
  const diskPath = `${storagePath}/1/Drives/0`;
  const simpleUpdatePath = `${UPDATE_SERVICE}/Actions/UpdateService.SimpleUpdate`;
  const firmwareInventoryPath = `${UPDATE_SERVICE}/FirmwareInventory`;

  const bios = { ...INITIAL_BIOS_ATTRIBUTES };
  let pendingBios: Record<string, string | number | boolean> = {};
  // Staged BIOS settings take effect when the machine boots, as on real servers.
  machine.on('power', (state) => {
    if (state !== 'On') return;
    Object.assign(bios, pendingBios);
    pendingBios = {};
  });

  const firmware = { BIOS: '1.0.0', BMC: '1.0.0' };
  const tasks = new Map<string, { state: 'Running' | 'Completed' | 'Exception'; message: string }>();
  const taskResource = (id: string) => {
    const task = tasks.get(id)!;
    return {
      '@odata.id': `${TASKS}/${id}`,
      '@odata.type': '#Task.v1_4_3.Task',
      Id: id,
      Name: 'Firmware update',
      TaskState: task.state,
      TaskStatus: task.state === 'Exception' ? 'Critical' : 'OK',
      Messages: [{ Message: task.message }],
    };
  };
  const bumpVersion = (version: string) => version.replace(/\d+$/, (patch) => String(Number(patch) + 1));
  const simpleUpdate = async (body: unknown): Promise<Reply> => {
    const { ImageURI: imageUri } = requireObject(body, 'UpdateService.SimpleUpdate');
    if (typeof imageUri !== 'string') {
      throw new RedfishRequestError(400, 'Base.1.0.ActionParameterMissing', 'The action UpdateService.SimpleUpdate requires the parameter ImageURI.');
    }
    const id = String(tasks.size + 1);
    tasks.set(id, { state: 'Running', message: `Downloading ${imageUri}.` });
    void downloadProblem(imageUri).then((problem) => {
      if (problem) {
        tasks.set(id, { state: 'Exception', message: problem });
        return;
      }
      tasks.set(id, { state: 'Running', message: 'Flashing the BIOS image.' });
      setTimeout(() => {
        firmware.BIOS = bumpVersion(firmware.BIOS);
        tasks.set(id, { state: 'Completed', message: `BIOS updated to ${firmware.BIOS}.` });
      }, machine.powerDelayMs).unref();
    });
    return { status: 202, headers: { Location: `${TASKS}/${id}` }, body: taskResource(id) };
  };

  let media: { image: string; inserted: boolean } = { image: '', inserted: false };
  const insertMedia = async (body: unknown): Promise<Reply> => {
    const { Image: image } = requireObject(body, 'VirtualMedia.InsertMedia');
    // Like sushy-tools, the BMC downloads the image at once, so a bad URL fails the insert.
    const problem = await downloadProblem(image);
    if (problem) throw new RedfishRequestError(400, 'Base.1.0.ActionParameterValueFormatError', problem);
    media = { image: image as string, inserted: true };
    return noContent;
  };

  const routes: [string, Route][] = [
    [
      biosPath,
      {
        methods: {
          GET: () =>
            ok({
              '@odata.id': biosPath,
              '@odata.type': '#Bios.v1_1_0.Bios',
              Id: 'BIOS',
              Name: 'BIOS Configuration',
              Attributes: bios,
              '@Redfish.Settings': { SettingsObject: link(biosSettingsPath) },
            }),
        },
      },
    ],
    [
      biosSettingsPath,
      {
        methods: {
          GET: () => ok({ '@odata.id': biosSettingsPath, '@odata.type': '#Bios.v1_1_0.Bios', Id: 'Settings', Attributes: pendingBios }),
          PATCH: (body) => {
            const attributes = requireObject(requireObject(body, 'a Bios PATCH').Attributes, 'Attributes');
            for (const [name, value] of Object.entries(attributes)) {
              if (!(name in bios)) throw new RedfishRequestError(400, 'Base.1.0.PropertyUnknown', `The BIOS attribute ${name} is not known.`);
              if (typeof value !== typeof bios[name]) {
                throw new RedfishRequestError(400, 'Base.1.0.PropertyValueTypeError', `The BIOS attribute ${name} must be a ${typeof bios[name]}.`);
              }
            }
            pendingBios = { ...pendingBios, ...(attributes as typeof pendingBios) };
            return noContent;
          },
        },
      },
    ],
    [virtualMediaPath, { methods: { GET: () => ok(collection(virtualMediaPath, 'VirtualMediaCollection', 'Virtual Media', [cdPath])) } }],
    [
      cdPath,
      {
        methods: {
          GET: () =>
            ok({
              '@odata.id': cdPath,
              '@odata.type': '#VirtualMedia.v1_4_0.VirtualMedia',
              Id: 'Cd',
              Name: 'Virtual CD',
              MediaTypes: ['CD', 'DVD'],
              ConnectedVia: media.inserted ? 'URI' : 'NotConnected',
              Image: media.image,
              Inserted: media.inserted,
              WriteProtected: true,
              Actions: {
                '#VirtualMedia.InsertMedia': { target: `${cdPath}/Actions/VirtualMedia.InsertMedia` },
                '#VirtualMedia.EjectMedia': { target: `${cdPath}/Actions/VirtualMedia.EjectMedia` },
              },
            }),
        },
      },
    ],
    [`${cdPath}/Actions/VirtualMedia.InsertMedia`, { methods: { POST: insertMedia } }],
    [
      `${cdPath}/Actions/VirtualMedia.EjectMedia`,
      {
        methods: {
          POST: () => {
            media = { image: '', inserted: false };
            return noContent;
          },
        },
      },
    ],
    [storagePath, { methods: { GET: () => ok(collection(storagePath, 'StorageCollection', 'Storage', [`${storagePath}/1`])) } }],
    [
      `${storagePath}/1`,
      {
        methods: {
          GET: () =>
            ok({ '@odata.id': `${storagePath}/1`, '@odata.type': '#Storage.v1_8_0.Storage', Id: '1', Name: 'Local storage', Drives: [link(diskPath)] }),
        },
      },
    ],
    [
      diskPath,
      {
        methods: {
          GET: () =>
            ok({
              '@odata.id': diskPath,
              '@odata.type': '#Drive.v1_9_0.Drive',
              Id: '0',
              Name: 'Disk 0',
              CapacityBytes: machine.diskSizeBytes,
              Model: 'Tempered Lab Disk',
              SerialNumber: `${machine.id}-disk0`,
              Status: healthy,
            }),
        },
      },
    ],
    [
      UPDATE_SERVICE,
      {
        methods: {
          GET: () =>
            ok({
              '@odata.id': UPDATE_SERVICE,
              '@odata.type': '#UpdateService.v1_8_0.UpdateService',
              Id: 'UpdateService',
              Name: 'Update Service',
              ServiceEnabled: true,
              FirmwareInventory: link(firmwareInventoryPath),
              Actions: { '#UpdateService.SimpleUpdate': { target: simpleUpdatePath, 'TransferProtocol@Redfish.AllowableValues': ['HTTP', 'HTTPS'] } },
            }),
        },
      },
    ],
    [simpleUpdatePath, { methods: { POST: simpleUpdate } }],
    [
      firmwareInventoryPath,
      {
        methods: {
          GET: () =>
            ok(collection(firmwareInventoryPath, 'SoftwareInventoryCollection', 'Firmware', Object.keys(firmware).map((id) => `${firmwareInventoryPath}/${id}`))),
        },
      },
    ],
    ...(Object.keys(firmware) as (keyof typeof firmware)[]).map((id): [string, Route] => [
      `${firmwareInventoryPath}/${id}`,
      {
        methods: {
          GET: () =>
            ok({ '@odata.id': `${firmwareInventoryPath}/${id}`, '@odata.type': '#SoftwareInventory.v1_2_0.SoftwareInventory', Id: id, Name: id, Version: firmware[id], Updateable: true }),
        },
      },
    ]),
    [TASK_SERVICE, { methods: { GET: () => ok({ '@odata.id': TASK_SERVICE, '@odata.type': '#TaskService.v1_1_4.TaskService', Id: 'TaskService', Tasks: link(TASKS) }) } }],
    [TASKS, { methods: { GET: () => ok(collection(TASKS, 'TaskCollection', 'Tasks', [...tasks.keys()].map((id) => `${TASKS}/${id}`))) } }],
  ];

  return {
    systemProperties: {
      ProcessorSummary: { ...LAB_CPUS, Status: healthy },
      MemorySummary: { TotalSystemMemoryGiB: LAB_MEMORY_GIB, Status: healthy },
      Storage: link(storagePath),
      VirtualMedia: link(virtualMediaPath),
      Bios: link(biosPath),
    },
    routes,
    /** Tasks appear as they are created, so they are routed by lookup. */
    taskRoute(path: string): Route | undefined {
      const id = path.startsWith(`${TASKS}/`) ? path.slice(TASKS.length + 1) : undefined;
      return id && tasks.has(id) ? { methods: { GET: () => ok(taskResource(id)) } } : undefined;
    },
  };
}

type OutOfBand = ReturnType<typeof outOfBandRoutes>;

interface Session {
  id: string;
  token: string;
  userName: string;
}

/** X-Auth-Token sessions, for clients (like sushy) that log in before anything else. */
class SessionStore {
  readonly #byToken = new Map<string, Session>();
  readonly #credentialsMatch: (userName: string, password: string) => boolean;

  constructor(credentialsMatch: (userName: string, password: string) => boolean) {
    this.#credentialsMatch = credentialsMatch;
  }

  isValid(token: string | undefined): boolean {
    return token !== undefined && this.#byToken.has(token);
  }

  paths(): string[] {
    return [...this.#byToken.values()].map((session) => `${SESSIONS}/${session.id}`);
  }

  login(body: unknown): Reply {
    const { UserName: userName, Password: password } = requireObject(body, 'a session');
    if (typeof userName !== 'string' || typeof password !== 'string' || !this.#credentialsMatch(userName, password)) {
      return unauthorized;
    }
    const session: Session = { id: randomUUID(), token: randomBytes(24).toString('hex'), userName };
    this.#byToken.set(session.token, session);
    const path = `${SESSIONS}/${session.id}`;
    return {
      status: 201,
      headers: { 'X-Auth-Token': session.token, Location: path },
      body: this.#resource(session),
    };
  }

  /** The route of one session's resource, or undefined when `path` names no live session. */
  route(path: string): Route | undefined {
    const session = [...this.#byToken.values()].find((candidate) => `${SESSIONS}/${candidate.id}` === path);
    if (!session) return undefined;
    return {
      methods: {
        GET: () => ok(this.#resource(session)),
        DELETE: () => {
          this.#byToken.delete(session.token);
          return noContent;
        },
      },
    };
  }

  #resource(session: Session) {
    return {
      '@odata.id': `${SESSIONS}/${session.id}`,
      '@odata.type': '#Session.v1_1_0.Session',
      Id: session.id,
      Name: 'User Session',
      UserName: session.userName,
    };
  }
}

async function readJsonBody(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new RedfishRequestError(413, 'Base.1.0.GeneralError', 'The request body is too large.');
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new RedfishRequestError(400, 'Base.1.0.MalformedJSON', 'The request body submitted was malformed JSON.');
  }
}

function send(response: ServerResponse, { status, body, headers }: Reply): void {
  response.writeHead(status, {
    'OData-Version': '4.0',
    ...(body === undefined ? {} : { 'Content-Type': 'application/json; charset=utf-8' }),
    ...headers,
  });
  response.end(body === undefined ? undefined : JSON.stringify(body));
}

/** Serves `machine` over Redfish on 127.0.0.1. Every resource but the root and login needs credentials. */
export async function startRedfishBmc(machine: SimMachine, options: RedfishBmcOptions): Promise<RedfishBmc> {
  // Compare digests so neither the content nor the length of the secret leaks through timing.
  const digest = (text: string) => createHash('sha256').update(text).digest();
  const expectedCredentials = digest(`${options.username}:${options.password}`);
  const credentialsMatch = (userName: string, password: string) =>
    timingSafeEqual(digest(`${userName}:${password}`), expectedCredentials);
  const sessions = new SessionStore(credentialsMatch);
  const outOfBand = outOfBandRoutes(machine);
  const routes = buildRoutes(machine, sessions, outOfBand);

  const isAuthorized = (request: IncomingMessage): boolean => {
    if (sessions.isValid(request.headers['x-auth-token'] as string | undefined)) return true;
    const basic = /^Basic\s+(\S+)$/i.exec(request.headers.authorization ?? '');
    if (!basic) return false;
    const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon >= 0 && credentialsMatch(decoded.slice(0, colon), decoded.slice(colon + 1));
  };

  const handle = async (request: IncomingMessage): Promise<Reply> => {
    // Clients differ on trailing slashes (sushy asks for /redfish/v1/), so both spellings work.
    const path = new URL(request.url ?? '/', 'http://bmc').pathname.replace(/\/+$/, '');
    const method = request.method as Method;
    const route = routes.get(path) ?? sessions.route(path) ?? outOfBand.taskRoute(path);
    // Credentials first, so a stranger cannot probe which resources exist.
    if (!route?.publicMethods?.includes(method) && !isAuthorized(request)) return unauthorized;
    if (!route) {
      throw new RedfishRequestError(404, 'Base.1.0.ResourceMissingAtURI', `The resource at the URI ${path || '/'} was not found.`);
    }
    const handler = route.methods[method];
    if (!handler) {
      return {
        status: 405,
        headers: { Allow: Object.keys(route.methods).join(', ') },
        body: redfishErrorBody('Base.1.0.ActionNotSupported', `The method ${request.method} is not supported on ${path}.`),
      };
    }
    return handler(await readJsonBody(request));
  };

  const server = createServer((request, response) => {
    handle(request).then(
      (reply) => send(response, reply),
      (error: unknown) =>
        send(
          response,
          error instanceof RedfishRequestError
            ? { status: error.status, body: redfishErrorBody(error.messageId, error.message) }
            : { status: 500, body: redfishErrorBody('Base.1.0.InternalError', String(error)) },
        ),
    );
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: options.port ?? 0 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Keep-alive connections from clients would otherwise hold close() open.
        server.closeAllConnections();
      }),
  };
}
