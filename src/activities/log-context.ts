// Every log line of an activity carries the node's UUID (from the workflow ID) and the id of the
// API request that started the operation (the header the workflow's interceptor adds).
import { defaultPayloadConverter } from '@temporalio/common';
import type { Context } from '@temporalio/activity';
import type {
  ActivityExecuteInput,
  ActivityInboundCallsInterceptor,
  ActivityInterceptors,
  Next,
} from '@temporalio/worker';
import { nodeOfWorkflowId, REQUEST_ID_HEADER } from '../workflows/contract.js';

/**
 * The SDK's own "Activity started" line is written before any interceptor sees the headers, so it
 * cannot carry the request id: the worker's logger drops it, and this line stands in for it.
 */
export const SDK_ACTIVITY_STARTED = 'Activity started';
const ACTIVITY_STARTED = 'activity started';

export function activityLogContext(context: Context): ActivityInterceptors {
  const workflowId = context.info.workflowExecution?.workflowId;
  const nodeUuid = workflowId && nodeOfWorkflowId(workflowId);
  let requestId: string | undefined;
  const inbound: ActivityInboundCallsInterceptor = {
    execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>) {
      const header = input.headers[REQUEST_ID_HEADER];
      if (header) requestId = defaultPayloadConverter.fromPayload<string>(header);
      context.log.debug(ACTIVITY_STARTED);
      return next(input);
    },
  };
  return {
    inbound,
    outbound: {
      getLogAttributes: (attributes, next) =>
        next({ ...attributes, ...(nodeUuid && { nodeUuid }), ...(requestId && { requestId }) }),
    },
  };
}
