import { ApplicationFailure, sleep, upsertSearchAttributes } from '@temporalio/workflow';
import { settledPowerState, type PowerState } from '../domain/power.js';
import { bmc, db } from './activities.js';
import type { PowerInput } from './contract.js';
import { Operation } from './contract.js';
import { failureMessage } from './failures.js';

const POLL_INTERVAL = '1s';
const POWER_TIMEOUT_SECONDS = 300;

/** Polls with durable sleeps: a slow BMC costs no worker thread and survives a worker crash. */
export async function waitForPowerState(nodeUuid: string, wanted: PowerState): Promise<void> {
  for (let waited = 0; waited <= POWER_TIMEOUT_SECONDS; waited++) {
    if ((await bmc.bmcGetPowerState(nodeUuid)) === wanted) return;
    await sleep(POLL_INTERVAL);
  }
  throw ApplicationFailure.nonRetryable(`BMC did not reach "${wanted}" within ${POWER_TIMEOUT_SECONDS} s`, 'PowerTimeout');
}

export async function powerWorkflow({ nodeUuid, target, context }: PowerInput): Promise<PowerState> {
  upsertSearchAttributes([{ key: Operation, value: `power:${target}` }]);
  await db.beginPowerChange(nodeUuid, target);
  const wanted = settledPowerState(target);
  try {
    await bmc.bmcSetPowerState(nodeUuid, target);
    await waitForPowerState(nodeUuid, wanted);
  } catch (err) {
    await db.failPowerChange(nodeUuid, target, failureMessage(err), context);
    throw err;
  }
  await db.recordPowerState(nodeUuid, wanted, target, context);
  return wanted;
}
