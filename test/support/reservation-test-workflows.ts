// The workflows of the reservation tests under the time-skipping server: the real reservation
// workflow, with a stand-in for the provision workflow it runs as a child (its deploy and
// undeploy are mocked activities, so a test decides which node fails).
import { proxyActivities } from '@temporalio/workflow';
import type { ProvisionState } from '../../src/domain/provision.js';
import type { ProvisionInput } from '../../src/workflows/contract.js';

export { reservationWorkflow } from '../../src/workflows/reservation.js';

export interface FakeProvisionActivities {
  fakeProvision(nodeUuid: string, verb: string): Promise<ProvisionState>;
}

const { fakeProvision } = proxyActivities<FakeProvisionActivities>({
  startToCloseTimeout: '10s',
  retry: { maximumAttempts: 1 },
});

export async function provisionWorkflow(input: ProvisionInput): Promise<ProvisionState> {
  return fakeProvision(input.nodeUuid, input.verb);
}
