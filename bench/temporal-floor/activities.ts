// The floor benchmark's activities do nothing but powerOn, which stands for a machine whose
// ramdisk heartbeats 100 ms after it is switched on, signalled to the workflow as Tempered's API does.
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';

const HEARTBEAT_AFTER_MS = 100;

export function floorActivities(client: Client) {
  return {
    async nothing(): Promise<void> {},
    async bootMedia(): Promise<void> {},
    async agentCommand(): Promise<void> {},
    async powerOn(): Promise<void> {
      const { workflowId, runId } = Context.current().info.workflowExecution!;
      setTimeout(
        () =>
          client.workflow
            .getHandle(workflowId, runId)
            .signal('heartbeat')
            .catch((err: Error) => console.error(`heartbeat of ${workflowId} not signalled: ${err.message}`)),
        HEARTBEAT_AFTER_MS,
      );
    },
  };
}

export type FloorActivities = ReturnType<typeof floorActivities>;
