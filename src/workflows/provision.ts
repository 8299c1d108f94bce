// One workflow for every provision verb. The verb's first transition tells which handler
// drives the node from there, one handler per transient state (as Metal3 has per host state).
import { upsertSearchAttributes } from '@temporalio/workflow';
import type { ProvisionEvent, ProvisionState } from '../domain/provision.js';
import { bmc, db } from './activities.js';
import { Operation, ProvisionStateKey, type ProvisionInput, type RequestContext } from './contract.js';
import { failureMessage } from './failures.js';

type Handler = (nodeUuid: string, context: RequestContext) => Promise<void>;

/** Verify: the BMC must answer with the stored credentials; learn the power state meanwhile. */
async function verify(nodeUuid: string, context: RequestContext): Promise<void> {
  const powerState = await bmc.bmcVerify(nodeUuid);
  await db.recordPowerState(nodeUuid, powerState, null, context);
}

const HANDLERS: Partial<Record<ProvisionState, Handler>> = { verifying: verify };

export async function provisionWorkflow({ nodeUuid, verb, fromState, context }: ProvisionInput): Promise<ProvisionState> {
  upsertSearchAttributes([{ key: Operation, value: verb }]);
  let state = fromState;
  const transition = async (event: ProvisionEvent, error?: string) => {
    const next = await db.transitionProvision({ nodeUuid, event, from: state, context, error });
    state = next.provision_state;
    upsertSearchAttributes([{ key: ProvisionStateKey, value: state }]);
  };

  await transition(verb);
  const handler = HANDLERS[state];
  if (!handler) return state;
  try {
    await handler(nodeUuid, context);
  } catch (err) {
    await transition('fail', failureMessage(err));
    throw err;
  }
  await transition('done');
  return state;
}
