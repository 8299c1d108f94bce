// Rules for the in-band agent: which nodes may talk to an agent, and the agent token.
// Pure computation (hashing is no I/O), shared by the API, which mints and checks tokens, and
// the activities, which derive the token again to call the agent.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { sha256Hex } from './secrets.js';
import type { ProvisionState } from './provision.js';

/**
 * States whose operation expects an agent to look up and heartbeat, after Ironic: the *ing and
 * *wait states of inspect, clean, deploy, service and rescue (a held service keeps its agent).
 * In `rescue` itself the agent has handed the machine to the rescue user and talks no more.
 */
export const AGENT_STATES: ReadonlySet<ProvisionState> = new Set<ProvisionState>([
  'inspecting',
  'inspect wait',
  'cleaning',
  'clean wait',
  'clean hold',
  'deploying',
  'wait call-back',
  'servicing',
  'service wait',
  'service hold',
  'rescuing',
  'rescue wait',
]);

/** With fast-track a booted agent may also stay up in these states, waiting for the next operation. */
export const FAST_TRACK_STATES: ReadonlySet<ProvisionState> = new Set<ProvisionState>(['manageable', 'available']);

export interface AgentNode {
  provision_state: ProvisionState;
  driver_internal_info: Record<string, unknown>;
}

/**
 * Whether an agent running on `node` may look up and heartbeat. Fast-track is a per-node switch the
 * system sets (driver_internal_info.fast_track), as a warm pool or a cleaning that keeps the agent up will.
 */
export function expectsAgent(node: AgentNode): boolean {
  if (AGENT_STATES.has(node.provision_state)) return true;
  return node.driver_internal_info.fast_track === true && FAST_TRACK_STATES.has(node.provision_state);
}

/**
 * The agent token is never stored. It is HMAC(key, node uuid, nonce): the database keeps only the
 * random nonce and the token's SHA-256, so reading the database is not enough to impersonate an
 * agent or to command one; the API and the worker, which hold the key, can derive it again.
 */
export function deriveAgentToken(key: string, nodeUuid: string, nonce: string): string {
  return createHmac('sha256', key).update(`tempered-agent-token\0${nodeUuid}\0${nonce}`).digest('base64url');
}

export function newAgentTokenNonce(): string {
  return randomBytes(32).toString('base64url');
}

export function hashAgentToken(token: string): string {
  return sha256Hex(token);
}

/** Constant-time check of `token` against a stored hash; false for a missing token or hash. */
export function agentTokenMatches(token: string | undefined, storedHash: unknown): boolean {
  if (!token || typeof storedHash !== 'string') return false;
  const given = Buffer.from(hashAgentToken(token), 'hex');
  const stored = Buffer.from(storedHash, 'hex');
  return given.length === stored.length && timingSafeEqual(given, stored);
}

/**
 * The automatic trait of a pre-booted node: booted into a live agent that waits for the next
 * operation (the boot verb, a cleaning that ends pre-booted, a warm pool). The system adds it once
 * the agent heartbeats and removes it when the agent's session ends; callers cannot set it.
 */
export const PREBOOTED_TRAIT = 'CUSTOM_PREBOOTED';

/** Ironic's fast_track_timeout: an agent that heartbeated this recently is used without a reboot. */
export const FAST_TRACK_TIMEOUT_SECONDS = 300;

/**
 * Whether the node's agent is alive and may be used without a reboot: powered on, with a heartbeat
 * within the fast-track timeout, and a session that began after the last cleaning began. An agent
 * older than the cleaning (one that ran while a tenant had the machine) is never handed the next
 * tenant's image and config drive: that cleaning boots a fresh ramdisk, whose agent is the one reused.
 */
export function isAgentAlive(
  node: { power_state: string | null; driver_internal_info: Record<string, unknown> },
  now: Date,
): boolean {
  const { agent_url, agent_last_heartbeat, agent_session_started_at, cleaning_started_at } = node.driver_internal_info;
  if (node.power_state !== 'power on' || typeof agent_url !== 'string' || typeof agent_last_heartbeat !== 'string')
    return false;
  if (typeof agent_session_started_at !== 'string') return false;
  if (
    typeof cleaning_started_at === 'string' &&
    Date.parse(agent_session_started_at) <= Date.parse(cleaning_started_at)
  )
    return false;
  return now.getTime() - Date.parse(agent_last_heartbeat) <= FAST_TRACK_TIMEOUT_SECONDS * 1000;
}
