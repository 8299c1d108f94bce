// The simulated BMC's resource paths: one place, so every module links to the same URIs.
export const ROOT = '/redfish/v1';
export const SYSTEMS = `${ROOT}/Systems`;
export const MANAGERS = `${ROOT}/Managers`;
export const CHASSIS = `${ROOT}/Chassis`;
export const SESSION_SERVICE = `${ROOT}/SessionService`;
export const SESSIONS = `${SESSION_SERVICE}/Sessions`;
export const UPDATE_SERVICE = `${ROOT}/UpdateService`;
export const TASK_SERVICE = `${ROOT}/TaskService`;
export const TASKS = `${TASK_SERVICE}/Tasks`;
export const MANAGER_PATH = `${MANAGERS}/BMC`;
export const CHASSIS_PATH = `${CHASSIS}/Chassis`;

/** The paths under one ComputerSystem. */
export function systemPaths(systemId: string) {
  const system = `${SYSTEMS}/${systemId}`;
  return {
    system,
    reset: `${system}/Actions/ComputerSystem.Reset`,
    nics: `${system}/EthernetInterfaces`,
    bios: `${system}/Bios`,
    biosSettings: `${system}/Bios/Settings`,
    virtualMedia: `${system}/VirtualMedia`,
    storage: `${system}/Storage`,
    processors: `${system}/Processors`,
  };
}
