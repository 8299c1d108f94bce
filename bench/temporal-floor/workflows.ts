// The two shapes bench/temporal-floor.ts times: a workflow per operation (Tempered's: the node's
// lock is its operation's workflow id), and an update per operation to a long-running workflow.
// Each operation runs one local activity that does nothing, as a power change runs one.
import { condition, defineSignal, defineUpdate, proxyLocalActivities, setHandler } from '@temporalio/workflow';

const { nothing } = proxyLocalActivities<{ nothing(): Promise<void> }>({ startToCloseTimeout: '5s' });

export async function operation(): Promise<void> {
  await nothing();
}

export const operate = defineUpdate<void>('operate');
export const finish = defineSignal('finish');

export async function longRunning(): Promise<void> {
  let finished = false;
  setHandler(operate, () => nothing());
  setHandler(finish, () => void (finished = true));
  await condition(() => finished);
}
