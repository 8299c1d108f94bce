// Counts and times every operation by workflow, verb and outcome through the SDK's workflow
// metric meter: emitted by the worker's runtime (its Prometheus endpoint), never during replay,
// and never written to history, so workflow code stays deterministic.
import { isCancellation, metricMeter, workflowInfo, type WorkflowInterceptorsFactory } from '@temporalio/workflow';

/** The verb of an operation's input: provision verb, power target, or the boot device call. */
function verbOf(input: unknown): string {
  const args = (input ?? {}) as { verb?: string; target?: string; device?: string };
  if (args.verb) return args.verb;
  if (args.target) return `power:${args.target}`;
  return args.device ? 'boot_device:set' : 'boot_device:get';
}

export const interceptors: WorkflowInterceptorsFactory = () => ({
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
