// One workflow for every provision verb. The verb's first transition tells which handler
// drives the node from there, one handler per transient state (as Metal3 has one per host
// state); when a handler is done the node takes the `done` transition, which may lead to the
// next handler (undeploy: deleting, then cleaning).
import { ApplicationFailure, CancellationScope, condition, isCancellation, log, setHandler } from '@temporalio/workflow';
import { allowedEvents, type ProvisionEvent, type ProvisionState } from '../domain/provision.js';
import type { StepKind } from '../domain/steps.js';
import { agent, bmc, db } from './activities.js';
import { Operation, ProvisionStateKey, type ProvisionInput } from './contract.js';
import { failureMessage } from './failures.js';
import { updateSearchAttribute } from './search-attributes.js';
import { settlePower } from './power.js';
import { abortSignal, agentHeartbeatSignal, planQuery } from './signals.js';
import { runSteps, StepAborted, StepPlan, type StepRun } from './step-runner.js';

class ProvisionOperation {
  state: ProvisionState;
  plan = new StepPlan([]);
  heartbeats = 0;
  abortRequested = false;
  agentBootTimeoutSeconds = 0;

  constructor(readonly input: ProvisionInput) {
    this.state = input.fromState;
  }

  get nodeUuid() {
    return this.input.nodeUuid;
  }

  async transition(event: ProvisionEvent, error?: string): Promise<void> {
    const { nodeUuid, context } = this.input;
    const next = await db.transitionProvision({ nodeUuid, event, from: this.state, context, error });
    this.state = next.provision_state;
    updateSearchAttribute(ProvisionStateKey, this.state);
  }

  /** A wait shown as the wait state of the operation (clean wait / wait call-back), where abort is legal. */
  async waiting(wait: () => Promise<void>): Promise<void> {
    await this.transition('wait');
    await wait();
    // An abort that came while a step could not be interrupted takes effect now, still in the wait state.
    if (this.abortRequested) throw new StepAborted();
    await this.transition('resume');
  }

  stepRun(kind: StepKind): StepRun {
    return {
      nodeUuid: this.nodeUuid,
      kind,
      context: this.input.context,
      aborted: () => this.abortRequested,
      waiting: (wait) => this.waiting(wait),
      rebootIntoRamdisk: async () => {
        if (!this.input.disableRamdisk) await this.bootAgent();
      },
    };
  }

  /** A live agent (fast-track) is used as it is; otherwise the node boots the ramdisk. */
  async ensureAgent(): Promise<void> {
    const { alive, bootTimeoutSeconds } = await db.agentStatus(this.nodeUuid);
    this.agentBootTimeoutSeconds = bootTimeoutSeconds;
    if (!alive) await this.bootAgent();
  }

  /** Boots the ramdisk and waits, durably, for the new agent's heartbeat: the node shows the wait from the boot on. */
  async bootAgent(): Promise<void> {
    const timeout = this.agentBootTimeoutSeconds;
    await this.waiting(async () => {
      const heartbeatsAtBoot = await this.boot('ramdisk');
      const heartbeated = await condition(() => this.heartbeats > heartbeatsAtBoot || this.abortRequested, timeout * 1000);
      if (this.abortRequested) throw new StepAborted();
      if (!heartbeated) {
        throw ApplicationFailure.nonRetryable(`the agent did not heartbeat within ${timeout} s of booting the ramdisk`, 'AgentTimeout');
      }
    });
  }

  /**
   * Boots the machine into the ramdisk or its deployed instance, counting the boot, and answers
   * the heartbeats counted when the old agent's session ended (only a new agent's count after it).
   * Off, then on: each is idempotent, so a retried call never boots the machine twice.
   */
  async boot(into: 'ramdisk' | 'instance'): Promise<number> {
    await (into === 'ramdisk' ? bmc.bmcPrepareRamdiskBoot(this.nodeUuid) : bmc.bmcFinishRamdiskBoot(this.nodeUuid));
    await db.recordBoot(this.nodeUuid, into, this.input.context);
    const heartbeatsAtBoot = this.heartbeats;
    await settlePower(this.nodeUuid, 'power off', this.input.context);
    await settlePower(this.nodeUuid, 'power on', this.input.context);
    return heartbeatsAtBoot;
  }

  async powerOff(): Promise<void> {
    await settlePower(this.nodeUuid, 'power off', this.input.context);
    await bmc.bmcFinishRamdiskBoot(this.nodeUuid);
    await db.forgetAgent(this.nodeUuid);
  }

  async runPlan(kind: StepKind): Promise<void> {
    const { cleanSteps, disableRamdisk } = this.input;
    if (!disableRamdisk) await this.ensureAgent();
    const agentSteps = disableRamdisk ? [] : await agent.agentListSteps(this.nodeUuid, kind);
    this.plan = new StepPlan(await db.planSteps(this.nodeUuid, kind, kind === 'clean' ? cleanSteps : undefined, agentSteps, !disableRamdisk));
    await runSteps(this.stepRun(kind), this.plan);
  }
}

type Handler = (op: ProvisionOperation) => Promise<void>;

const POWER_OFF_ON_FAILURE: ReadonlySet<ProvisionState> = new Set<ProvisionState>(['cleaning', 'clean wait', 'deploying', 'wait call-back']);

const HANDLERS: Partial<Record<ProvisionState, Handler>> = {
  /** Verify: the BMC must answer with the stored credentials; learn the power state meanwhile. */
  async verifying(op) {
    const powerState = await bmc.bmcVerify(op.nodeUuid);
    await db.recordPowerState(op.nodeUuid, powerState, null, op.input.context);
  },

  async cleaning(op) {
    await op.runPlan('clean');
    // Fast-track keeps the agent up for the next operation; otherwise the machine rests.
    if (!(await db.keepAgentAfterCleaning(op.nodeUuid))) await op.powerOff();
  },

  async deploying(op) {
    await op.runPlan('deploy');
    await op.boot('instance');
  },

  /** Tear-down before cleaning: the tenant's instance stops. */
  async deleting(op) {
    await op.powerOff();
  },
};

export async function provisionWorkflow(input: ProvisionInput): Promise<ProvisionState> {
  updateSearchAttribute(Operation, input.verb);
  const op = new ProvisionOperation(input);
  setHandler(planQuery, () => op.plan.steps);
  setHandler(agentHeartbeatSignal, () => void op.heartbeats++);
  setHandler(abortSignal, () => void (op.abortRequested = true));

  await op.transition(input.verb);
  for (let handler = HANDLERS[op.state]; handler; handler = HANDLERS[op.state]) {
    try {
      await handler(op);
    } catch (err) {
      const aborted = err instanceof StepAborted || op.abortRequested;
      const failedIn = op.state;
      const event = aborted && allowedEvents(failedIn).includes('abort') ? 'abort' : 'fail';
      const why = aborted ? `aborted on request while ${failedIn}` : isCancellation(err) ? 'the operation was cancelled' : failureMessage(err);
      // Even when the workflow itself was cancelled (from the Temporal UI), the node must not stay mid-operation.
      await CancellationScope.nonCancellable(async () => {
        await op.transition(event, why);
        // A machine that failed mid-clean or mid-deploy is left off, not half-provisioned and running.
        if (POWER_OFF_ON_FAILURE.has(failedIn)) {
          await op.powerOff().catch((powerErr) => log.warn('could not power the machine off after the failure', { error: failureMessage(powerErr) }));
        }
      });
      if (aborted) return op.state;
      throw err;
    }
    await op.transition('done');
  }
  return op.state;
}
