import { ApplicationFailure, CancellationScope, patched, sleep } from '@temporalio/workflow';
import { settledPowerState, type PowerState, type PowerTarget } from '../domain/power.js';
import { bmc, oneLocalTry, records } from './activities.js';
import { localFirstCall } from './quick-calls.js';
import type { RequestContext } from '../domain/context.js';
import type { PowerInput } from './contract.js';
import { Operation, powerPhase } from './contract.js';
import { describeOperation, showPhase } from './display.js';
import { failureMessage } from './failures.js';
import { updateSearchAttribute } from './search-attributes.js';

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
export const POWER_WAIT_IN_ACTIVITY_PATCH = 'power-wait-in-activity';

/** Power changes begun while the BMC's power calls were ordinary activities replay with them as such. */
export const LOCAL_POWER_CALLS_PATCH = 'power-calls-local';

/**
 * A boot's power cycle (off, then on) is two ordinary activities again. As local activities both
 * ran in one workflow task, and a task lost with its worker or a restarting Temporal server ran the
 * whole cycle a second time: the machine rebooted under the agent it had just started, and its
 * deploy waited for a heartbeat that did not come (faults.test.ts). An activity's completion is
 * recorded the moment it is taken, so no cycle runs twice.
 */
export const BOOT_POWER_ACTIVITIES_PATCH = 'boot-power-activities';

/**
 * A boot's power calls are local activities again, each given the boot's key: a call that runs
 * again in a lost workflow task's rerun finds its step of the cycle done and skips it
 * (doneInBootCycle), so the cycle is taken once without a round trip through the server per call.
 */
export const GUARDED_BOOT_POWER_PATCH = 'boot-power-guarded';

/**
 * A power change is one call (bmcChangePower: the target shown, the BMC asked, the state recorded
 * when reached at once) where it was three; operations begun before it replay with the three.
 */
export const ONE_CALL_POWER_CHANGE_PATCH = 'power-change-one-call';

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
  if (patched(POWER_WAIT_IN_ACTIVITY_PATCH)) {
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
  if (mayCallLocally && patched(ONE_CALL_POWER_CHANGE_PATCH)) {
    if ((await changePowerLocalFirst(nodeUuid, target, { context, bootKey, showTarget })) === wanted) return wanted;
    calls = LOCAL_FIRST_POWER_CALLS;
  } else {
    calls = mayCallLocally && patched(LOCAL_POWER_CALLS_PATCH) ? LOCAL_FIRST_POWER_CALLS : bmc;
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
  const oneCall = patched(ONE_CALL_POWER_CHANGE_PATCH);
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
