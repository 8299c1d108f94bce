// The shapes bench/temporal-floor.ts times, each doing nothing but Temporal's part of the work:
//   operation, longRunning   a power change: one local activity, as a workflow per operation
//                            (Tempered's: a node's lock is its operation's workflow id) or as an
//                            update to a long-running workflow;
//   deployShaped             a zero-delay deploy's history: 25 local activities, 4 activities, a
//                            signal (the ramdisk's first heartbeat, 100 ms after power-on) awaited
//                            under a timer.
import {
  condition,
  defineSignal,
  defineUpdate,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
} from '@temporalio/workflow';
import type { FloorActivities } from './activities.js';

const { nothing, powerOn } = proxyLocalActivities<FloorActivities>({ startToCloseTimeout: '5s' });
const { bootMedia, agentCommand } = proxyActivities<FloorActivities>({ startToCloseTimeout: '1 minute' });

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

export const heartbeat = defineSignal('heartbeat');

/** Local activities one after the other, as a deploy records its steps and asks its BMC. */
async function localCalls(count: number): Promise<void> {
  for (let i = 0; i < count; i++) await nothing();
}

export async function deployShaped(): Promise<void> {
  let booted = false;
  setHandler(heartbeat, () => void (booted = true));
  await localCalls(3); // the provision state, a fast-track check
  await bootMedia(); // the ramdisk's boot media
  await localCalls(3); // the boot recorded, the machine switched off
  await powerOn(); // and on: its ramdisk's agent heartbeats
  if (!(await condition(() => booted, '30 minutes'))) throw new Error('no heartbeat');
  for (let step = 0; step < 3; step++) {
    await localCalls(4); // the step's records
    await agentCommand(); // the step, run by the agent
  }
  await localCalls(6); // the final boot, the end state
}
