// Activities that write a node's provision and power state. Each runs in one transaction that
// also writes the event, and each is idempotent: a retry after a crash finds its work done.
import { activityInfo } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import {
  clearAgentSession,
  clearAgentStepCommand,
  clearRescuePasswordHash,
  markCleaningStarted,
  markPrebooted,
} from '../db/agent.js';
import { recordEvent, transitionOfActivity, type EventOrigin } from '../db/events.js';
import { findNode, mergeDriverInternalInfo, updateNode, type NodeChanges, type NodeRecord } from '../db/nodes.js';
import { insertDeployment, markDeploymentDeleted } from '../db/deployments.js';
import { inTransaction, type Pool, type PoolClient, type Queryable } from '../db/pool.js';
import { takeProvisionRequest } from '../db/provision-requests.js';
import { isAgentAlive, PREBOOTED_TRAIT } from '../domain/agent.js';
import { fastTrackOf } from '../domain/drivers.js';
import { chooseFinalBoot, type FinalBootChoice } from '../domain/final-boot.js';
import type { RequestContext } from '../domain/context.js';
import type { PowerState, PowerTarget } from '../domain/power.js';
import {
  IllegalTransition,
  nextState,
  type NextState,
  type ProvisionEvent,
  type ProvisionState,
} from '../domain/provision.js';
import { agentAnswers } from './agent.js';
import { requireNode } from './nodes.js';

/** Who asked and which operation did it, for an event row. */
export function eventOrigin(context: RequestContext): EventOrigin {
  return { ...context, workflowId: activityInfo().workflowExecution?.workflowId ?? null };
}

/** The running operation, for an activity that is given no request context. */
function operationOrigin(): EventOrigin {
  return { workflowId: activityInfo().workflowExecution?.workflowId ?? null };
}

/** As eventOrigin, keyed by this activity (the same on every retry): a retry records nothing twice. */
export function onceEventOrigin(context: RequestContext): EventOrigin & { activityKey: string } {
  const { workflowExecution, activityId } = activityInfo();
  return {
    ...eventOrigin(context),
    activityKey: `${workflowExecution?.workflowId}/${workflowExecution?.runId}/${activityId}`,
  };
}

/** A power change begun: the node shows its target (and no earlier error) until the state is recorded. Answers the node. */
export function showPowerTarget(pool: Pool, nodeUuid: string, target: PowerTarget): Promise<NodeRecord> {
  return inTransaction(pool, async (client) => {
    await requireNode(client, nodeUuid, { forUpdate: true });
    return updateNode(client, nodeUuid, { target_power_state: target, last_error: null });
  });
}

/**
 * The power state the machine reached (after `verb`; none: verify's reading of the state it was
 * found in), with its event when it changed. Idempotent: a second call finds it recorded.
 */
export async function savePowerState(
  pool: Pool,
  nodeUuid: string,
  powerState: PowerState,
  verb: string | null,
  context: RequestContext,
): Promise<void> {
  await inTransaction(pool, async (client) => {
    const node = await requireNode(client, nodeUuid, { forUpdate: true });
    await updateNode(client, nodeUuid, { power_state: powerState, target_power_state: null });
    // The machine's power went (or it rebooted): the agent that ran on it is gone with its session.
    if (powerState === 'power off' || verb === 'rebooting')
      await endAgentSession(client, nodeUuid, `the machine was ${verb ?? powerState}`, eventOrigin(context));
    if (node.power_state === powerState && node.target_power_state === null) return;
    await recordEvent(
      client,
      {
        node_uuid: nodeUuid,
        kind: 'power',
        verb: verb ?? 'verify',
        from_state: node.power_state,
        to_state: powerState,
      },
      eventOrigin(context),
    );
  });
}

export interface TransitionRequest {
  nodeUuid: string;
  event: ProvisionEvent;
  /** The state the workflow believes the node is in. */
  from: ProvisionState;
  context: RequestContext;
  /** For `fail`: why, kept on the node as last_error. */
  error?: string;
  /** The operation's first transition: the request row it applies (instance_info, deployment record). */
  handOver?: string;
}

export interface NodeStateOptions {
  /** Ironic's [deploy]fast_track: cleaning leaves the agent running for the next operation. */
  fastTrack?: boolean;
  /** Ironic's deploy_callback_timeout: how long a booting ramdisk may take to heartbeat (default 30 minutes). */
  agentBootTimeoutSeconds?: number;
  /** Derives agent tokens, for the status call that checks a live agent before it is used. */
  agentTokenKey?: string;
}

/** deployed_by records who deployed, so an operator can tell whose instance a machine runs; undeploy clears it and the instance's inputs. */
function deploymentChanges(request: TransitionRequest): Pick<NodeChanges, 'deployed_by' | 'instance_info'> {
  if (request.event === 'deploy' || request.event === 'rebuild' || request.event === 'adopt')
    return { deployed_by: request.context.user };
  // The tenant's image, traits and config drive (its user_data, its keys) must not reach the next one.
  if (request.event === 'undeploy') return { deployed_by: null, instance_info: {} };
  return {};
}

/**
 * Takes what the API handed the operation (src/api/provisioning.ts): the caller's deployment record
 * and a rescue password's hash are written, and the node's new instance_info answered, in the
 * transaction of the first transition.
 */
async function applyHandOver(
  client: PoolClient,
  uuid: string,
  nodeUuid: string,
): Promise<Pick<NodeChanges, 'instance_info'>> {
  const request = await takeProvisionRequest(client, uuid, nodeUuid);
  if (!request)
    throw ApplicationFailure.nonRetryable(`the request ${uuid} that started this operation is gone`, 'RequestGone');
  if (request.deployment) await insertDeployment(client, request.deployment);
  if (request.ends_deployment) await markDeploymentDeleted(client, request.ends_deployment);
  if (request.internal_info) await mergeDriverInternalInfo(client, nodeUuid, request.internal_info);
  return request.instance_info ? { instance_info: request.instance_info } : {};
}

/** Forgets the node's agent session; when the node was pre-booted, its history says the marker went and why. */
export async function endAgentSession(
  db: Queryable,
  nodeUuid: string,
  why: string,
  origin: EventOrigin,
): Promise<void> {
  if (!(await clearAgentSession(db, nodeUuid))) return;
  await recordEvent(db, { node_uuid: nodeUuid, kind: 'power', verb: 'prebooted ended', message: why }, origin);
}

export function createNodeStateActivities(pool: Pool, options: NodeStateOptions = {}) {
  /** Marks the node pre-booted when its agent is alive, with the event that says so; false when it is not alive. */
  async function markPrebootedIfAlive(nodeUuid: string, why: string, origin: EventOrigin): Promise<boolean> {
    return inTransaction(pool, async (client) => {
      const node = await requireNode(client, nodeUuid, { forUpdate: true });
      if (!isAgentAlive(node, new Date())) return false;
      if (await markPrebooted(client, nodeUuid))
        await recordEvent(
          client,
          { node_uuid: nodeUuid, kind: 'power', verb: 'prebooted', to_state: PREBOOTED_TRAIT, message: why },
          origin,
        );
      return true;
    });
  }

  return {
    async transitionProvision(request: TransitionRequest): Promise<NextState> {
      const origin = onceEventOrigin(request.context);
      return inTransaction(pool, async (client) => {
        const node = await requireNode(client, request.nodeUuid, { forUpdate: true });
        // Applied already by an earlier execution of this very activity: a retry after a commit whose
        // completion was lost, or a local activity run again because the workflow task that ran it
        // never reached a Temporal server that went away (its replay runs every later one again too).
        const applied = await transitionOfActivity(client, origin.activityKey);
        if (applied !== undefined) {
          return { provision_state: applied as ProvisionState, target_provision_state: node.target_provision_state };
        }
        if (node.provision_state !== request.from) {
          throw ApplicationFailure.nonRetryable(
            `node is in state "${node.provision_state}", expected "${request.from}" for ${request.event}`,
            'IllegalTransition',
          );
        }
        let next: NextState;
        try {
          next = nextState(node, request.event);
        } catch (err) {
          if (err instanceof IllegalTransition) throw ApplicationFailure.nonRetryable(err.message, 'IllegalTransition');
          throw err;
        }
        // A failure or an abort records why; a new verb starts with a clean slate; `done` keeps what is there.
        const lastError =
          request.error ?? (request.event === 'fail' ? 'unknown error' : request.event === 'done' ? undefined : null);
        const operationEnds = request.event === 'done' || request.event === 'fail' || request.event === 'abort';
        if (operationEnds) await clearAgentStepCommand(client, node.uuid);
        const handed = request.handOver ? await applyHandOver(client, request.handOver, node.uuid) : {};
        await updateNode(client, node.uuid, {
          ...next,
          provision_updated_at: new Date(),
          last_error: lastError,
          ...deploymentChanges(request),
          ...handed,
          // A step shown on the node belongs to the operation in progress only.
          ...(operationEnds ? { clean_step: null, deploy_step: null } : {}),
        });
        if (next.provision_state === 'cleaning' && node.provision_state !== 'clean wait')
          await markCleaningStarted(client, node.uuid);
        await recordEvent(
          client,
          {
            node_uuid: node.uuid,
            kind: 'provision',
            verb: request.event,
            from_state: request.from,
            to_state: next.provision_state,
            severity: request.event === 'fail' ? 'error' : 'info',
            message: request.error ?? null,
          },
          origin,
        );
        return next;
      });
    },

    /**
     * Whether the node's agent is alive, so an operation can use it without booting (fast-track),
     * and how long a booting one may take to heartbeat.
     */
    async agentStatus(nodeUuid: string): Promise<{ alive: boolean; bootTimeoutSeconds: number }> {
      const node = await findNode(pool, nodeUuid);
      let alive = node !== undefined && isAgentAlive(node, new Date());
      // A recent heartbeat is not enough: the agent must answer now, or the node boots cold instead.
      if (alive && options.agentTokenKey && !(await agentAnswers(node!, options.agentTokenKey))) {
        await endAgentSession(pool, nodeUuid, 'the agent did not answer a status call', operationOrigin());
        alive = false;
      }
      return { alive, bootTimeoutSeconds: options.agentBootTimeoutSeconds ?? 1800 };
    },

    /**
     * Counts a boot of the machine (into the ramdisk or into the deployed instance) on the node
     * and in the event log, and forgets the agent session the boot ends. A kexec is counted apart
     * (`kexecs`, event "kexec instance"): it is no reboot. `note` says why, e.g. why kexec was not used.
     */
    async recordBoot(
      nodeUuid: string,
      into: 'ramdisk' | 'instance',
      context: RequestContext,
      how: { kexec?: boolean; note?: string; bootKey?: string } = {},
    ): Promise<void> {
      await inTransaction(pool, async (client) => {
        const node = await requireNode(client, nodeUuid, { forUpdate: true });
        // Counted once per activity: a retry after a commit whose completion was lost finds its event.
        const firstRun = await recordEvent(
          client,
          {
            node_uuid: nodeUuid,
            kind: 'power',
            verb: how.kexec ? `kexec ${into}` : `boot ${into}`,
            message: how.note ?? null,
          },
          onceEventOrigin(context),
        );
        // A boot keyed for its power cycle (bootKey) ends the session once: a re-run (its workflow task
        // was lost and ran again) finds the cycle taken, and the session is the agent's it booted. Unkeyed,
        // the session ends on a re-run too: in an operation begun while a boot's power calls were
        // unguarded local activities (patch power-calls-local, before boot-power-activities), the re-run
        // cycles the machine again, and the agent of the first cycle must not keep the next one's token.
        if (firstRun || !how.bootKey) {
          const booted = how.kexec ? 'kexec-ed' : 'booted';
          await endAgentSession(client, nodeUuid, `the machine ${booted} into the ${into}`, eventOrigin(context));
        }
        if (!firstRun) return;
        const count = (key: string) => Number(node.driver_internal_info[key] ?? 0) + 1;
        if (how.kexec) return void (await mergeDriverInternalInfo(client, nodeUuid, { kexecs: count('kexecs') }));
        const counter = into === 'ramdisk' ? 'ramdisk_boots' : 'instance_boots';
        await mergeDriverInternalInfo(client, nodeUuid, { boots: count('boots'), [counter]: count(counter) });
      });
    },

    /** How the deployed instance starts: kexec when the deployment or the node asks and nothing rules it out. */
    async finalBootChoice(nodeUuid: string): Promise<FinalBootChoice> {
      return chooseFinalBoot(await requireNode(pool, nodeUuid));
    },

    /** The agent stopped with its machine: a later operation must boot a new one. */
    async forgetAgent(nodeUuid: string): Promise<void> {
      await endAgentSession(pool, nodeUuid, 'the machine was powered off', operationOrigin());
    },

    /**
     * Rescue handed the machine over (or failed to): the agent has stopped, and the rescue password's
     * hash, now on the machine, is kept no longer.
     */
    async forgetRescue(nodeUuid: string): Promise<void> {
      await inTransaction(pool, async (client) => {
        await clearAgentSession(client, nodeUuid);
        await clearRescuePasswordHash(client, nodeUuid);
      });
    },

    /**
     * After cleaning: with fast-track (the node's driver_info.fast_track, else the worker's setting)
     * the agent stays up, may look up while the node is available, and the node comes out pre-booted.
     */
    async keepAgentAfterCleaning(nodeUuid: string): Promise<boolean> {
      const node = await requireNode(pool, nodeUuid);
      const keep = fastTrackOf(node.driver_info, options.fastTrack === true);
      await mergeDriverInternalInfo(pool, nodeUuid, { fast_track: keep });
      if (keep) await markPrebootedIfAlive(nodeUuid, 'cleaning left the agent running', operationOrigin());
      return keep;
    },

    /**
     * The boot verb's start: the node must still be bootable (a warm pool's plan may be a little old),
     * shows its target while the agent boots, and lets the agent look up and heartbeat while available.
     */
    async beginPreboot(nodeUuid: string): Promise<void> {
      await inTransaction(pool, async (client) => {
        const node = await requireNode(client, nodeUuid, { forUpdate: true });
        try {
          nextState(node, 'boot');
        } catch (err) {
          if (err instanceof IllegalTransition) throw ApplicationFailure.nonRetryable(err.message, 'IllegalTransition');
          throw err;
        }
        await updateNode(client, nodeUuid, { target_provision_state: 'available' });
        await mergeDriverInternalInfo(client, nodeUuid, { fast_track: true });
      });
    },

    /** The boot verb's end: the node is pre-booted, and its target (shown while the boot ran) is cleared. */
    async finishPreboot(nodeUuid: string, context: RequestContext): Promise<void> {
      if (
        !(await markPrebootedIfAlive(
          nodeUuid,
          'booted into the agent, kept up for the next operation',
          eventOrigin(context),
        ))
      )
        throw ApplicationFailure.nonRetryable('the agent is no longer alive', 'AgentGone');
    },

    /** A boot verb that failed: the node stays available, with why as last_error, for the operator to look at. */
    async failPreboot(nodeUuid: string, error: string, context: RequestContext): Promise<void> {
      await inTransaction(pool, async (client) => {
        const node = await requireNode(client, nodeUuid, { forUpdate: true });
        if (node.target_provision_state === null && node.last_error === error) return;
        await updateNode(client, nodeUuid, { target_provision_state: null, last_error: error });
        await recordEvent(
          client,
          { node_uuid: nodeUuid, kind: 'provision', verb: 'boot', severity: 'error', message: error },
          eventOrigin(context),
        );
      });
    },

    async beginPowerChange(nodeUuid: string, target: PowerTarget): Promise<void> {
      await showPowerTarget(pool, nodeUuid, target);
    },

    /** Records the settled power state; also used by verify to learn the state it found. */
    recordPowerState(nodeUuid: string, powerState: PowerState, verb: string | null, context: RequestContext) {
      return savePowerState(pool, nodeUuid, powerState, verb, context);
    },

    async failPowerChange(
      nodeUuid: string,
      target: PowerTarget,
      error: string,
      context: RequestContext,
    ): Promise<void> {
      await inTransaction(pool, async (client) => {
        const node = await requireNode(client, nodeUuid, { forUpdate: true });
        if (node.target_power_state === null && node.last_error === error) return;
        await updateNode(client, nodeUuid, { target_power_state: null, last_error: error });
        await recordEvent(
          client,
          {
            node_uuid: nodeUuid,
            kind: 'power',
            verb: target,
            from_state: node.power_state,
            to_state: node.power_state,
            severity: 'error',
            message: error,
          },
          eventOrigin(context),
        );
      });
    },
  };
}
