// Firmware updates: SimpleUpdate downloads the image, then flashes the BIOS; a Task follows it.
import type { FirmwareComponent, SimMachine } from '../machine.js';
import { downloadProblem } from './image-download.js';
import { TASK_SERVICE, TASKS, UPDATE_SERVICE } from './paths.js';
import { collection, link, notFound, RedfishRequestError, requireObject, type RouteTable } from './routes.js';

interface Task {
  state: 'Running' | 'Completed' | 'Exception';
  message: string;
}

export function addFirmwareRoutes(routes: RouteTable, machine: SimMachine): void {
  const simpleUpdate = `${UPDATE_SERVICE}/Actions/UpdateService.SimpleUpdate`;
  const inventory = `${UPDATE_SERVICE}/FirmwareInventory`;
  const tasks = new Map<string, Task>();

  const taskResource = (id: string) => {
    const task = tasks.get(id);
    if (!task) throw notFound(`${TASKS}/${id}`);
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

  /** Downloads, then flashes after the machine's power delay, as a BMC does before it reports success. */
  const runUpdate = async (id: string, imageUri: string) => {
    const problem = await downloadProblem(imageUri);
    if (problem) {
      tasks.set(id, { state: 'Exception', message: problem });
      return;
    }
    tasks.set(id, { state: 'Running', message: 'Flashing the BIOS image.' });
    setTimeout(() => {
      const version = machine.flashBios();
      tasks.set(id, { state: 'Completed', message: `BIOS updated to ${version}.` });
    }, machine.powerDelayMs).unref();
  };

  routes
    .resource(UPDATE_SERVICE, () => ({
      '@odata.id': UPDATE_SERVICE,
      '@odata.type': '#UpdateService.v1_8_0.UpdateService',
      Id: 'UpdateService',
      Name: 'Update Service',
      ServiceEnabled: true,
      FirmwareInventory: link(inventory),
      Actions: {
        '#UpdateService.SimpleUpdate': {
          target: simpleUpdate,
          'TransferProtocol@Redfish.AllowableValues': ['HTTP', 'HTTPS'],
        },
      },
    }))
    .post(simpleUpdate, (body) => {
      const { ImageURI: imageUri } = requireObject(body, 'UpdateService.SimpleUpdate');
      if (typeof imageUri !== 'string') {
        throw new RedfishRequestError(
          400,
          'Base.1.0.ActionParameterMissing',
          'The action UpdateService.SimpleUpdate requires the parameter ImageURI.',
        );
      }
      const id = String(tasks.size + 1);
      tasks.set(id, { state: 'Running', message: `Downloading ${imageUri}.` });
      void runUpdate(id, imageUri);
      return { status: 202, headers: { Location: `${TASKS}/${id}` }, body: taskResource(id) };
    })
    .resource(inventory, () =>
      collection(
        inventory,
        'SoftwareInventoryCollection',
        'Firmware',
        Object.keys(machine.firmwareVersions).map((id) => `${inventory}/${id}`),
      ),
    )
    .resource(`${inventory}/:component`, ({ component }) => {
      const versions = machine.firmwareVersions;
      if (!Object.hasOwn(versions, component)) throw notFound(`${inventory}/${component}`);
      const version = versions[component as FirmwareComponent];
      return {
        '@odata.id': `${inventory}/${component}`,
        '@odata.type': '#SoftwareInventory.v1_2_0.SoftwareInventory',
        Id: component,
        Name: component,
        Version: version,
        Updateable: true,
      };
    })
    .resource(TASK_SERVICE, () => ({
      '@odata.id': TASK_SERVICE,
      '@odata.type': '#TaskService.v1_1_4.TaskService',
      Id: 'TaskService',
      Tasks: link(TASKS),
    }))
    .resource(TASKS, () =>
      collection(
        TASKS,
        'TaskCollection',
        'Tasks',
        [...tasks.keys()].map((id) => `${TASKS}/${id}`),
      ),
    )
    .resource(`${TASKS}/:id`, ({ id }) => taskResource(id));
}
