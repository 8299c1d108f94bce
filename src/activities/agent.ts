// Activities that talk to a node's agent. The agent's URL and token are read and derived here,
// from the node row and the worker's AGENT_TOKEN_KEY: neither ever enters a workflow.
import { activityInfo } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { AgentError, agentClientForNode, type AgentClient, type CommandRecord } from '../agent/client.js';
import { kernelRequest, type FoundKernel, type KernelSearch } from '../domain/final-boot.js';
import { RESCUE_PASSWORD_HASH_KEY } from '../db/agent.js';
import { saveInventory } from '../db/inventories.js';
import { hardwareInventorySchema } from '../domain/inventory.js';
import { mergeDriverInternalInfo, type NodeRecord } from '../db/nodes.js';
import type { Pool } from '../db/pool.js';
import { requireNode } from './nodes.js';
import type { Step, StepKind } from '../domain/steps.js';

export interface AgentCommandStatus {
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED';
  error?: string;
}

export interface StartedCommand extends AgentCommandStatus {
  commandId: string;
}

/**
 * How long starting a step waits for its command to end: a quick step (config drive, bootloader)
 * is done in the same activity, with no wait state, report or second call.
 */
const QUICK_COMMAND_SECONDS = 5;

/** How long a kexec may take to load the kernel before the agent is taken to have jumped. */
const KEXEC_LOAD_SECONDS = 10;

function commandStatus(record: CommandRecord): AgentCommandStatus {
  return {
    status:
      record.command_status === 'SUCCEEDED' || record.command_status === 'FAILED' ? record.command_status : 'RUNNING',
    error: record.command_error ? `${record.command_name}: ${record.command_error.message}` : undefined,
  };
}

/**
 * Arguments the built-in deploy steps take from the node's instance_info (Ironic's keys), so the
 * image location, checksum and config drive are read here rather than carried through history.
 */
function builtInArgs(node: NodeRecord, step: Step): Record<string, unknown> | undefined {
  const info = node.instance_info as Record<string, any>;
  if (step.interface !== 'deploy') return undefined;
  if (step.step === 'write_image') {
    return {
      image_source: info.image_source,
      disk_format: info.image_disk_format ?? 'raw',
      os_hash_algo: info.image_os_hash_algo,
      os_hash_value: info.image_os_hash_value,
    };
  }
  if (step.step === 'write_configdrive') {
    const given = (info.configdrive ?? {}) as Record<string, any>;
    const hostname = node.name ?? node.uuid;
    return { configdrive: { ...given, meta_data: { uuid: node.uuid, name: hostname, hostname, ...given.meta_data } } };
  }
  return undefined;
}

/**
 * An agent is taken for gone when it does not answer a status call within this, twice in a row: a
 * busy machine (or worker) that is slow once does not cost a healthy warm node its place.
 */
const AGENT_STATUS_TIMEOUT_MS = 5000;
const AGENT_STATUS_TRIES = 2;

/** Whether the node's agent answers a status call now, not only whether it heartbeated lately. */
export async function agentAnswers(
  node: { uuid: string; driver_internal_info: Record<string, unknown> },
  tokenKey: string,
): Promise<boolean> {
  for (let attempt = 1; attempt <= AGENT_STATUS_TRIES; attempt++) {
    try {
      await agentClientForNode(node, tokenKey, { timeoutMs: AGENT_STATUS_TIMEOUT_MS }).status();
      return true;
    } catch {
      // Asked again, or taken for gone after the last try.
    }
  }
  return false;
}

export function createAgentActivities(pool: Pool, tokenKey: string | undefined) {
  async function withAgent<T>(
    nodeUuid: string,
    call: (client: AgentClient, node: NodeRecord) => Promise<T>,
  ): Promise<T> {
    if (!tokenKey)
      throw ApplicationFailure.nonRetryable(
        'AGENT_TOKEN_KEY is not set on the worker: it cannot talk to agents',
        'Misconfigured',
      );
    const node = await requireNode(pool, nodeUuid);
    try {
      return await call(agentClientForNode(node, tokenKey), node);
    } catch (err) {
      if (err instanceof AgentError && !err.retryable) throw ApplicationFailure.nonRetryable(err.message, 'AgentError');
      throw err;
    }
  }

  return {
    agentListSteps(nodeUuid: string, kind: StepKind): Promise<Step[]> {
      return withAgent(nodeUuid, async (client, node) =>
        (await client.getSteps(kind))
          // No config drive asked for: nothing to write.
          .filter((s) => !(s.step === 'write_configdrive' && !node.instance_info.configdrive))
          .map((s): Step => ({ ...s, args: {}, runner: 'agent' })),
      );
    },

    /**
     * Starts the step on the agent and answers the command's id, with how it ended when it ended
     * within a few seconds (otherwise RUNNING: the workflow waits for the agent's report).
     * Idempotent: the id is kept on the node under this activity's own key (the same on every retry,
     * and never the same in another run of the node's workflow id, whose activity ids start over),
     * and a retry whose first try reached the agent but not the database finds the agent busy with
     * that very command.
     */
    agentStartStep(nodeUuid: string, kind: StepKind, step: Step): Promise<StartedCommand> {
      return withAgent(nodeUuid, async (client, node) => {
        const info = activityInfo();
        const activity = `${info.workflowExecution?.workflowId}/${info.workflowExecution?.runId}/${info.activityId}`;
        const stored = node.driver_internal_info.agent_step_command as { activity: string; id: string } | undefined;
        const id = stored?.activity === activity ? stored.id : await startStep(client, node, kind, step, activity);
        return { commandId: id, ...commandStatus(await client.getCommand(id, { waitSeconds: QUICK_COMMAND_SECONDS })) };
      });
    },

    /** In-band inspection: the agent's get_hardware_info becomes the node's inventory. */
    agentInspect(nodeUuid: string): Promise<void> {
      return withAgent(nodeUuid, async (client, node) => {
        const reported = hardwareInventorySchema.safeParse(await client.getHardwareInfo());
        if (!reported.success) {
          const issue = reported.error.issues[0];
          throw ApplicationFailure.nonRetryable(
            `the agent's inventory is malformed at ${issue.path.join('.')}: ${issue.message}`,
            'MalformedInventory',
          );
        }
        await saveInventory(pool, node.uuid, reported.data, { inspected_by: 'agent' });
      });
    },

    agentCommandStatus(nodeUuid: string, commandId: string): Promise<AgentCommandStatus> {
      return withAgent(nodeUuid, async (client) => commandStatus(await client.getCommand(commandId)));
    },

    /** The kernel a kexec would start: the one instance_info names (kernel, ramdisk, kernel_append_params), or the image's newest. */
    agentFindKernel(nodeUuid: string): Promise<KernelSearch> {
      return withAgent(nodeUuid, (client, node) => {
        const { kernel, initrd, appendParams } = kernelRequest(node.instance_info);
        return client.findKernel({
          kernel,
          initrd,
          append_params: appendParams,
          node: { properties: node.properties },
        });
      });
    },

    /**
     * Asks the agent to kexec into `kernel`; the agent (and the ramdisk) are gone right after.
     * Idempotent: a retry whose first try reached the agent finds it gone, and that is the kexec
     * having happened (the attempt is noted on the node before the call).
     */
    agentKexec(nodeUuid: string, kernel: FoundKernel): Promise<void> {
      return withAgent(nodeUuid, async (client, node) => {
        const { workflowExecution, activityId } = activityInfo();
        const activity = `${workflowExecution?.workflowId}/${workflowExecution?.runId}/${activityId}`;
        const triedBefore = node.driver_internal_info.agent_kexec_requested === activity;
        if (!triedBefore) await mergeDriverInternalInfo(pool, node.uuid, { agent_kexec_requested: activity });
        const gone = (err: unknown) => err instanceof AgentError && err.status === null;
        let command: CommandRecord;
        try {
          command = await client.kexec({ ...kernel, node: { properties: node.properties } });
        } catch (err) {
          if (triedBefore && gone(err)) return;
          throw err;
        }
        // Loading the kernel is where kexec can fail (a bad kernel, too little memory); the jump itself never answers.
        const ended = await client.getCommand(command.id, { waitSeconds: KEXEC_LOAD_SECONDS }).catch((err) => {
          if (gone(err)) return undefined;
          throw err;
        });
        if (ended?.command_status === 'FAILED')
          throw ApplicationFailure.nonRetryable(commandStatus(ended).error ?? 'kexec failed', 'KexecFailed');
      });
    },

    /** Gives the agent the rescue password's hash, read here from the node so it never enters the workflow. */
    agentFinalizeRescue(nodeUuid: string): Promise<void> {
      return withAgent(nodeUuid, async (client, node) => {
        const passwordHash = node.driver_internal_info[RESCUE_PASSWORD_HASH_KEY];
        if (typeof passwordHash !== 'string')
          throw ApplicationFailure.nonRetryable('the node has no rescue password to hand over', 'NoRescuePassword');
        await client.finalizeRescue(passwordHash);
      });
    },
  };

  /** Starts the step's command, or finds the one an earlier try started; keeps its id under `activity`. */
  async function startStep(
    client: AgentClient,
    node: NodeRecord,
    kind: StepKind,
    step: Step,
    activity: string,
  ): Promise<string> {
    const command = `execute_${kind}_step`;
    let id: string;
    try {
      const args = { ...step.args, ...builtInArgs(node, step) };
      id = (
        await client.executeStep(
          kind,
          { interface: step.interface, step: step.step, args },
          { properties: node.properties as any },
        )
      ).id;
    } catch (err) {
      const running =
        err instanceof AgentError && err.status === 409
          ? (await client.listCommands()).find((c) => c.command_name === command && c.command_status === 'RUNNING')
          : undefined;
      if (!running) throw err;
      id = running.id;
    }
    await mergeDriverInternalInfo(pool, node.uuid, { agent_step_command: { activity, id } });
    return id;
  }
}
