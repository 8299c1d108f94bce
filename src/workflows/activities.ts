// Activity stubs with the timeouts and retry policies every workflow shares.
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';

/** Writes to our own database: quick, retried until PostgreSQL is back. */
export const db = proxyActivities<Activities>({
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
