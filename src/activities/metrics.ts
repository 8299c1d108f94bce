// Times every activity (each BMC call, agent command, database step an operation takes) by its
// type and outcome, through the worker runtime's metric meter (its Prometheus endpoint).
import type { Context } from '@temporalio/activity';
import type { ActivityExecuteInput, ActivityInboundCallsInterceptor, Next } from '@temporalio/worker';

export class ActivityMetrics implements ActivityInboundCallsInterceptor {
  constructor(private readonly context: Context) {}

  async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    const started = performance.now();
    let outcome = 'failed';
    try {
      const result = await next(input);
      outcome = 'succeeded';
      return result;
    } finally {
      this.context.metricMeter
        .createHistogram('tempered_activity_duration', 'float', 's', 'activity durations by activity type and outcome')
        .record((performance.now() - started) / 1000, { activity: this.context.info.activityType, outcome });
    }
  }
}
