// Starting node operations on Temporal. The workflow ID node/<uuid> is the node's lock:
// a second start fails with WorkflowExecutionAlreadyStarted, answered as 409 — unless the holder
// has already recorded its end and is only closing, which the request waits for.
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  type Client,
  type WorkflowExecutionDescription,
  type WorkflowHandle,
} from '@temporalio/client';
import type { SignalDefinition, TypedSearchAttributes } from '@temporalio/common';
import type { NodeRecord } from '../db/nodes.js';
import type { RequestContext } from '../domain/context.js';
import type { StepStatus } from '../domain/steps.js';
import {
  CurrentStep,
  Driver,
  Lessee,
  NodeName,
  NodeUuid,
  Operation,
  Project,
  ProvisionStateKey,
  REQUEST_ID_MEMO,
  nodeWorkflowId,
  powerPhase,
  type BootDeviceInput,
  type BootDeviceSetting,
  type PowerInput,
  type ProvisionInput,
} from '../workflows/contract.js';
import {
  abortSignal,
  agentCommandEndedSignal,
  agentHeartbeatSignal,
  planQuery,
  unholdSignal,
  type AgentCommandEnd,
} from '../workflows/signals.js';
import { ApiError, conflict } from './errors.js';
import { operationDetails, operationSummary } from './operation-display.js';
import { withTemporalDeadline } from './temporal-deadline.js';

const PLAN_QUERY_DEADLINE_MS = 3000;
/**
 * How long a request waits for an operation that has recorded its end to close. Its last workflow
 * task usually ends milliseconds after that record, and a client that saw the end may ask at once.
 */
const CLOSING_OPERATION_WAIT_MS = 2000;
/** Runs awaited at once at most; past it a request is answered 409 without waiting. */
const MAX_CLOSING_WAITS = 100;

export class Operations {
  /** One wait per closing run, however many requests ask meanwhile. */
  private readonly closing = new Map<string, Promise<void>>();

  constructor(
    readonly client: Client,
    readonly taskQueue: string,
  ) {}

  async startPower(node: NodeRecord, input: PowerInput): Promise<string> {
    const operation = `power:${input.target}`;
    return (await this.start('powerWorkflow', node, operation, input, powerPhase(input.target))).workflowId;
  }

  async startProvision(node: NodeRecord, input: ProvisionInput): Promise<string> {
    return (await this.start('provisionWorkflow', node, input.verb, input)).workflowId;
  }

  /** Sets (when a device is given) and reads the node's boot device, waiting for the BMC's answer. */
  async bootDevice(node: NodeRecord, input: BootDeviceInput): Promise<BootDeviceSetting> {
    const operation = input.device ? `boot_device:${input.device}` : 'boot_device';
    const handle = await this.start('bootDeviceWorkflow', node, operation, input);
    try {
      return await handle.result();
    } catch (err) {
      if (err instanceof WorkflowFailedError) {
        throw new ApiError(
          502,
          'bmc_error',
          `the BMC of node ${node.uuid} failed: ${err.cause?.message ?? err.message}`,
        );
      }
      throw err;
    }
  }

  /** The operation holding the node's lock, if any. */
  private async runningOperation(nodeUuid: string): Promise<string | undefined> {
    const running = await this.call(() => this.describeRunning(nodeUuid));
    return running && operationOf(running);
  }

  /** The steps of the node's running clean or deploy, each with its status; undefined when none runs. */
  async queryPlan(nodeUuid: string): Promise<StepStatus[] | undefined> {
    // A query needs a live worker, and Temporal may be away: then the answer comes without the plan.
    return this.client.connection
      .withDeadline(Date.now() + PLAN_QUERY_DEADLINE_MS, async () => {
        const running = await this.describeRunning(nodeUuid);
        if (running?.type !== 'provisionWorkflow') return undefined;
        return this.client.workflow.getHandle(running.workflowId, running.runId).query(planQuery);
      })
      .catch(() => undefined);
  }

  private async describeRunning(nodeUuid: string): Promise<WorkflowExecutionDescription | undefined> {
    const description = await this.withHandle(nodeUuid, (handle) => handle.describe());
    return description?.status.name === 'RUNNING' ? description : undefined;
  }

  /** Tells the node's running operation that its agent heartbeated; false when none runs. */
  signalAgentHeartbeat(nodeUuid: string, heartbeat: { agentUrl: string; at: string }): Promise<boolean> {
    return this.signal(nodeUuid, agentHeartbeatSignal, heartbeat);
  }

  /** Tells the node's running operation that an agent command ended; false when none runs. */
  signalAgentCommandEnded(nodeUuid: string, ended: { commandId: string; status: AgentCommandEnd }): Promise<boolean> {
    return this.signal(nodeUuid, agentCommandEndedSignal, ended);
  }

  /** Asks the node's running operation to abort; false when none runs. */
  signalAbort(nodeUuid: string, context: RequestContext): Promise<boolean> {
    return this.signal(nodeUuid, abortSignal, { user: context.user, requestId: context.requestId });
  }

  /** Tells the node's held clean or service to go on; false when none runs. */
  signalUnhold(nodeUuid: string, context: RequestContext): Promise<boolean> {
    return this.signal(nodeUuid, unholdSignal, { user: context.user, requestId: context.requestId });
  }

  /** Sends `signal` to the node's running operation; false when none runs. */
  private async signal<T>(nodeUuid: string, signal: SignalDefinition<[T]>, payload: T): Promise<boolean> {
    const sent = await this.call(() =>
      this.withHandle(nodeUuid, (handle) => handle.signal(signal, payload).then(() => true)),
    );
    return sent ?? false;
  }

  /** Runs `action` on the node's workflow (its latest run); undefined when the node never had one. */
  private async withHandle<T>(
    nodeUuid: string,
    action: (handle: WorkflowHandle) => Promise<T>,
  ): Promise<T | undefined> {
    try {
      return await action(this.client.workflow.getHandle(nodeWorkflowId(nodeUuid)));
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
  }

  /** `rpc` with a short deadline; a Temporal that is away or too slow is a 503 (Retry-After). */
  private call<T>(rpc: () => Promise<T>): Promise<T> {
    return withTemporalDeadline(this.client, rpc);
  }

  /** 409 when an operation holds `node` (as the caller read it). */
  async assertUnlocked(node: NodeRecord): Promise<void> {
    const holder = await this.call(() => this.describeRunning(node.uuid));
    if (!holder) return;
    const operation = (await this.waitIfClosing(node, holder))
      ? await this.runningOperation(node.uuid)
      : operationOf(holder);
    if (operation) throw lockedError(node.uuid, operation);
  }

  /**
   * Waits (bounded) for `holder` to close when `node`, as the caller read it, shows that it has
   * recorded its end: changed since it started, no target shown. True when it waited; any other
   * holder is left be. The two times come from PostgreSQL's clock and Temporal's: a skew between
   * them costs a needless wait or a 409, never the lock.
   */
  private async waitIfClosing(node: NodeRecord, holder: WorkflowExecutionDescription): Promise<boolean> {
    const recordedItsEnd =
      node.updated_at &&
      node.updated_at >= holder.startTime &&
      !node.target_provision_state &&
      !node.target_power_state;
    if (!recordedItsEnd) return false;
    let closed = this.closing.get(holder.runId);
    if (!closed) {
      if (this.closing.size >= MAX_CLOSING_WAITS) return false;
      const handle = this.client.workflow.getHandle(holder.workflowId, holder.runId, { followRuns: false });
      // However it closes (or if it is still running past the wait), the caller's next look decides.
      closed = this.client.connection
        .withDeadline(Date.now() + CLOSING_OPERATION_WAIT_MS, () => handle.result())
        .then(
          () => undefined,
          () => undefined,
        )
        .finally(() => this.closing.delete(holder.runId));
      this.closing.set(holder.runId, closed);
    }
    await closed;
    return true;
  }

  private async start(
    workflowType: 'powerWorkflow' | 'provisionWorkflow' | 'bootDeviceWorkflow',
    node: NodeRecord,
    operation: string,
    input: PowerInput | ProvisionInput | BootDeviceInput,
    currentStep = 'starting',
  ): Promise<WorkflowHandle> {
    const workflowId = nodeWorkflowId(node.uuid);
    const searchAttributes: ConstructorParameters<typeof TypedSearchAttributes>[0] = [
      { key: NodeUuid, value: node.uuid },
      { key: Operation, value: operation },
      { key: ProvisionStateKey, value: node.provision_state },
      { key: Driver, value: node.driver },
      // Set now so the workflow may keep it current (it updates only attributes its starter set).
      { key: CurrentStep, value: currentStep },
      ...(node.name ? [{ key: NodeName, value: node.name }] : []),
      ...(node.lessee ? [{ key: Lessee, value: node.lessee }] : []),
      ...(input.context.project ? [{ key: Project, value: input.context.project }] : []),
    ];
    const startWorkflow = () =>
      this.call(() =>
        this.client.workflow.start(workflowType, {
          workflowId,
          taskQueue: this.taskQueue,
          args: [input],
          typedSearchAttributes: searchAttributes,
          memo: { node_name: node.name, [REQUEST_ID_MEMO]: input.context.requestId },
          staticSummary: operationSummary(node, operation, input.context),
          staticDetails: operationDetails(node, operation, input.context),
        }),
      );
    try {
      return await startWorkflow();
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
    // Held: refused at once, unless the holder has recorded its end and is only closing.
    const holder = await this.call(() => this.describeRunning(node.uuid));
    if (holder && !(await this.waitIfClosing(node, holder))) throw lockedError(node.uuid, operationOf(holder));
    try {
      return await startWorkflow();
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        throw lockedError(node.uuid, (await this.runningOperation(node.uuid)) ?? 'another operation');
      }
      throw err;
    }
  }
}

/** What a running workflow does to its node: the operation its starter named, else its type. */
function operationOf(running: WorkflowExecutionDescription): string {
  return running.typedSearchAttributes.get(Operation) ?? running.type;
}

function lockedError(nodeUuid: string, operation: string) {
  return conflict('node_locked', `node ${nodeUuid} is locked by ${operation} (workflow ${nodeWorkflowId(nodeUuid)})`);
}
