// Signals the API sends to a node's running operation. Safe to import from workflow code.
import { defineSignal } from '@temporalio/workflow';

/** The node's agent heartbeated. Carries no token: signals are in the workflow history. */
export const agentHeartbeatSignal = defineSignal<[{ agentUrl: string; at: string }]>('agentHeartbeat');

/** Abort the running clean or deploy: it stops at the next point its current step allows. */
export const abortSignal = defineSignal<[{ user: string | null; requestId: string }]>('abort');
