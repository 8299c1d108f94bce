// The API's side of power sync: at start-up it makes the Temporal Schedule match the settings
// (created, or updated in place when another start made it), or removes it when power sync is off.
import { ScheduleAlreadyRunning, ScheduleNotFoundError, type Client, type ScheduleOptions } from '@temporalio/client';
import type { PowerSyncSettings } from '../domain/power-sync.js';
import { POWER_SYNC_WORKFLOW_ID, powerSyncScheduleId } from '../workflows/power-sync-contract.js';

/** Temporal's least catch-up window. */
const MIN_CATCHUP_SECONDS = 10;

/** A period of 0 turns power sync off. */
export async function ensurePowerSyncSchedule(
  client: Client,
  taskQueue: string,
  settings: PowerSyncSettings,
): Promise<void> {
  const scheduleId = powerSyncScheduleId(taskQueue);
  if (settings.periodSeconds === 0) {
    await client.schedule
      .getHandle(scheduleId)
      .delete()
      .catch((err) => {
        if (!(err instanceof ScheduleNotFoundError)) throw err;
      });
    return;
  }
  const options = {
    spec: { intervals: [{ every: `${settings.periodSeconds}s` }] },
    action: {
      type: 'startWorkflow' as const,
      workflowType: 'powerSyncWorkflow',
      workflowId: POWER_SYNC_WORKFLOW_ID,
      taskQueue,
      args: [settings],
    },
    policies: {
      // A run still going when the next is due (slow BMCs) finishes first; the due one is skipped.
      overlap: 'SKIP' as const,
      // After Temporal was away, one run makes up for everything missed.
      catchupWindow: `${Math.max(MIN_CATCHUP_SECONDS, settings.periodSeconds)}s`,
    },
  } satisfies Omit<ScheduleOptions, 'scheduleId'>;
  try {
    await client.schedule.create({ scheduleId, ...options });
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await client.schedule.getHandle(scheduleId).update((previous) => ({ ...previous, ...options }));
  }
}
