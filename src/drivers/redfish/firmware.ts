// Firmware: SimpleUpdate from an image URL, then the BMC's task followed as a step that reruns.
import { z } from 'zod';
import { done, failed, rerunAfter } from '../../domain/steps.js';
import type { BmcFirmware } from '../types.js';
import { actionSchema, linkSchema, type RedfishSystem } from './system.js';

const ROOT_PATH = '/redfish/v1/';
/** Task states after which a task will not change again. */
const TASK_FAILED_STATES = new Set(['Exception', 'Killed', 'Cancelled']);

const serviceRootSchema = z.object({ UpdateService: linkSchema.optional() });
const updateServiceSchema = z.object({
  Actions: z.object({ '#UpdateService.SimpleUpdate': actionSchema.optional() }).optional(),
});
const taskSchema = z.object({
  '@odata.id': z.string().optional(),
  TaskState: z.string().optional(),
  TaskStatus: z.string().optional(),
  Messages: z.array(z.object({ Message: z.string().optional() })).optional(),
});

export function redfishFirmware({ client }: RedfishSystem, stepPollSeconds: number): BmcFirmware {
  return {
    async updateFirmware(request, state) {
      if (state) return followTask(state.taskMonitor);
      const root = await client.getAs(serviceRootSchema, ROOT_PATH);
      if (!root.UpdateService) throw client.error('unsupported', 'offers no UpdateService');
      const servicePath = root.UpdateService['@odata.id'];
      const simpleUpdate = (await client.getAs(updateServiceSchema, servicePath)).Actions?.[
        '#UpdateService.SimpleUpdate'
      ];
      if (!simpleUpdate)
        throw client.error('unsupported', `offers no UpdateService.SimpleUpdate action on ${servicePath}`);
      const response = await client.request('POST', simpleUpdate.target, {
        ImageURI: request.imageUrl,
        TransferProtocol: new URL(request.imageUrl).protocol.replace(':', '').toUpperCase(),
        ...(request.targets ? { Targets: request.targets } : {}),
      });
      // The task monitor comes in Location (202), or the task itself in the body; neither: done at once.
      const taskMonitor = response.location ?? taskSchema.safeParse(response.body).data?.['@odata.id'];
      return taskMonitor ? rerunAfter(stepPollSeconds, { taskMonitor }) : done();
    },
  };

  async function followTask(taskMonitor: string) {
    const response = await client.request('GET', taskMonitor);
    const task = taskSchema.safeParse(response.body).data;
    // A monitor answers 202 while the task runs; a task resource always 200 with its state.
    const taskState = task?.TaskState ?? (response.status === 202 ? 'Running' : 'Completed');
    const messages = (task?.Messages ?? []).flatMap((m) => m.Message ?? []).join('; ');
    if (TASK_FAILED_STATES.has(taskState) || (taskState === 'Completed' && task?.TaskStatus === 'Critical')) {
      return failed(
        client.error(
          'protocol',
          `failed the firmware update (task ${taskMonitor} ${taskState}): ${messages || 'no details'}`,
        ).message,
      );
    }
    return taskState === 'Completed' ? done() : rerunAfter(stepPollSeconds, { taskMonitor });
  }
}
