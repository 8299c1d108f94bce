// Clean, deploy and service steps: what a step is, what it may answer, and the order a plan runs in.
// Pure: the workflow's step runner and the API's validation both use it.

export const STEP_KINDS = ['clean', 'deploy', 'service'] as const;
export type StepKind = (typeof STEP_KINDS)[number];

/** Who runs a step: the agent in the ramdisk, the BMC, or the workflow itself (the reserved hold and wait). */
export const STEP_RUNNERS = ['agent', 'bmc', 'workflow'] as const;
export type StepRunner = (typeof STEP_RUNNERS)[number];

export interface Step {
  interface: string;
  step: string;
  priority: number;
  args: Record<string, unknown>;
  abortable: boolean;
  reboot_requested: boolean;
  runner: StepRunner;
  /** Only nodes with one of these drivers run the step; absent: every driver. */
  drivers?: string[];
  /** Answers at once and may run again harmlessly (setting the boot device): tried as a local activity first. */
  quick?: boolean;
}

/**
 * What running a step answers, on either side of the driver boundary (drivers, the agent, the
 * step runner), after Metal3's provisioner Result: build it with the constructors below.
 */
export type StepResult<State = unknown> =
  | { kind: 'done' }
  /**
   * Not finished: sleep durably this long, then run the same step again, handing it `state`
   * (plain JSON without secrets: it is kept in the workflow's history).
   */
  | { kind: 'rerun_after'; seconds: number; state?: State }
  /** Finished, and these steps must run right after it. */
  | { kind: 'run_next'; steps: Step[] }
  /** The step ran and reports that what it did failed (a firmware task ending in an exception). */
  | { kind: 'failed'; message: string };

export const done = (): StepResult<never> => ({ kind: 'done' });
export const rerunAfter = <State>(seconds: number, state?: State): StepResult<State> => ({
  kind: 'rerun_after',
  seconds,
  state,
});
export const runNext = (steps: Step[]): StepResult<never> => ({ kind: 'run_next', steps });
export const failed = (message: string): StepResult<never> => ({ kind: 'failed', message });

/** A step a caller asks for by name (manual cleaning), with its arguments. */
export interface RequestedStep {
  interface: string;
  step: string;
  args: Record<string, unknown>;
}

export const stepName = (step: Pick<Step, 'interface' | 'step'>) => `${step.interface}.${step.step}`;

/**
 * Ironic's reserved steps, run by the step runner itself in a manual clean or a service:
 * `deploy.hold` parks the node (clean hold / service hold) until an operator's unhold;
 * `deploy.wait` sleeps `args.seconds`. An automated plan holds neither, except a deploy template's wait.
 */
export const RESERVED_STEPS: readonly Step[] = ['hold', 'wait'].map((step) => ({
  interface: 'deploy',
  step,
  priority: 0,
  args: {},
  abortable: true,
  reboot_requested: false,
  runner: 'workflow',
}));

/** The longest `deploy.wait` a caller may ask for: a day. A longer pause is a hold. */
export const MAX_WAIT_STEP_SECONDS = 86_400;

export const reservedStep = (step: Pick<Step, 'interface' | 'step'>): Step | undefined =>
  RESERVED_STEPS.find((reserved) => stepName(reserved) === stepName(step));

/** What is wrong with the arguments of a requested reserved step: the argument's path and why; undefined when fine. */
export function reservedStepProblem(step: RequestedStep): { path: string[]; message: string } | undefined {
  if (!reservedStep(step)) return undefined;
  const { seconds, ...others } = step.args;
  const extra = Object.keys(step.step === 'wait' ? others : step.args)[0];
  if (extra !== undefined) return { path: [extra], message: `${stepName(step)} takes no argument "${extra}"` };
  if (
    step.step === 'wait' &&
    !(Number.isInteger(seconds) && Number(seconds) >= 1 && Number(seconds) <= MAX_WAIT_STEP_SECONDS)
  )
    return { path: ['seconds'], message: `must be a whole number of seconds from 1 to ${MAX_WAIT_STEP_SECONDS}` };
  return undefined;
}

/** Ironic's tie-break for equal priorities: earlier interfaces run first. */
const INTERFACE_ORDER = ['vendor', 'power', 'management', 'firmware', 'deploy', 'bios', 'raid'];

function interfaceRank(name: string): number {
  const rank = INTERFACE_ORDER.indexOf(name);
  return rank === -1 ? INTERFACE_ORDER.length : rank;
}

/**
 * Overlays steps by (interface, step): a later source replaces an earlier one's priority and
 * args, so a deploy template may re-prioritise, or with priority 0 disable, a built-in step.
 */
export function overlaySteps(...sources: Step[][]): Step[] {
  const byName = new Map<string, Step>();
  for (const source of sources) {
    for (const step of source) {
      const existing = byName.get(stepName(step));
      byName.set(
        stepName(step),
        existing ? { ...existing, priority: step.priority, args: { ...existing.args, ...step.args } } : step,
      );
    }
  }
  return [...byName.values()];
}

/** The automated plan: enabled steps for this driver, highest priority first. */
export function orderSteps(steps: Step[], driver: string): Step[] {
  return steps
    .filter((s) => s.priority > 0 && (!s.drivers || s.drivers.includes(driver)))
    .sort((a, b) => b.priority - a.priority || interfaceRank(a.interface) - interfaceRank(b.interface));
}

/** For the node's clean_step / deploy_step and the plan query: no internals. */
export interface StepStatus {
  name: string;
  priority: number;
  runner: StepRunner;
  status: 'pending' | 'running' | 'waiting' | 'done' | 'failed';
  /** How often RerunAfter sent the step back. */
  reruns: number;
}
