// A warm pool's long-running workflow: each round checks the pool's warm agents and plans (one
// activity), boots nodes while fewer than the target are warm, powers down the extras, then sleeps
// until the next round or until the pool changes. It continues as new every so many rounds, so its
// history stays short however long the pool lives. Boots and power-offs are the nodes' own
// operations (child workflows under node/<uuid>, the node's lock): a node another operation holds
// is skipped, and a pool that continues as new leaves them running.
import {
  continueAsNew,
  condition,
  log,
  ParentClosePolicy,
  setHandler,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { warmPools } from './activities.js';
import {
  NodeUuid,
  Operation,
  nodeWorkflowId,
  type PowerInput,
  type ProvisionInput,
  type WarmPoolInput,
} from './contract.js';
import { updateSearchAttribute } from './search-attributes.js';
import { warmPoolChangedSignal } from './signals.js';

/** Rounds per run before continuing as new: a round adds a handful of events to the history. */
const ROUNDS_PER_RUN = 200;

/** Starts the node's operation unless another holds the node; true when it started. */
async function startNodeOperation(
  workflowType: 'provisionWorkflow' | 'powerWorkflow',
  operation: string,
  input: ProvisionInput | PowerInput,
): Promise<boolean> {
  try {
    await startChild(workflowType, {
      workflowId: nodeWorkflowId(input.nodeUuid),
      args: [input],
      parentClosePolicy: ParentClosePolicy.ABANDON,
      typedSearchAttributes: [
        { key: NodeUuid, value: input.nodeUuid },
        { key: Operation, value: operation },
      ],
    });
    return true;
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    log.info('node is locked by another operation; skipped this round', { nodeUuid: input.nodeUuid });
    return false;
  }
}

export async function warmPoolWorkflow(input: WarmPoolInput): Promise<void> {
  updateSearchAttribute(Operation, 'warm_pool', { evenIfUnchanged: true });
  let changed = false;
  setHandler(warmPoolChangedSignal, () => void (changed = true));
  const { poolUuid, context } = input;
  for (let round = 0; round < ROUNDS_PER_RUN && !workflowInfo().continueAsNewSuggested; round++) {
    const plan = await warmPools.planWarmPoolRound(poolUuid);
    if (!plan) return; // the pool was deleted
    for (const nodeUuid of plan.boot) {
      await startNodeOperation('provisionWorkflow', 'boot', {
        nodeUuid,
        verb: 'boot',
        fromState: 'available',
        context,
      });
    }
    for (const nodeUuid of plan.powerOff) {
      await startNodeOperation('powerWorkflow', 'power:power off', { nodeUuid, target: 'power off', context });
    }
    changed = false;
    await condition(() => changed, plan.intervalSeconds * 1000);
  }
  await continueAsNew<typeof warmPoolWorkflow>(input);
}
