// Counts and times every operation by workflow, verb and outcome through the SDK's workflow
// metric meter: emitted by the worker's runtime (its Prometheus endpoint), never during replay,
// and never written to history, so workflow code stays deterministic. Gives every activity a
// summary naming the step it serves, for the Temporal UI (display.ts).
// Every log line of an operation, the workflow's and its activities', carries the node's UUID and
// the id of the API request that started it (the request id travels to activities as a header).
import { defaultPayloadConverter, type Headers } from '@temporalio/common';
import { isCancellation, metricMeter, workflowInfo, type WorkflowInterceptorsFactory } from '@temporalio/workflow';
import { nodeOfWorkflowId, REQUEST_ID_HEADER, REQUEST_ID_MEMO } from './contract.js';
import { activitySummary } from './display.js';

/** The verb of an operation's input: provision verb, power target, or the boot device call. */
function verbOf(input: unknown): string {
  const args = (input ?? {}) as { verb?: string; target?: string; device?: string };
  if (args.verb) return args.verb;
  if (args.target) return `power:${args.target}`;
  return args.device ? 'boot_device:set' : 'boot_device:get';
}

/** The API request that started this run, when one did. */
function requestId(): string | undefined {
  const id = workflowInfo().memo?.[REQUEST_ID_MEMO];
  return typeof id === 'string' ? id : undefined;
}

/** The activity call with the UI summary (when the run shows one) and the request id header added. */
function describedActivity<T extends { activityType: string; options: object; headers: Headers }>(input: T): T {
  const summary = activitySummary(input.activityType);
  const id = requestId();
  return {
    ...input,
    ...(summary !== undefined && { options: { ...input.options, summary } }),
    ...(id !== undefined && {
      headers: { ...input.headers, [REQUEST_ID_HEADER]: defaultPayloadConverter.toPayload(id) },
    }),
  };
}

export const interceptors: WorkflowInterceptorsFactory = () => ({
  outbound: [
    {
      scheduleActivity: (input, next) => next(describedActivity(input)),
      scheduleLocalActivity: (input, next) => next(describedActivity(input)),
      getLogAttributes: (input, next) => {
        const nodeUuid = nodeOfWorkflowId(workflowInfo().workflowId);
        return next({ ...input, ...(nodeUuid && { nodeUuid }), ...(requestId() && { requestId: requestId() }) });
      },
    },
  ],
  inbound: [
    {
      async execute(input, next) {
        const started = Date.now();
        let outcome = 'failed';
        try {
          const result = await next(input);
          outcome = 'succeeded';
          return result;
        } catch (err) {
          if (isCancellation(err)) outcome = 'cancelled';
          throw err;
        } finally {
          const labels = { workflow: workflowInfo().workflowType, verb: verbOf(input.args[0]), outcome };
          metricMeter
            .createCounter('tempered_operations', '1', 'operations by workflow, verb and outcome')
            .add(1, labels);
          metricMeter
            .createHistogram(
              'tempered_operation_duration',
              'float',
              's',
              'operation durations by workflow, verb and outcome',
            )
            .record((Date.now() - started) / 1000, labels);
        }
      },
    },
  ],
});
