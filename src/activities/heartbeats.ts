// Every activity scheduled with a heartbeat timeout heartbeats while it runs, so the Temporal
// server learns within that timeout that a worker died (SIGKILL, a lost machine) and retries the
// activity elsewhere, instead of waiting out its whole start-to-close timeout. Activities stay
// plain functions: none has to remember to heartbeat.
import type { Context } from '@temporalio/activity';
import type { ActivityExecuteInput, ActivityInboundCallsInterceptor, Next } from '@temporalio/worker';

/** Heartbeats per heartbeat timeout: one or two may be late (a busy event loop) without a false timeout. */
const HEARTBEATS_PER_TIMEOUT = 3;

export class ActivityHeartbeats implements ActivityInboundCallsInterceptor {
  constructor(private readonly context: Context) {}

  async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    const { heartbeatTimeoutMs, isLocal } = this.context.info;
    // Local activities cannot heartbeat, and one without a heartbeat timeout must not.
    if (isLocal || !heartbeatTimeoutMs) return next(input);
    const timer = setInterval(() => this.context.heartbeat(), heartbeatTimeoutMs / HEARTBEATS_PER_TIMEOUT);
    try {
      return await next(input);
    } finally {
      clearInterval(timer);
    }
  }
}
