// Activities of a warm pool's workflow: its plan, after an active check of each warm node's agent.
import { activityInfo } from '@temporalio/activity';
import { findNode, updateNode } from '../db/nodes.js';
import { inTransaction, type Pool, type Queryable } from '../db/pool.js';
import { findWarmPool, warmPoolMembers } from '../db/warm-pools.js';
import { planWarmPool, type WarmPoolPlan } from '../domain/warm-pools.js';
import { agentAnswers } from './agent.js';
import { endAgentSession } from './node-state.js';

const DEAD_AGENT_ERROR = 'the pre-booted agent did not answer a status call';

/**
 * A pre-booted node whose agent is gone: it leaves the pool with why as last_error (left for the
 * operator, not booted again in a loop), and its next deploy boots it cold.
 */
async function dropDeadAgent(db: Pool, nodeUuid: string, workflowId: string | null): Promise<void> {
  await inTransaction(db, async (client: Queryable) => {
    await endAgentSession(client, nodeUuid, DEAD_AGENT_ERROR, { workflowId });
    await updateNode(client, nodeUuid, { last_error: DEAD_AGENT_ERROR });
  });
}

export interface WarmPoolRound extends WarmPoolPlan {
  /** Seconds until the next round. */
  intervalSeconds: number;
  /** Warm nodes whose agent did not answer, dropped from the pool this round. */
  dropped: string[];
}

export function createWarmPoolActivities(pool: Pool, tokenKey: string | undefined) {
  return {
    /** One round of the pool: checks each warm node's agent, then plans; undefined once the pool is deleted. */
    async planWarmPoolRound(poolUuid: string): Promise<WarmPoolRound | undefined> {
      const warmPool = await findWarmPool(pool, poolUuid);
      if (!warmPool) return undefined;
      const workflowId = activityInfo().workflowExecution?.workflowId ?? null;
      let members = await warmPoolMembers(pool, warmPool);
      const dropped: string[] = [];
      if (tokenKey) {
        await Promise.all(
          members
            .filter((m) => m.warm && !m.busy)
            .map(async (m) => {
              const node = await findNode(pool, m.uuid);
              if (node && !(await agentAnswers(node, tokenKey))) {
                await dropDeadAgent(pool, m.uuid, workflowId);
                dropped.push(m.uuid);
              }
            }),
        );
        if (dropped.length) members = await warmPoolMembers(pool, warmPool);
      }
      return {
        ...planWarmPool(warmPool, members),
        intervalSeconds: warmPool.check_interval_seconds,
        dropped,
      };
    },
  };
}
