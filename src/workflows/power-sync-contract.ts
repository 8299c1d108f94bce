// What the API and the power sync workflow agree on: the Schedule's and its runs' IDs. Safe to
// import from workflow code.

/** The one power sync Schedule of a task queue (its workers check the nodes of their database). */
export function powerSyncScheduleId(taskQueue: string): string {
  return `power-sync/${taskQueue}`;
}

/** What each run's workflow ID starts with; Temporal appends the time the Schedule fired. */
export const POWER_SYNC_WORKFLOW_ID = 'power-sync';
