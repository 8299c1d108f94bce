// Activity stubs with the timeouts and retry policies every workflow shares.
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';

/**
 * Reads and writes of our own database: quick and idempotent, so they run as local activities,
 * in the worker without a round trip through the Temporal server's task queues (a marker in
 * history instead). That halves the server's work per operation; BMC and agent calls, which an
 * operator wants to see retried and timed in the UI, stay ordinary activities.
 */
export const db = proxyLocalActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
});

/** Calls to a BMC: bounded, because a dead BMC must fail the operation, not hang it. */
export const bmc = proxyActivities<Activities>({
  startToCloseTimeout: '60s',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '20s', maximumAttempts: 5 },
});

/**
 * Calls to the agent: quick (commands are started, then polled), retried while a booting or busy
 * agent may still answer.
 */
export const agent = proxyActivities<Activities>({
  startToCloseTimeout: '60s',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '20s', maximumAttempts: 8 },
});
