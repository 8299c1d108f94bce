// Messages between the API and a node's running operation: signals in, the plan query out.
// Safe to import from workflow code.
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { StepStatus } from '../domain/steps.js';

/** The node's agent heartbeated. Carries no token: signals are in the workflow history. */
export const agentHeartbeatSignal = defineSignal<[{ agentUrl: string; at: string }]>('agentHeartbeat');

/** Abort the running clean or deploy: it stops at the next point its current step allows. */
export const abortSignal = defineSignal<[{ user: string | null; requestId: string }]>('abort');

/** An operator's unhold: the clean or service parked by a `deploy.hold` step goes on. */
export const unholdSignal = defineSignal<[{ user: string | null; requestId: string }]>('unhold');

/** The plan of the running clean or deploy, each step with its status. */
export const planQuery = defineQuery<StepStatus[]>('plan');

/** How an agent command ended, as its agent reported it. */
export type AgentCommandEnd = 'SUCCEEDED' | 'FAILED';

/**
 * The agent reported that a command ended. Only the id and how it ended: the reason of a failure is
 * read by an activity, so nothing the agent says passes through the history unasked.
 */
export const agentCommandEndedSignal =
  defineSignal<[{ commandId: string; status: AgentCommandEnd }]>('agentCommandEnded');

/** A warm pool's settings changed (or a node of it was taken): its workflow plans again now. */
export const warmPoolChangedSignal = defineSignal('warmPoolChanged');
