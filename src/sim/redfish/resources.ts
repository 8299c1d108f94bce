// The resource tree of one machine: service root, the ComputerSystem (power, boot override,
// NICs), its Manager and its Chassis.
import {
  BOOT_MODES,
  BOOT_OVERRIDE_ENABLED,
  BOOT_TARGETS,
  type BootOverride,
  type ResetType,
  type SimMachine,
} from '../machine.js';
import {
  CHASSIS,
  CHASSIS_PATH,
  MANAGER_PATH,
  MANAGERS,
  ROOT,
  SESSION_SERVICE,
  SESSIONS,
  SYSTEMS,
  systemPaths,
  TASK_SERVICE,
  UPDATE_SERVICE,
} from './paths.js';
import {
  collection,
  healthy,
  link,
  noContent,
  ok,
  RedfishRequestError,
  requireObject,
  requireOneOf,
  type RouteTable,
} from './routes.js';

export function addResourceRoutes(routes: RouteTable, machine: SimMachine): void {
  const paths = systemPaths(machine.systemId);
  const nics = machine.macs.map((mac, i) => ({ id: `nic${i}`, mac, path: `${paths.nics}/nic${i}` }));

  routes
    .get('/redfish', () => ok({ v1: `${ROOT}/` }))
    .public('/redfish', 'GET')
    .resource(ROOT, () => ({
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
    }))
    .public(ROOT, 'GET')
    .resource(SYSTEMS, () => collection(SYSTEMS, 'ComputerSystemCollection', 'Computer Systems', [paths.system]))
    .resource(paths.system, () => computerSystem(machine))
    .patch(paths.system, (body) => {
      machine.setBootOverride(parseBootPatch(body));
      return noContent;
    })
    .post(paths.reset, (body) => {
      machine.reset(parseResetType(body, machine.resetTypes));
      return noContent;
    })
    .resource(paths.nics, () =>
      collection(
        paths.nics,
        'EthernetInterfaceCollection',
        'Ethernet Interfaces',
        nics.map((nic) => nic.path),
      ),
    )
    .resource(paths.processors, () =>
      collection(paths.processors, 'ProcessorCollection', 'Processors', [`${paths.processors}/CPU0`]),
    )
    .resource(`${paths.processors}/CPU0`, () => ({
      '@odata.id': `${paths.processors}/CPU0`,
      '@odata.type': '#Processor.v1_7_0.Processor',
      Id: 'CPU0',
      Name: 'Processor 0',
      ProcessorType: 'CPU',
      ProcessorArchitecture: 'x86',
      InstructionSet: 'x86-64',
      Model: machine.cpus.model,
      TotalCores: machine.cpus.count,
      Status: healthy,
    }))
    .resource(MANAGERS, () => collection(MANAGERS, 'ManagerCollection', 'Managers', [MANAGER_PATH]))
    .resource(MANAGER_PATH, () => ({
      '@odata.id': MANAGER_PATH,
      '@odata.type': '#Manager.v1_5_0.Manager',
      Id: 'BMC',
      Name: `BMC of ${machine.id}`,
      ManagerType: 'BMC',
      PowerState: 'On',
      Status: healthy,
      Links: { ManagerForServers: [link(paths.system)], ManagerForChassis: [link(CHASSIS_PATH)] },
    }))
    .resource(CHASSIS, () => collection(CHASSIS, 'ChassisCollection', 'Chassis', [CHASSIS_PATH]))
    .resource(CHASSIS_PATH, () => ({
      '@odata.id': CHASSIS_PATH,
      '@odata.type': '#Chassis.v1_10_0.Chassis',
      Id: 'Chassis',
      Name: `Chassis of ${machine.id}`,
      ChassisType: 'RackMount',
      PowerState: machine.powerState,
      Status: healthy,
      Links: { ComputerSystems: [link(paths.system)], ManagedBy: [link(MANAGER_PATH)] },
    }));
  for (const { id, mac, path } of nics) {
    routes.resource(path, () => ({
      '@odata.id': path,
      '@odata.type': '#EthernetInterface.v1_4_0.EthernetInterface',
      Id: id,
      Name: `Ethernet interface ${id}`,
      MACAddress: mac,
      PermanentMACAddress: mac,
      LinkStatus: 'LinkUp',
      Status: healthy,
    }));
  }
}

function computerSystem(machine: SimMachine) {
  const paths = systemPaths(machine.systemId);
  const boot = machine.bootOverride;
  return {
    '@odata.id': paths.system,
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
    EthernetInterfaces: link(paths.nics),
    ProcessorSummary: { Count: machine.cpus.count, Model: machine.cpus.model, Status: healthy },
    MemorySummary: { TotalSystemMemoryGiB: machine.memoryGiB, Status: healthy },
    Processors: link(paths.processors),
    Storage: link(paths.storage),
    VirtualMedia: link(paths.virtualMedia),
    Bios: link(paths.bios),
    Links: { ManagedBy: [link(MANAGER_PATH)], Chassis: [link(CHASSIS_PATH)] },
    Actions: {
      '#ComputerSystem.Reset': { target: paths.reset, 'ResetType@Redfish.AllowableValues': machine.resetTypes },
    },
  };
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
    if (!parse)
      throw new RedfishRequestError(400, 'Base.1.0.PropertyUnknown', `The property Boot.${property} is not known.`);
    return { ...change, ...parse(value) };
  }, {});
}

function parseResetType(body: unknown, offered: readonly ResetType[]): ResetType {
  const { ResetType: resetType } = requireObject(body, 'ComputerSystem.Reset');
  if (resetType === undefined) {
    throw new RedfishRequestError(
      400,
      'Base.1.0.ActionParameterMissing',
      'The action ComputerSystem.Reset requires the parameter ResetType to be present in the request body.',
    );
  }
  if (!(offered as readonly unknown[]).includes(resetType)) {
    throw new RedfishRequestError(
      400,
      'Base.1.0.ActionParameterValueNotInList',
      `The value ${JSON.stringify(resetType)} for the parameter ResetType in the action ComputerSystem.Reset is not in the list of acceptable values: ${offered.join(', ')}.`,
    );
  }
  return resetType as ResetType;
}
