// One run of power sync, started by its Temporal Schedule once per period: every eligible node's
// BMC is asked for its power state, in batches spread over most of the period (a few batches side
// by side, each given its share of the pace). With force_power_state_during_sync, a node whose
// machine changed behind our back is then set back, under its own lock, by a power operation.
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { executeChild, log, workflowInfo } from '@temporalio/workflow';
import {
  addTallies,
  EMPTY_TALLY,
  periodReachable,
  syncCallsPerSecond,
  type PowerSyncSettings,
  type PowerSyncTally,
} from '../domain/power-sync.js';
import type { PowerRestore } from '../activities/power-sync.js';
import { powerSync } from './activities.js';
import { nodeWorkflowId, type PowerInput } from './contract.js';
import { failureMessage } from './failures.js';

/** Nodes per batch activity: small enough for a quick retry, few enough activities for a short history. */
const BATCH_SIZE = 250;
/** Batches at once. */
const LANES = 4;

export interface PowerSyncSummary extends PowerSyncTally {
  nodes: number;
  callsPerSecond: number;
  /** Nodes set back to their recorded state (force_power_state_during_sync). */
  restored: number;
}

export async function powerSyncWorkflow(settings: PowerSyncSettings): Promise<PowerSyncSummary> {
  const ranges = await powerSync.powerSyncRanges(BATCH_SIZE);
  const nodes = ranges.reduce((sum, range) => sum + range.count, 0);
  const callsPerSecond = syncCallsPerSecond(nodes, settings);
  if (!periodReachable(nodes, settings)) {
    log.warn('power sync cannot check every node within the period at the global rate limit', {
      nodes,
      maxCallsPerSecond: settings.maxCallsPerSecond,
      periodSeconds: settings.periodSeconds,
    });
  }
  const { workflowId: requestId } = workflowInfo();
  const lanes = Math.min(LANES, ranges.length);
  let tally = EMPTY_TALLY;
  const restore: PowerRestore[] = [];
  let next = 0;
  const lane = async () => {
    while (next < ranges.length) {
      const range = ranges[next++];
      const result = await powerSync.syncPowerBatch({
        range,
        callsPerSecond: callsPerSecond / lanes,
        settings,
        requestId,
      });
      tally = addTallies(tally, result.tally);
      restore.push(...result.restore);
    }
  };
  await Promise.all(Array.from({ length: lanes }, lane));
  const restored = await Promise.all(restore.map((node) => setBack(node, requestId)));
  return { ...tally, nodes, callsPerSecond, restored: restored.filter(Boolean).length };
}

/** Sets the machine back to its recorded power state, as the node's own power operation; false when it could not. */
async function setBack({ nodeUuid, powerState }: PowerRestore, requestId: string): Promise<boolean> {
  const input: PowerInput = { nodeUuid, target: powerState, context: { user: null, project: null, requestId } };
  try {
    await executeChild('powerWorkflow', { workflowId: nodeWorkflowId(nodeUuid), args: [input] });
    return true;
  } catch (err) {
    // An operation took the node meanwhile: it is left to that operation.
    if (!(err instanceof WorkflowExecutionAlreadyStartedError))
      log.warn('could not set the power back', { node: nodeUuid, error: failureMessage(err) });
    return false;
  }
}
