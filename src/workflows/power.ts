import { ApplicationFailure, sleep } from '@temporalio/workflow';
import { settledPowerState, type PowerState, type PowerTarget } from '../domain/power.js';
import { bmc, db } from './activities.js';
import type { PowerInput, RequestContext } from './contract.js';
import { Operation } from './contract.js';
import { failureMessage } from './failures.js';
import { updateSearchAttribute } from './search-attributes.js';

const POLL_INTERVAL = '1s';
const POWER_TIMEOUT_SECONDS = 300;

/** Polls with durable sleeps: a slow BMC costs no worker thread and survives a worker crash. */
async function waitForPowerState(nodeUuid: string, wanted: PowerState): Promise<void> {
  for (let waited = 0; waited <= POWER_TIMEOUT_SECONDS; waited++) {
    if ((await bmc.bmcGetPowerState(nodeUuid)) === wanted) return;
    await sleep(POLL_INTERVAL);
  }
  throw ApplicationFailure.nonRetryable(`BMC did not reach "${wanted}" within ${POWER_TIMEOUT_SECONDS} s`, 'PowerTimeout');
}

/** Asks the BMC once, waits until the machine is there, and records it on the node and in the log. */
export async function settlePower(nodeUuid: string, target: PowerTarget, context: RequestContext): Promise<PowerState> {
  const wanted = settledPowerState(target);
  await bmc.bmcSetPowerState(nodeUuid, target);
  await waitForPowerState(nodeUuid, wanted);
  await db.recordPowerState(nodeUuid, wanted, target, context);
  return wanted;
}

export async function powerWorkflow({ nodeUuid, target, context }: PowerInput): Promise<PowerState> {
  updateSearchAttribute(Operation, `power:${target}`);
  await db.beginPowerChange(nodeUuid, target);
  try {
    return await settlePower(nodeUuid, target, context);
  } catch (err) {
    await db.failPowerChange(nodeUuid, target, failureMessage(err), context);
    throw err;
  }
}
