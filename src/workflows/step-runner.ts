// The step runner shared by cleaning and deploying (and later servicing). It runs a plan in
// order; a step answering RerunAfter is slept on durably and run again, one answering RunNext
// gets those steps inserted right after it. Agent commands are polled the same way: no activity
// ever blocks for minutes, and a crashed worker resumes the plan where it was.
import { ApplicationFailure, condition, isCancellation, sleep } from '@temporalio/workflow';
import { stepName, type Step, type StepKind, type StepResult, type StepStatus } from '../domain/steps.js';
import { agent, bmc, db } from './activities.js';
import type { RequestContext } from './contract.js';
import { failureMessage } from './failures.js';

/** A running agent command is asked whether it has finished after 2 s, then less and less often. */
const AGENT_POLL_FIRST_SECONDS = 2;
const AGENT_POLL_MAX_SECONDS = 10;

export interface StepRun {
  nodeUuid: string;
  kind: StepKind;
  context: RequestContext;
  /** True once an abort was asked for; the runner stops at the next point the step allows. */
  aborted: () => boolean;
  /** Runs a wait with the node shown in its wait state (clean wait, wait call-back), where abort is allowed. */
  waiting: (wait: () => Promise<void>) => Promise<void>;
  /** After a step that asked for a reboot (one that rebooted the machine, as a BIOS change does): the agent is booted again. */
  rebootIntoRamdisk: () => Promise<void>;
}

/** What the plan query shows: every step, with where it is. */
export class StepPlan {
  readonly steps: StepStatus[] = [];
  private readonly queue: Step[] = [];

  constructor(steps: Step[]) {
    this.insert(0, steps);
  }

  insert(at: number, steps: Step[]): void {
    this.queue.splice(at, 0, ...steps);
    this.steps.splice(
      at,
      0,
      ...steps.map((s): StepStatus => ({ name: stepName(s), priority: s.priority, runner: s.runner, status: 'pending', reruns: 0 })),
    );
  }

  get length(): number {
    return this.queue.length;
  }

  at(index: number): Step {
    return this.queue[index];
  }
}

export class StepAborted extends Error {}

/** Sleeps durably; an abort cuts an abortable step's wait short, others finish first. */
async function pause(run: StepRun, step: Step, seconds: number): Promise<void> {
  if (!step.abortable) return void (await sleep(seconds * 1000));
  if (await condition(run.aborted, seconds * 1000)) throw new StepAborted();
}

async function runAgentStep(run: StepRun, step: Step): Promise<StepResult> {
  const commandId = await agent.agentStartStep(run.nodeUuid, run.kind, step);
  let outcome: StepResult | undefined;
  await run.waiting(async () => {
    // Backing off keeps an hours-long erase from filling the workflow's history with polls.
    for (let seconds = AGENT_POLL_FIRST_SECONDS; ; seconds = Math.min(seconds * 1.5, AGENT_POLL_MAX_SECONDS)) {
      const command = await agent.agentCommandStatus(run.nodeUuid, commandId);
      if (command.status === 'SUCCEEDED') return void (outcome = command.outcome);
      if (command.status === 'FAILED') throw ApplicationFailure.nonRetryable(command.error ?? 'the agent reported a failure', 'AgentStepFailed');
      await pause(run, step, seconds);
    }
  });
  return outcome!;
}

function runOnce(run: StepRun, step: Step, attempt: number, state: unknown): Promise<StepResult> {
  return step.runner === 'agent' ? runAgentStep(run, step) : bmc.bmcRunStep(run.nodeUuid, run.kind, step, attempt, state);
}

/**
 * Runs every step of `plan`. A failing step fails the run with its name in the message; an abort
 * stops before the next step, or inside an abortable step's wait.
 */
export async function runSteps(run: StepRun, plan: StepPlan): Promise<void> {
  for (let index = 0; index < plan.length; index++) {
    if (run.aborted()) throw new StepAborted();
    const step = plan.at(index);
    const status = plan.steps[index];
    status.status = 'running';
    await db.recordStep({ nodeUuid: run.nodeUuid, kind: run.kind, step, phase: 'start', context: run.context });
    try {
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
        if (outcome.kind === 'run_next') plan.insert(index + 1, outcome.steps);
        break;
      }
    } catch (err) {
      status.status = 'failed';
      if (err instanceof StepAborted || isCancellation(err)) throw err;
      throw ApplicationFailure.nonRetryable(`${run.kind} step ${stepName(step)} failed: ${failureMessage(err)}`, 'StepFailed');
    }
    status.status = 'done';
    await db.recordStep({ nodeUuid: run.nodeUuid, kind: run.kind, step, phase: 'end', context: run.context });
    if (step.reboot_requested) await run.rebootIntoRamdisk();
  }
}
