// Power sync's activities: the node ranges a run hands out, and one batch of checks. A check asks
// the node's BMC for its power state under the global and per-BMC-host limits and writes only what
// changed: a difference (recorded as an event), a failure (counted; at the limit, fault and
// maintenance), or a BMC answering again (the fault cleared). Nodes an operation holds are left alone.
import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/common';
import PQueue from 'p-queue';
import { clearAgentSession } from '../db/agent.js';
import { recordEvent, type NewEvent } from '../db/events.js';
import { findNode, mergeDriverInternalInfo, updateNode, type NodeChanges, type NodeRecord } from '../db/nodes.js';
import { inTransaction, type Pool, type PoolClient } from '../db/pool.js';
import { nodesToSync, powerSyncRanges, type NodeIdRange } from '../db/power-sync.js';
import { ANY_BMC, type BmcAccess } from '../domain/bmc-access.js';
import type { PowerState } from '../domain/power.js';
import {
  afterFailure,
  bmcHostKey,
  EMPTY_TALLY,
  POWER_FAILURE_FAULT,
  type PowerSyncSettings,
  type PowerSyncTally,
} from '../domain/power-sync.js';
import { nodeWorkflowId } from '../workflows/contract.js';
import { connectBmc } from './bmc.js';
import { eventOrigin } from './node-state.js';

export interface PowerSyncBatch {
  range: NodeIdRange;
  /** This batch's share of the run's pace. */
  callsPerSecond: number;
  settings: PowerSyncSettings;
  /** The run's id, on every event it writes. */
  requestId: string;
}

/** A node whose BMC reported another state than recorded, to be set back (force_power_state_during_sync). */
export interface PowerRestore {
  nodeUuid: string;
  powerState: 'power on' | 'power off';
}

export interface PowerSyncBatchResult {
  tally: PowerSyncTally;
  restore: PowerRestore[];
}

type Outcome = Exclude<keyof PowerSyncTally, 'checked'>;

/** A BMC that has not answered by then counts as a failed check; the batch does not wait on it. */
const CHECK_TIMEOUT_MS = 15_000;
/** Calls in flight at once per batch, whatever the pace: bounds the sockets one batch holds. */
const MAX_IN_FLIGHT = 32;
/** The global pace is metered in slices this long, so calls trickle rather than burst each second. */
const PACE_SLICE_MS = 100;
/** Keys in driver_internal_info: failed checks in a row, and the run that counted the last one. */
const FAILURES_KEY = 'power_sync_failures';
const FAILED_RUN_KEY = 'power_sync_failed_run';

const SYNC_REQUESTER = { user: null, project: null };

/** Whether the node's operation lock (its workflow) is held. */
async function isLocked(nodeUuid: string): Promise<boolean> {
  try {
    const description = await Context.current().client.workflow.getHandle(nodeWorkflowId(nodeUuid)).describe();
    return description.status.name === 'RUNNING';
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

/** Something else moved the node since the batch read it (an operation began, an operator stepped in): its writer knows better. */
function moved(now: NodeRecord, seen: NodeRecord): boolean {
  return (
    now.power_state !== seen.power_state ||
    now.target_power_state !== null ||
    now.target_provision_state !== null ||
    now.provision_state !== seen.provision_state ||
    now.maintenance !== seen.maintenance
  );
}

function failuresOf(node: NodeRecord): number {
  return Number(node.driver_internal_info[FAILURES_KEY] ?? 0);
}

function errorText(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).slice(0, 500);
}

export function createPowerSyncActivities(pool: Pool, options: { bmcAccess?: BmcAccess } = {}) {
  const access = options.bmcAccess ?? ANY_BMC;
  /** One queue per BMC endpoint, shared by every batch this worker runs; dropped when idle. */
  const hostQueues = new Map<string, PQueue>();

  function hostQueue(key: string, settings: PowerSyncSettings): PQueue {
    let queue = hostQueues.get(key);
    if (!queue) {
      queue = new PQueue({
        concurrency: settings.perBmcHostConcurrency,
        intervalCap: settings.perBmcHostCallsPerSecond,
        interval: 1000,
      });
      queue.on('idle', () => hostQueues.delete(key));
      hostQueues.set(key, queue);
    }
    return queue;
  }

  async function record(db: PoolClient, node: NodeRecord, event: Omit<NewEvent, 'node_uuid'>, requestId: string) {
    await recordEvent(db, { ...event, node_uuid: node.uuid }, eventOrigin({ ...SYNC_REQUESTER, requestId }));
  }

  /** The BMC answered `found`: record a difference, clear a power failure, forget earlier failures. */
  function recordAnswer(seen: NodeRecord, found: PowerState, requestId: string): Promise<Outcome> {
    return inTransaction(pool, async (db) => {
      const node = await findNode(db, seen.uuid, { forUpdate: true });
      if (!node || moved(node, seen)) return 'locked';
      const changes: NodeChanges = {};
      let outcome: Outcome = 'unchanged';
      if (found !== node.power_state) {
        changes.power_state = found;
        outcome = 'changed';
        await record(
          db,
          node,
          {
            kind: 'power',
            verb: 'sync',
            from_state: node.power_state,
            to_state: found,
            message: `the BMC reports "${found}" while the node recorded "${node.power_state ?? 'nothing'}": changed outside Tempered`,
          },
          requestId,
        );
        // As after any power change: the agent that ran on the machine went with it.
        if (found === 'power off') await clearAgentSession(db, node.uuid);
      }
      if (node.fault === POWER_FAILURE_FAULT) {
        Object.assign(changes, { fault: null, maintenance: false, maintenance_reason: null });
        outcome = outcome === 'changed' ? outcome : 'recovered';
        const message = 'the BMC answers again';
        await record(db, node, { kind: 'fault', verb: 'clear', from_state: POWER_FAILURE_FAULT, message }, requestId);
        await record(
          db,
          node,
          { kind: 'maintenance', verb: 'unset', from_state: 'true', to_state: 'false', message },
          requestId,
        );
      }
      if (Object.keys(changes).length) await updateNode(db, node.uuid, changes);
      if (failuresOf(node) > 0) await mergeDriverInternalInfo(db, node.uuid, { [FAILURES_KEY]: 0 });
      return outcome;
    });
  }

  /** The BMC did not answer: count it once per run; at the limit, fault "power failure" and maintenance. */
  function recordFailure(seen: NodeRecord, error: string, settings: PowerSyncSettings, requestId: string) {
    return inTransaction(pool, async (db): Promise<Outcome> => {
      const node = await findNode(db, seen.uuid, { forUpdate: true });
      if (!node || moved(node, seen)) return 'locked';
      // A retried batch of the same run does not count the same silence twice.
      if (node.driver_internal_info[FAILED_RUN_KEY] === requestId) return 'failed';
      const { failures, fault } = afterFailure(failuresOf(node), settings);
      await mergeDriverInternalInfo(db, node.uuid, { [FAILURES_KEY]: failures, [FAILED_RUN_KEY]: requestId });
      if (!fault || node.fault === POWER_FAILURE_FAULT) return 'failed';
      const reason = `power sync: the BMC did not answer ${failures} checks in a row (last: ${error})`;
      await updateNode(db, node.uuid, {
        fault: POWER_FAILURE_FAULT,
        maintenance: true,
        maintenance_reason: reason,
        last_error: reason,
      });
      await record(
        db,
        node,
        { kind: 'fault', verb: 'set', to_state: POWER_FAILURE_FAULT, severity: 'error', message: reason },
        requestId,
      );
      await record(
        db,
        node,
        { kind: 'maintenance', verb: 'set', from_state: 'false', to_state: 'true', severity: 'error', message: reason },
        requestId,
      );
      return 'faulted';
    });
  }

  return {
    /** The nodes a run checks, in batches of `batchSize`. */
    powerSyncRanges(batchSize: number): Promise<NodeIdRange[]> {
      return powerSyncRanges(pool, batchSize);
    },

    /** Checks one range of nodes at the batch's pace; answers the tally and, when forcing, the nodes to set back. */
    async syncPowerBatch({
      range,
      callsPerSecond,
      settings,
      requestId,
    }: PowerSyncBatch): Promise<PowerSyncBatchResult> {
      const nodes = await nodesToSync(pool, range);
      const pace = new PQueue({
        concurrency: MAX_IN_FLIGHT,
        intervalCap: Math.max(1, Math.round((callsPerSecond * PACE_SLICE_MS) / 1000)),
        interval: PACE_SLICE_MS,
      });
      const tally = { ...EMPTY_TALLY };
      const restore: PowerRestore[] = [];

      const check = async (node: NodeRecord): Promise<Outcome> => {
        // An operation under way shows its target from the moment it was accepted.
        if (node.target_power_state !== null || node.target_provision_state !== null) return 'locked';
        let found: PowerState;
        try {
          found = (await hostQueue(bmcHostKey(node.uuid, node.driver_info), settings).add(
            () => pace.add(() => connectBmc(node, access, (bmc) => bmc.getPowerState()), { timeout: CHECK_TIMEOUT_MS }),
            { timeout: undefined },
          )) as PowerState;
        } catch (err) {
          if (await isLocked(node.uuid)) return 'locked';
          return recordFailure(node, errorText(err), settings, requestId);
        }
        const settled = found === node.power_state && node.fault !== POWER_FAILURE_FAULT && failuresOf(node) === 0;
        if (settled || (await isLocked(node.uuid))) return settled ? 'unchanged' : 'locked';
        const outcome = await recordAnswer(node, found, requestId);
        const recorded = node.power_state;
        if (
          outcome === 'changed' &&
          settings.forcePowerState &&
          (recorded === 'power on' || recorded === 'power off') &&
          found !== 'error'
        )
          restore.push({ nodeUuid: node.uuid, powerState: recorded });
        return outcome;
      };

      let done = 0;
      await Promise.all(
        nodes.map(async (node) => {
          const outcome = await check(node);
          tally[outcome]++;
          Context.current().heartbeat(++done);
        }),
      );
      tally.checked = nodes.length - tally.locked;
      return { tally, restore };
    },
  };
}
