// Activity stubs, one per group, each typed with that group's activities only and given the
// timeouts and retry policy its kind of call needs.
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type {
  AgentActivities,
  BmcActivities,
  PowerSyncActivities,
  RecordActivities,
  WarmPoolActivities,
} from '../activities/index.js';

/**
 * Bookkeeping in our own database (node state, event log, step plans): quick and idempotent, so
 * these run as local activities, in the worker without a round trip through the Temporal server's
 * task queues (a marker in history instead). BMC and agent calls, which an operator wants to see
 * retried and timed in the UI, stay ordinary activities.
 */
export const records = proxyLocalActivities<RecordActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
});

/**
 * How soon the server notices that the worker running an activity died: every activity heartbeats
 * while it runs (src/activities/heartbeats.ts), so a killed worker's activity is retried on another
 * within this, not at the end of its start-to-close timeout.
 */
const WORKER_LOSS_TIMEOUT = '15s';

/** Calls to a BMC: bounded, because a dead BMC must fail the operation, not hang it. */
export const bmc = proxyActivities<BmcActivities>({
  startToCloseTimeout: '60s',
  heartbeatTimeout: WORKER_LOSS_TIMEOUT,
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '20s', maximumAttempts: 5 },
});

/**
 * Idempotent calls that a BMC or agent answers in well under a second and a workflow awaits at once
 * (a power change, a boot's power calls, ejecting the ramdisk's media, setting the boot device, a
 * step its driver marks quick, verifying the BMC's credentials, listing the agent's steps): local
 * activities, so they cost no round trip through the server's task queues. Each is still its own
 * entry in the UI's history. A local activity holds its workflow task's slot in the worker while
 * it runs, so it gets one short try: a call that fails it or does not answer within it is asked
 * again as an ordinary activity, with its retries (quick-calls.ts), and a few dead BMCs cannot
 * stall the worker's other operations.
 */
export const oneLocalTry = proxyLocalActivities<
  Pick<
    BmcActivities,
    | 'bmcSetPowerState'
    | 'bmcChangePower'
    | 'bmcGetPowerState'
    | 'bmcFinishRamdiskBoot'
    | 'bmcSetBootDevice'
    | 'bmcVerify'
    | 'bmcRunStep'
  > &
    Pick<AgentActivities, 'agentListSteps'>
>({
  startToCloseTimeout: '5s',
  retry: { maximumAttempts: 1 },
});

/**
 * Calls to the agent: quick (commands are started, then awaited by the workflow), retried while a
 * booting or busy agent may still answer.
 */
export const agent = proxyActivities<AgentActivities>({
  startToCloseTimeout: '60s',
  heartbeatTimeout: WORKER_LOSS_TIMEOUT,
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '20s', maximumAttempts: 8 },
});

/**
 * Power sync: a batch checks a few hundred BMCs under the rate limits, so it may take minutes when
 * BMCs are slow; it heartbeats per node, and a retried batch checks its nodes again (idempotent).
 */
export const powerSync = proxyActivities<PowerSyncActivities>({
  startToCloseTimeout: '10m',
  heartbeatTimeout: '1m',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '20s', maximumAttempts: 3 },
});

/** A warm pool's round: status calls to its warm agents (bounded each), then the plan. */
export const warmPools = proxyActivities<WarmPoolActivities>({
  startToCloseTimeout: '60s',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 5 },
});
