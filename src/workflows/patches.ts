// Which changes of the code an operation takes. A change that would make a running operation's
// replay differ is behind a Temporal patch: an operation begun before it replays without it.
// The SDK records a marker for each patch an operation first takes, and upserts the
// TemporalChangeVersion search attribute with it: a visibility write in the server, per patch,
// per operation. So an operation begun since BASELINE_PATCH takes that one patch, which stands
// for the patches listed with it; an older one replays with the patches it took. A later change
// gets a patch of its own, asked with hasPatch() like these.
import { patched } from '@temporalio/workflow';

/** Operations describe themselves in the Temporal UI (display.ts). */
export const DISPLAY_PATCH = 'temporal-ui-details';

/**
 * A machine not yet at its power target is awaited inside one activity first (power.ts,
 * POWER_AWAIT_IN_ACTIVITY_SECONDS); operations begun before it slept between reads.
 */
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

/**
 * Operations begun before it made the quick calls (quick-calls.ts; other than a power change's) as
 * ordinary activities only, and replay with them as such.
 */
export const QUICK_CALLS_LOCAL_PATCH = 'quick-calls-local';

/**
 * Verifications (and adoptions) begun before the BMC's credentials were checked by a local try
 * first checked them with an ordinary activity only, and replay so.
 */
export const VERIFY_LOCAL_PATCH = 'verify-local';

/**
 * Verifications begun before this recorded the power state that the credentials check read with a
 * call of their own, and replay so.
 */
export const VERIFY_RECORDS_POWER_PATCH = 'verify-records-power';

/** Quick out-of-band steps (Step.quick) ran as ordinary activities only in operations begun before this. */
export const QUICK_STEPS_LOCAL_PATCH = 'quick-steps-local';

/** Cleanings with nothing to run after their own tear-down powered the machine off a second time before this. */
export const CLEAN_RESTS_ONCE_PATCH = 'clean-rests-once';

/** Deploys begun before the instance could be started by kexec keep rebooting into it when replayed. */
export const KEXEC_FINAL_BOOT_PATCH = 'kexec-final-boot';

/**
 * A search attribute is written only when its value changes (search-attributes.ts): operations
 * begun before it also wrote the Operation their starter had set.
 */
export const SEARCH_ATTRIBUTES_WHEN_CHANGED_PATCH = 'search-attributes-when-changed';

/**
 * Stands for the patches of IN_BASELINE in operations begun since it (one marker and one upsert,
 * not one each). Frozen: a run begun on it replays with exactly this set, so adding or removing an
 * id would change what it replays. A later consolidation takes a new baseline id with a set of
 * its own. Rolling back to a release before this one strands the operations begun on it (their
 * histories lack the markers the older code asks for): let them finish first.
 */
export const BASELINE_PATCH = 'baseline-2026-12';

export const IN_BASELINE: ReadonlySet<string> = new Set([
  DISPLAY_PATCH,
  POWER_WAIT_IN_ACTIVITY_PATCH,
  LOCAL_POWER_CALLS_PATCH,
  BOOT_POWER_ACTIVITIES_PATCH,
  GUARDED_BOOT_POWER_PATCH,
  ONE_CALL_POWER_CHANGE_PATCH,
  QUICK_CALLS_LOCAL_PATCH,
  VERIFY_LOCAL_PATCH,
  VERIFY_RECORDS_POWER_PATCH,
  QUICK_STEPS_LOCAL_PATCH,
  CLEAN_RESTS_ONCE_PATCH,
  KEXEC_FINAL_BOOT_PATCH,
  SEARCH_ATTRIBUTES_WHEN_CHANGED_PATCH,
]);

/** Per workflow run (the sandbox gives each its own module state): whether it took the baseline. */
let onBaseline: boolean | undefined;

/** Whether this operation takes the change behind patch `id`: asked instead of patched(). */
export function hasPatch(id: string): boolean {
  if (IN_BASELINE.has(id)) {
    // Decided at the run's first check: true in a new operation, false in one begun before.
    onBaseline ??= patched(BASELINE_PATCH);
    if (onBaseline) return true;
  }
  return patched(id);
}
