// What the Temporal UI shows of a running operation: its current details (the plan, step N of
// M), the CurrentStep search attribute, and a summary on every activity naming the step it
// serves (added by the outbound interceptor in interceptors.ts). Operations started before this
// existed replay without it: it is switched on behind a patch marker.
import { setCurrentDetails } from '@temporalio/workflow';
import { stepName } from '../domain/steps.js';
import { CurrentStep } from './contract.js';
import { updateSearchAttribute } from './search-attributes.js';
import type { StepPlan } from './step-runner.js';
import { DISPLAY_PATCH, hasPatch } from './patches.js';

const STATUS_MARKS = { pending: '·', running: '▶', waiting: '⏸', done: '✓', failed: '✗' } as const;

/** Per workflow run: the workflow sandbox gives each run its own module state. */
let display: { operation: string; current?: string } | undefined;

/** Starts describing this run as `operation` (deploy, clean, power off…), when the run has the patch. */
export function describeOperation(operation: string): void {
  display = hasPatch(DISPLAY_PATCH) ? { operation } : undefined;
}

/**
 * What the run does outside a plan's steps: booting the ramdisk, powering off… Without
 * `searchAttribute`, CurrentStep is left as it is (its starter set it to this phase).
 */
export function showPhase(phase: string, { searchAttribute = true } = {}): void {
  if (!display) return;
  display.current = phase;
  setCurrentDetails(`**${display.operation}**: ${phase}`);
  if (searchAttribute) updateSearchAttribute(CurrentStep, phase);
}

/** Step `index` of `plan` runs: step N of M, with the plan and where each step is. */
export function showStep(plan: StepPlan, index: number): void {
  if (!display) return;
  const name = stepName(plan[index].step);
  display.current = `step ${index + 1}/${plan.length} ${name}`;
  const lines = plan.map(({ status }, i) => `${i + 1}. ${STATUS_MARKS[status.status]} ${status.name}`);
  setCurrentDetails(
    [`**${display.operation}**: step ${index + 1} of ${plan.length}: **${name}**`, '', ...lines].join('\n'),
  );
  updateSearchAttribute(CurrentStep, name);
}

/** The summary an activity gets in the UI: what it does for which step; undefined when the run has no display. */
export function activitySummary(activityType: string): string | undefined {
  if (!display) return undefined;
  return `${display.current ?? display.operation} · ${activityType}`;
}
