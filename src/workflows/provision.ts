// One workflow for every provision verb. The verb's first transition tells which handler
// drives the node from there, one handler per transient state (as Metal3 has one per host
// state); when a handler is done the node takes the `done` transition, which may lead to the
// next handler (undeploy: deleting, then cleaning).
import {
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  log,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { allowedEvents, type ProvisionEvent, type ProvisionState } from '../domain/provision.js';
import type { FoundKernel } from '../domain/final-boot.js';
import type { StepKind } from '../domain/steps.js';
import { agent, bmc, records } from './activities.js';
import { describeOperation, showPhase } from './display.js';
import { Operation, ProvisionStateKey, type ProvisionInput } from './contract.js';
import { failureMessage } from './failures.js';
import { settlePower } from './power.js';
import { quickCalls, verifyAndRecordPower } from './quick-calls.js';
import { updateSearchAttribute } from './search-attributes.js';
import {
  abortSignal,
  agentCommandEndedSignal,
  agentHeartbeatSignal,
  planQuery,
  unholdSignal,
  type AgentCommandEnd,
} from './signals.js';
import { planOf, runSteps, StepAborted, type StepPlan, type StepRun } from './step-runner.js';
import {
  BOOT_POWER_ACTIVITIES_PATCH,
  CLEAN_RESTS_ONCE_PATCH,
  GUARDED_BOOT_POWER_PATCH,
  KEXEC_FINAL_BOOT_PATCH,
  ONE_CALL_POWER_CHANGE_PATCH,
  hasPatch,
} from './patches.js';

type Handler = (op: ProvisionOperation) => Promise<void>;

/** Verify: the BMC must answer with the stored credentials; learn the power state meanwhile. */
async function verify(op: ProvisionOperation): Promise<void> {
  showPhase('check the BMC credentials');
  await verifyAndRecordPower(op.nodeUuid, op.input.context);
}

/** Clean: run the clean steps; fast-track keeps the agent up for the next operation, otherwise the machine rests. */
async function clean(op: ProvisionOperation): Promise<void> {
  await op.runPlan('clean');
  if (await records.keepAgentAfterCleaning(op.nodeUuid)) return;
  // An undeploy's tear-down powered the machine off and no step or boot came since: it rests already.
  if (op.plan.length === 0 && op.restingSinceOwnPowerOff && hasPatch(CLEAN_RESTS_ONCE_PATCH)) return;
  showPhase('power off');
  await op.powerOff();
}

/** Deploy: run the deploy steps (image, config drive, templates), then start the instance. */
async function deploy(op: ProvisionOperation): Promise<void> {
  await op.runPlan('deploy');
  if (!hasPatch(KEXEC_FINAL_BOOT_PATCH)) return void (await op.boot('instance'));
  showPhase('start the instance');
  const kexecProblem = await op.kexecIntoInstance();
  if (kexecProblem !== undefined) await op.boot('instance', kexecProblem || undefined);
}

/**
 * Inspect: what the BMC knows out of band; the agent in band when asked, or when the BMC left
 * something unknown (a live fast-track agent is used as it is). Then properties, ports and rules.
 */
async function inspect(op: ProvisionOperation): Promise<void> {
  showPhase('inspect out of band');
  const { needsAgent, missing } = await bmc.bmcInspect(op.nodeUuid);
  if (needsAgent) {
    if (!op.usesRamdisk) {
      throw ApplicationFailure.nonRetryable(
        `inspection needs the agent (out of band left unknown: ${missing.join(', ') || 'everything'}), but this node boots no ramdisk`,
        'InspectionIncomplete',
      );
    }
    await op.ensureAgent();
    showPhase('inspect in band');
    await agent.agentInspect(op.nodeUuid);
  }
  const { failure } = await records.applyInspection(op.nodeUuid, op.input.context);
  if (failure) throw ApplicationFailure.nonRetryable(failure, 'InspectionRuleFailed');
  // Like cleaning, inspection may leave the agent up for the next operation (fast-track).
  if (needsAgent && !(await records.keepAgentAfterCleaning(op.nodeUuid))) await op.powerOff();
}

/**
 * Service: the requested steps on an active machine. The agent boots only when a step runs in-band;
 * a machine that was touched (ramdisk, firmware, BIOS) boots its instance again at the end.
 */
async function service(op: ProvisionOperation): Promise<void> {
  if (await op.runServicePlan()) await op.bootInstance();
}

/**
 * Rescue: the ramdisk boots (an agent left from a failed try is used as it is); its agent takes the rescue password's hash (read by the activity,
 * never carried by the workflow) and hands the machine to the rescue user.
 */
async function rescue(op: ProvisionOperation): Promise<void> {
  try {
    await op.ensureAgent();
    await agent.agentFinalizeRescue(op.nodeUuid);
  } finally {
    await records.forgetRescue(op.nodeUuid);
  }
}

/** Unrescue: the rescue system stops and the deployed instance boots again. */
async function unrescue(op: ProvisionOperation): Promise<void> {
  await op.bootInstance();
}

/** Tear-down before cleaning: the tenant's instance stops. */
async function tearDown(op: ProvisionOperation): Promise<void> {
  showPhase('power off the instance');
  await op.powerOff();
}

/**
 * Adopt: take over a machine already running its instance. The BMC must answer; its power state is
 * recorded as found, and the next boot is set to the disk. No ramdisk, no power change, no disk write.
 */
async function adopt(op: ProvisionOperation): Promise<void> {
  await verify(op);
  await quickCalls().bmcSetBootDevice(op.nodeUuid, 'disk', true);
}

/** What drives the node in each transient state. */
const HANDLERS: Partial<Record<ProvisionState, Handler>> = {
  verifying: verify,
  inspecting: inspect,
  cleaning: clean,
  deploying: deploy,
  deleting: tearDown,
  adopting: adopt,
  servicing: service,
  rescuing: rescue,
  unrescuing: unrescue,
};

/** States in which a failure leaves a machine half-provisioned: it is powered off rather than left running. */
const POWER_OFF_ON_FAILURE: ReadonlySet<ProvisionState> = new Set<ProvisionState>([
  // A failed inspection may leave the agent's ramdisk running: it goes off too.
  'inspecting',
  'inspect wait',
  'cleaning',
  'clean wait',
  'deploying',
  'wait call-back',
]);

/**
 * Boot (available → available): the node boots into the agent, or keeps the live one it has, and
 * stays there heartbeating, pre-booted for the next operation. The transition comes at the end, so
 * the node shows its target while the agent boots; a failure leaves the node available and off,
 * with why as last_error.
 */
async function preboot(op: ProvisionOperation): Promise<ProvisionState> {
  const { nodeUuid, context } = op.input;
  await records.beginPreboot(nodeUuid);
  try {
    await op.ensureAgent(() => op.bootAndAwaitAgent());
    await records.finishPreboot(nodeUuid, context);
  } catch (err) {
    const why = op.abortRequested ? 'aborted on request while booting' : failureMessage(err);
    await CancellationScope.nonCancellable(async () => {
      await op
        .powerOff()
        .catch((powerErr) =>
          log.warn('could not power the machine off after the failure', { error: failureMessage(powerErr) }),
        );
      await records.failPreboot(nodeUuid, why, context);
    });
    if (op.abortRequested) return op.state;
    throw err;
  }
  await op.transition('boot');
  return op.state;
}

export async function provisionWorkflow(input: ProvisionInput): Promise<ProvisionState> {
  updateSearchAttribute(Operation, input.verb);
  describeOperation(input.verb);
  const op = new ProvisionOperation(input);
  if (input.verb === 'boot') return preboot(op);
  await op.begin();
  for (let handler = HANDLERS[op.state]; handler; handler = HANDLERS[op.state]) {
    try {
      await handler(op);
    } catch (err) {
      return op.fail(err);
    }
    await op.transition('done');
  }
  return op.state;
}

/** One running operation on one node: its state, its plan, and what the API told it (heartbeats, abort). */
class ProvisionOperation {
  state: ProvisionState;
  plan: StepPlan = [];
  heartbeats = 0;
  /** Boots this run has begun: each power cycle's key (GUARDED_BOOT_POWER_PATCH). */
  boots = 0;
  /** This run powered the machine off, and nothing has booted it since. */
  restingSinceOwnPowerOff = false;
  /** Agent commands reported ended, by id; a duplicated report sets the same entry again. */
  readonly commandEnds = new Map<string, AgentCommandEnd>();
  abortRequested = false;
  unholdRequested = false;
  agentBootTimeoutSeconds = 0;

  constructor(readonly input: ProvisionInput) {
    this.state = input.fromState;
    setHandler(planQuery, () => this.plan.map((planned) => planned.status));
    setHandler(agentHeartbeatSignal, () => void this.heartbeats++);
    setHandler(agentCommandEndedSignal, ({ commandId, status }) => void this.commandEnds.set(commandId, status));
    setHandler(abortSignal, () => void (this.abortRequested = true));
    setHandler(unholdSignal, () => void (this.unholdRequested = true));
  }

  get nodeUuid(): string {
    return this.input.nodeUuid;
  }

  /** The one place that decides whether this operation boots the agent's ramdisk. */
  get usesRamdisk(): boolean {
    return !this.input.disableRamdisk;
  }

  /** The verb's transition, which also applies what the API handed over (the node's new instance_info). */
  begin(): Promise<void> {
    return this.transition(this.input.verb, { handOver: this.input.handOver });
  }

  async transition(
    event: ProvisionEvent,
    { error, handOver }: { error?: string; handOver?: string } = {},
  ): Promise<void> {
    const { nodeUuid, context } = this.input;
    const next = await records.transitionProvision({ nodeUuid, event, from: this.state, context, error, handOver });
    this.state = next.provision_state;
    updateSearchAttribute(ProvisionStateKey, this.state);
  }

  /**
   * Ends the operation after `err`: aborted on request, or failed with the reason on the node. Answers
   * the final state of an abort; rethrows a failure so the workflow fails too.
   */
  async fail(err: unknown): Promise<ProvisionState> {
    const aborted = err instanceof StepAborted || this.abortRequested;
    const failedIn = this.state;
    const event = aborted && allowedEvents(failedIn).includes('abort') ? 'abort' : 'fail';
    const why = aborted
      ? `aborted on request while ${failedIn}`
      : isCancellation(err)
        ? 'the operation was cancelled'
        : failureMessage(err);
    // Even when the workflow itself was cancelled (from the Temporal UI), the node must not stay mid-operation.
    await CancellationScope.nonCancellable(async () => {
      await this.transition(event, { error: why });
      if (POWER_OFF_ON_FAILURE.has(failedIn)) {
        await this.powerOff().catch((powerErr) =>
          log.warn('could not power the machine off after the failure', { error: failureMessage(powerErr) }),
        );
      }
    });
    if (aborted) return this.state;
    throw err;
  }

  /** Plans the clean or deploy steps (with the agent's, when the ramdisk is used) and runs them. */
  async runPlan(kind: StepKind): Promise<void> {
    if (this.usesRamdisk) await this.ensureAgent();
    const agentSteps = this.usesRamdisk ? await quickCalls().agentListSteps(this.nodeUuid, kind) : [];
    const requested = kind === 'clean' ? this.input.cleanSteps : undefined;
    this.plan = planOf(
      await records.planSteps({ nodeUuid: this.nodeUuid, kind, requested, agentSteps, withRamdisk: this.usesRamdisk }),
    );
    await runSteps(this.stepRun(kind), this.plan);
  }

  /**
   * Plans the requested service steps and runs them, booting the agent only when one of them is an
   * agent's; answers whether the machine was touched (the ramdisk booted or a BMC step ran).
   */
  async runServicePlan(): Promise<boolean> {
    const request = { nodeUuid: this.nodeUuid, kind: 'service' as const, requested: this.input.serviceSteps };
    const withAgent = this.usesRamdisk && (await records.stepsNeedAgent({ ...request, withRamdisk: true }));
    if (withAgent) await this.ensureAgent();
    const agentSteps = withAgent ? await quickCalls().agentListSteps(this.nodeUuid, 'service') : [];
    this.plan = planOf(await records.planSteps({ ...request, agentSteps, withRamdisk: this.usesRamdisk }));
    await runSteps(this.stepRun('service', withAgent), this.plan);
    return withAgent || this.plan.some(({ step }) => step.runner === 'bmc');
  }

  /** `withAgent`: the operation uses the agent, so a step that rebooted the machine is followed by a new agent boot. */
  private stepRun(kind: StepKind, withAgent = this.usesRamdisk): StepRun {
    return {
      nodeUuid: this.nodeUuid,
      kind,
      context: this.input.context,
      aborted: () => this.abortRequested,
      waiting: (wait) => this.waiting(wait),
      hold: () => this.hold(),
      rebootIntoRamdisk: async () => {
        if (withAgent) await this.bootAgent();
      },
      reportedEnd: (commandId) => this.commandEnds.get(commandId),
    };
  }

  /** A wait shown as the wait state of the operation (clean wait / wait call-back), where abort is legal. */
  async waiting(wait: () => Promise<void>): Promise<void> {
    await this.transition('wait');
    await wait();
    // An abort that came while a step could not be interrupted takes effect now, still in the wait state.
    if (this.abortRequested) throw new StepAborted();
    await this.transition('resume');
  }

  /** Parked in the hold state (clean hold, service hold) until an operator's unhold, or an abort. */
  private async hold(): Promise<void> {
    this.unholdRequested = false;
    await this.transition('hold');
    await condition(() => this.unholdRequested || this.abortRequested);
    if (this.abortRequested) throw new StepAborted();
    await this.transition('unhold');
  }

  /** A live agent (fast-track, pre-booted) is used as it is; otherwise the node boots the ramdisk with `bootAgent`. */
  async ensureAgent(bootAgent = () => this.bootAgent()): Promise<void> {
    const { alive, bootTimeoutSeconds } = await records.agentStatus(this.nodeUuid);
    this.agentBootTimeoutSeconds = bootTimeoutSeconds;
    if (!alive) await bootAgent();
  }

  /** Boots the ramdisk and waits for the new agent, the node shown in its wait state from the boot on. */
  private async bootAgent(): Promise<void> {
    await this.waiting(() => this.bootAndAwaitAgent());
  }

  /** Boots the ramdisk and waits, durably, for the new agent's heartbeat. */
  async bootAndAwaitAgent(): Promise<void> {
    const timeout = this.agentBootTimeoutSeconds;
    showPhase('boot the ramdisk and wait for the agent');
    const heartbeatsAtBoot = await this.boot('ramdisk');
    const heartbeated = await condition(
      () => this.heartbeats > heartbeatsAtBoot || this.abortRequested,
      timeout * 1000,
    );
    if (this.abortRequested) throw new StepAborted();
    if (!heartbeated) {
      throw ApplicationFailure.nonRetryable(
        `the agent did not heartbeat within ${timeout} s of booting the ramdisk`,
        'AgentTimeout',
      );
    }
  }

  /**
   * Starts the instance by kexec from the running agent, when the deployment or the node chose it:
   * no POST, no power change. The boot device is set to the disk first, so the next power cycle
   * boots the same instance. Answers undefined when it did; otherwise why a reboot must start the
   * instance instead ('' when reboot was the choice anyway).
   */
  async kexecIntoInstance(): Promise<string | undefined> {
    const choice = await records.finalBootChoice(this.nodeUuid);
    if (choice.method === 'reboot') return choice.fallback ?? '';
    if (!this.usesRamdisk) return 'kexec needs the agent, and this deploy ran without the ramdisk: rebooted instead';
    let kernel: FoundKernel;
    try {
      const search = await agent.agentFindKernel(this.nodeUuid);
      if (!search.found) return `no kernel to kexec: ${search.reason}; rebooted instead`;
      kernel = search.found;
      await quickCalls().bmcSetBootDevice(this.nodeUuid, 'disk', true);
      await agent.agentKexec(this.nodeUuid, kernel);
    } catch (err) {
      if (isCancellation(err)) throw err;
      return `kexec failed (${failureMessage(err)}): rebooted instead`;
    }
    // The instance runs from here on: a failure now fails the deploy rather than power-cycling it.
    await quickCalls().bmcFinishRamdiskBoot(this.nodeUuid);
    await records.recordBoot(this.nodeUuid, 'instance', this.input.context, {
      kexec: true,
      note: `${kernel.kernel} ${kernel.cmdline}`,
    });
    return undefined;
  }

  /**
   * Boots the machine into the ramdisk or its deployed instance, counting the boot, and answers
   * the heartbeats counted when the old agent's session ended (only a new agent's count after it).
   * Off, then on, each call keyed by the boot so that neither is taken twice, also when a lost
   * workflow task runs them again. `note` goes on the boot's event (why it was no kexec).
   */
  async boot(into: 'ramdisk' | 'instance', note?: string): Promise<number> {
    this.restingSinceOwnPowerOff = false;
    if (into === 'instance') showPhase('boot the deployed instance');
    // The ramdisk's media carry a token made for this boot: made once, as an ordinary activity.
    await (into === 'ramdisk'
      ? bmc.bmcPrepareRamdiskBoot(this.nodeUuid)
      : quickCalls().bmcFinishRamdiskBoot(this.nodeUuid));
    const bootKey = hasPatch(GUARDED_BOOT_POWER_PATCH) ? `${workflowInfo().runId}/boot-${++this.boots}` : undefined;
    await records.recordBoot(this.nodeUuid, into, this.input.context, { note, bootKey });
    const heartbeatsAtBoot = this.heartbeats;
    const mayCallLocally = bootKey !== undefined || !hasPatch(BOOT_POWER_ACTIVITIES_PATCH);
    await settlePower(this.nodeUuid, 'power off', this.input.context, { mayCallLocally, bootKey });
    await settlePower(this.nodeUuid, 'power on', this.input.context, { mayCallLocally, bootKey });
    return heartbeatsAtBoot;
  }

  /**
   * Back to the deployed instance after a ramdisk boot spent the disk's persistent boot setting (as
   * Ironic's prepare_instance does after servicing and rescue): the disk boots, now and from now on.
   */
  async bootInstance(): Promise<void> {
    await quickCalls().bmcSetBootDevice(this.nodeUuid, 'disk', true);
    await this.boot('instance');
  }

  /** Off, virtual media ejected, agent session forgotten: the machine rests. */
  async powerOff(): Promise<void> {
    await settlePower(this.nodeUuid, 'power off', this.input.context);
    await quickCalls().bmcFinishRamdiskBoot(this.nodeUuid);
    // In one call, the power off's record also ended the agent's session (savePowerState).
    if (!hasPatch(ONE_CALL_POWER_CHANGE_PATCH)) await records.forgetAgent(this.nodeUuid);
    this.restingSinceOwnPowerOff = true;
  }
}
