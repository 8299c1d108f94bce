import { ApplicationFailure, CancellationScope, sleep } from '@temporalio/workflow';
import { settledPowerState, type PowerState, type PowerTarget } from '../domain/power.js';
import { bmc, oneLocalTry, records } from './activities.js';
import { localFirstCall } from './quick-calls.js';
import type { RequestContext } from '../domain/context.js';
import type { PowerInput } from './contract.js';
import { Operation, powerPhase } from './contract.js';
import { describeOperation, showPhase } from './display.js';
import { failureMessage } from './failures.js';
import { updateSearchAttribute } from './search-attributes.js';
import {
  LOCAL_POWER_CALLS_PATCH,
  ONE_CALL_POWER_CHANGE_PATCH,
  POWER_WAIT_IN_ACTIVITY_PATCH,
  hasPatch,
} from './patches.js';

const POWER_TIMEOUT_SECONDS = 300;

/** The first check after a BMC that has not yet reached the state; each later one waits twice as long, up to 10 s. */
const POWER_POLL_FIRST_MS = 250;
const POWER_POLL_MAX_MS = 10_000;

/**
 * A machine not yet there is first awaited inside one activity for this long (bmcAwaitPowerState,
 * reads at most 1 s apart), then with durable sleeps of 10 s: the common few seconds cost no
 * workflow task per read and are seen within a second, and a long wait still holds no worker slot.
 */
const POWER_AWAIT_IN_ACTIVITY_SECONDS = 30;

const changePowerLocalFirst = localFirstCall(oneLocalTry.bmcChangePower, bmc.bmcChangePower);

interface SettleOptions {
  /** False in boots begun before BOOT_POWER_ACTIVITIES_PATCH and not guarded: ordinary activities only. */
  mayCallLocally?: boolean;
  /** The boot this change is a step of (GUARDED_BOOT_POWER_PATCH). */
  bootKey?: string;
  /** A power verb's own change, whose target the node shows (in one call; see ONE_CALL_POWER_CHANGE_PATCH). */
  showTarget?: boolean;
}

interface PowerCalls {
  bmcSetPowerState(nodeUuid: string, target: PowerTarget, bootKey?: string): Promise<PowerState>;
  bmcGetPowerState(nodeUuid: string): Promise<PowerState>;
}

const LOCAL_FIRST_POWER_CALLS: PowerCalls = {
  bmcSetPowerState: localFirstCall(oneLocalTry.bmcSetPowerState, bmc.bmcSetPowerState),
  bmcGetPowerState: localFirstCall(oneLocalTry.bmcGetPowerState, bmc.bmcGetPowerState),
};

/**
 * Awaits the machine in one activity for the first half minute, then polls with durable sleeps of
 * 10 s: a slow machine costs no worker slot and survives a worker crash, and a long wait does not
 * fill the workflow's history. (Operations begun before POWER_WAIT_IN_ACTIVITY_PATCH poll with
 * durable sleeps from a quarter second, backing off to 10 s.)
 */
async function waitForPowerState(calls: PowerCalls, nodeUuid: string, wanted: PowerState): Promise<void> {
  const deadline = Date.now() + POWER_TIMEOUT_SECONDS * 1000;
  let pause = POWER_POLL_FIRST_MS;
  if (hasPatch(POWER_WAIT_IN_ACTIVITY_PATCH)) {
    if (await bmc.bmcAwaitPowerState(nodeUuid, wanted, POWER_AWAIT_IN_ACTIVITY_SECONDS)) return;
    pause = POWER_POLL_MAX_MS;
  }
  for (; Date.now() < deadline; pause = Math.min(pause * 2, POWER_POLL_MAX_MS)) {
    await sleep(pause);
    if ((await calls.bmcGetPowerState(nodeUuid)) === wanted) return;
  }
  throw ApplicationFailure.nonRetryable(
    `BMC did not reach "${wanted}" within ${POWER_TIMEOUT_SECONDS} s`,
    'PowerTimeout',
  );
}

/**
 * Asks the BMC, waits until the machine is there, and records it on the node and in the log. The
 * request answers the state read right after it: a BMC already there costs no sleep and no poll,
 * and (its calls being local activities) no round trip through the Temporal server either.
 */
export async function settlePower(
  nodeUuid: string,
  target: PowerTarget,
  context: RequestContext,
  { mayCallLocally = true, bootKey, showTarget = false }: SettleOptions = {},
): Promise<PowerState> {
  const wanted = settledPowerState(target);
  let calls: PowerCalls;
  if (mayCallLocally && hasPatch(ONE_CALL_POWER_CHANGE_PATCH)) {
    if ((await changePowerLocalFirst(nodeUuid, target, { context, bootKey, showTarget })) === wanted) return wanted;
    calls = LOCAL_FIRST_POWER_CALLS;
  } else {
    calls = mayCallLocally && hasPatch(LOCAL_POWER_CALLS_PATCH) ? LOCAL_FIRST_POWER_CALLS : bmc;
    if ((await calls.bmcSetPowerState(nodeUuid, target, bootKey)) === wanted) {
      await records.recordPowerState(nodeUuid, wanted, target, context);
      return wanted;
    }
  }
  await waitForPowerState(calls, nodeUuid, wanted);
  await records.recordPowerState(nodeUuid, wanted, target, context);
  return wanted;
}

export async function powerWorkflow({ nodeUuid, target, context }: PowerInput): Promise<PowerState> {
  // Begun since the patch, a power change has its Operation and CurrentStep set by its starter as
  // they are here (operations.ts): upserted again, each would cost the server a visibility write.
  const oneCall = hasPatch(ONE_CALL_POWER_CHANGE_PATCH);
  if (!oneCall) updateSearchAttribute(Operation, `power:${target}`);
  describeOperation(`power:${target}`);
  showPhase(powerPhase(target), { searchAttribute: !oneCall });
  if (!oneCall) await records.beginPowerChange(nodeUuid, target);
  try {
    return await settlePower(nodeUuid, target, context, { showTarget: oneCall });
  } catch (err) {
    // Recorded even when the workflow was cancelled, so the node does not keep a target it will never reach.
    await CancellationScope.nonCancellable(() =>
      records.failPowerChange(nodeUuid, target, failureMessage(err), context),
    );
    throw err;
  }
}
