// The step runner shared by cleaning, deploying and servicing. It runs a plan in
// order; a step answering RerunAfter is slept on durably and run again, one answering RunNext
// gets those steps inserted right after it. An agent command that outlasts its start is waited
// for durably: the agent reports its end (a signal wakes the wait), and a slow check catches a
// lost report. No activity ever blocks for minutes, and a crashed worker resumes where it was.
import { ApplicationFailure, condition, isCancellation, sleep } from '@temporalio/workflow';
import type { RequestContext } from '../domain/context.js';
import { stepName, type Step, type StepKind, type StepResult, type StepStatus } from '../domain/steps.js';
import type { AgentCommandStatus } from '../activities/agent.js';
import { agent, records } from './activities.js';
import { showStep } from './display.js';
import { failureMessage } from './failures.js';
import { bmcStepCall } from './quick-calls.js';
import type { AgentCommandEnd } from './signals.js';

/**
 * The safety net for a lost report: a command not heard of is asked after 30 s, then every 60 s.
 * Reports are what normally end the wait, so these checks cost nothing while all goes well.
 */
const COMMAND_CHECK_FIRST_SECONDS = 30;
const COMMAND_CHECK_MAX_SECONDS = 60;

export interface StepRun {
  nodeUuid: string;
  kind: StepKind;
  context: RequestContext;
  /** True once an abort was asked for; the runner stops at the next point the step allows. */
  aborted: () => boolean;
  /** Runs a wait with the node shown in its wait state (clean wait, wait call-back), where abort is allowed. */
  waiting: (wait: () => Promise<void>) => Promise<void>;
  /** Parks the node in its hold state until an operator's unhold (throws StepAborted on an abort). */
  hold: () => Promise<void>;
  /** After a step that asked for a reboot (one that rebooted the machine, as a BIOS change does): the agent is booted again. */
  rebootIntoRamdisk: () => Promise<void>;
  /** How the agent reported the command to have ended; undefined while no report came. */
  reportedEnd: (commandId: string) => AgentCommandEnd | undefined;
}

/** A step of the plan with where it is; the plan query shows the statuses. */
export interface PlannedStep {
  step: Step;
  status: StepStatus;
}

export type StepPlan = PlannedStep[];

export function planOf(steps: Step[]): StepPlan {
  return steps.map((step) => ({
    step,
    status: { name: stepName(step), priority: step.priority, runner: step.runner, status: 'pending', reruns: 0 },
  }));
}

export class StepAborted extends Error {}

/** Sleeps durably; an abort cuts an abortable step's wait short, others finish first. */
async function pause(run: StepRun, step: Step, seconds: number): Promise<void> {
  if (!step.abortable) return void (await sleep(seconds * 1000));
  if (await condition(run.aborted, seconds * 1000)) throw new StepAborted();
}

/**
 * Waits, in the node's wait state, until the command ends: woken by the agent's report, or finding
 * the end itself with a slow check when a report was lost. An abort cuts an abortable step's wait short.
 */
async function awaitCommand(run: StepRun, step: Step, commandId: string): Promise<AgentCommandStatus> {
  let command: AgentCommandStatus = { status: 'RUNNING' };
  await run.waiting(async () => {
    const interrupted = () => run.reportedEnd(commandId) !== undefined || (step.abortable && run.aborted());
    for (
      let seconds = COMMAND_CHECK_FIRST_SECONDS;
      command.status === 'RUNNING';
      seconds = Math.min(seconds * 2, COMMAND_CHECK_MAX_SECONDS)
    ) {
      if (!(await condition(interrupted, seconds * 1000))) {
        command = await agent.agentCommandStatus(run.nodeUuid, commandId);
        continue;
      }
      const reported = run.reportedEnd(commandId);
      if (!reported) throw new StepAborted();
      command = { status: reported };
    }
  });
  return command;
}

/**
 * Starts the step on the agent, which answers at once when the command ends within a few seconds;
 * a longer one is awaited durably. Why a command failed is read by an activity, never carried in
 * the report.
 */
async function runAgentStep(run: StepRun, step: Step): Promise<StepResult> {
  const started = await agent.agentStartStep(run.nodeUuid, run.kind, step);
  let command: AgentCommandStatus =
    started.status === 'RUNNING' ? await awaitCommand(run, step, started.commandId) : started;
  if (command.status === 'FAILED' && command.error === undefined)
    command = await agent.agentCommandStatus(run.nodeUuid, started.commandId);
  if (command.status === 'FAILED')
    throw ApplicationFailure.nonRetryable(command.error ?? 'the agent reported a failure', 'AgentStepFailed');
  return { kind: 'done' };
}

/** Ironic's reserved steps, which the workflow carries out itself: hold until unhold, or wait (in the wait state). */
async function runReservedStep(run: StepRun, step: Step): Promise<StepResult> {
  if (step.step === 'hold') await run.hold();
  else await run.waiting(() => pause(run, step, Number(step.args.seconds)));
  return { kind: 'done' };
}

function runOnce(run: StepRun, step: Step, attempt: number, state: unknown): Promise<StepResult> {
  if (step.runner === 'workflow') return runReservedStep(run, step);
  return step.runner === 'agent'
    ? runAgentStep(run, step)
    : bmcStepCall(step)(run.nodeUuid, run.kind, step, attempt, state);
}

/** Runs one step to its end: again after each RerunAfter; RunNext's steps go into the plan after it. */
async function runStep(run: StepRun, plan: StepPlan, index: number): Promise<void> {
  const { step, status } = plan[index];
  let state: unknown;
  for (let attempt = 0; ; attempt++) {
    const outcome = await runOnce(run, step, attempt, state);
    if (outcome.kind === 'rerun_after') {
      state = outcome.state;
      status.status = 'waiting';
      status.reruns++;
      await run.waiting(() => pause(run, step, outcome.seconds));
      status.status = 'running';
      continue;
    }
    if (outcome.kind === 'failed') throw new Error(outcome.message);
    if (outcome.kind === 'run_next') plan.splice(index + 1, 0, ...planOf(outcome.steps));
    return;
  }
}

/**
 * Runs every step of `plan`. A failing step fails the run with its name in the message; an abort
 * stops before the next step, or inside an abortable step's wait.
 */
export async function runSteps(run: StepRun, plan: StepPlan): Promise<void> {
  const progress = (step: Step, phase: 'start' | 'end') =>
    records.recordStep({ nodeUuid: run.nodeUuid, kind: run.kind, step, phase, context: run.context });
  for (let index = 0; index < plan.length; index++) {
    if (run.aborted()) throw new StepAborted();
    const { step, status } = plan[index];
    status.status = 'running';
    showStep(plan, index);
    await progress(step, 'start');
    try {
      await runStep(run, plan, index);
    } catch (err) {
      status.status = 'failed';
      if (err instanceof StepAborted || isCancellation(err)) throw err;
      throw ApplicationFailure.nonRetryable(
        `${run.kind} step ${stepName(step)} failed: ${failureMessage(err)}`,
        'StepFailed',
      );
    }
    status.status = 'done';
    await progress(step, 'end');
    if (step.reboot_requested) await run.rebootIntoRamdisk();
  }
}
