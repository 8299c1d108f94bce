// Idempotent BMC and agent calls made first as one short local try, then, when that fails for a
// reason a retry may mend, as the ordinary activity with its retries (activities.ts, oneLocalTry).
import { ActivityFailure, ApplicationFailure, isCancellation } from '@temporalio/workflow';
import type { AgentActivities, BmcActivities } from '../activities/index.js';
import type { RequestContext } from '../domain/context.js';
import type { Step } from '../domain/steps.js';
import { agent, bmc, oneLocalTry, records } from './activities.js';
import {
  QUICK_CALLS_LOCAL_PATCH,
  QUICK_STEPS_LOCAL_PATCH,
  VERIFY_LOCAL_PATCH,
  VERIFY_RECORDS_POWER_PATCH,
  hasPatch,
} from './patches.js';

/** The local activity's one short try; when it fails for a reason a retry may mend, the ordinary activity. */
async function localFirst<T>(local: () => Promise<T>, activity: () => Promise<T>): Promise<T> {
  try {
    return await local();
  } catch (err) {
    const final = err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.nonRetryable;
    if (isCancellation(err) || final) throw err;
    return activity();
  }
}

/** `local` and `ordinary` are the same activity: a call of the result tries the first, then the second. */
export function localFirstCall<A extends unknown[], R>(
  local: (...args: A) => Promise<R>,
  ordinary: (...args: A) => Promise<R>,
): (...args: A) => Promise<R> {
  return (...args) =>
    localFirst(
      () => local(...args),
      () => ordinary(...args),
    );
}

type Quick = Pick<BmcActivities, 'bmcFinishRamdiskBoot' | 'bmcSetBootDevice'> & Pick<AgentActivities, 'agentListSteps'>;

const LOCAL_FIRST: Quick = {
  bmcFinishRamdiskBoot: localFirstCall(oneLocalTry.bmcFinishRamdiskBoot, bmc.bmcFinishRamdiskBoot),
  bmcSetBootDevice: localFirstCall(oneLocalTry.bmcSetBootDevice, bmc.bmcSetBootDevice),
  agentListSteps: localFirstCall(oneLocalTry.agentListSteps, agent.agentListSteps),
};

const ORDINARY: Quick = {
  bmcFinishRamdiskBoot: bmc.bmcFinishRamdiskBoot,
  bmcSetBootDevice: bmc.bmcSetBootDevice,
  agentListSteps: agent.agentListSteps,
};

/** The quick calls as this operation makes them: local first, or (begun before the patch) ordinary activities. */
export function quickCalls(): Quick {
  return hasPatch(QUICK_CALLS_LOCAL_PATCH) ? LOCAL_FIRST : ORDINARY;
}

const LOCAL_FIRST_VERIFY = localFirstCall(oneLocalTry.bmcVerify, bmc.bmcVerify);

/**
 * Checks the BMC's credentials and records the power state it reports, as this operation does it:
 * one call, local first (a read only); or, begun before the patches, the older ways.
 */
export async function verifyAndRecordPower(nodeUuid: string, context: RequestContext): Promise<void> {
  if (hasPatch(VERIFY_RECORDS_POWER_PATCH)) {
    await LOCAL_FIRST_VERIFY(nodeUuid, context);
    return;
  }
  const powerState = await (hasPatch(VERIFY_LOCAL_PATCH) ? LOCAL_FIRST_VERIFY : bmc.bmcVerify)(nodeUuid);
  await records.recordPowerState(nodeUuid, powerState, null, context);
}

const LOCAL_FIRST_STEP = localFirstCall(oneLocalTry.bmcRunStep, bmc.bmcRunStep);

/** The call that runs an out-of-band step: local first when its driver marks it quick. */
export function bmcStepCall(step: Step): BmcActivities['bmcRunStep'] {
  return step.quick && hasPatch(QUICK_STEPS_LOCAL_PATCH) ? LOCAL_FIRST_STEP : bmc.bmcRunStep;
}
