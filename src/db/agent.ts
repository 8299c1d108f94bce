// The agent's session with a node, kept in nodes.driver_internal_info: the token's nonce and hash,
// the address the session's lookup came from, when it began, and what the last heartbeat said. Updates merge into the jsonb, so they never clobber keys an
// operation writes at the same time.
import { PREBOOTED_TRAIT } from '../domain/agent.js';
import type { Queryable } from './pool.js';

/** driver_internal_info keys of the agent session. */
export interface AgentSession {
  agent_token_nonce?: string;
  agent_token_hash?: string;
  /** The source address of the lookup that began the session: heartbeats must come from it. */
  agent_source_address?: string;
  /** When the lookup that began the session was answered (database clock). */
  agent_session_started_at?: string;
  agent_url?: string;
  agent_version?: string;
  agent_last_heartbeat?: string;
}

/** The UUIDs of the nodes owning any of these MAC addresses (lower case, colon separated). */
export async function findNodeUuidsByAddresses(db: Queryable, addresses: readonly string[]): Promise<string[]> {
  const { rows } = await db.query<{ node_uuid: string }>(
    'SELECT DISTINCT node_uuid FROM ports WHERE address = ANY($1::text[])',
    [addresses],
  );
  return rows.map((row) => row.node_uuid);
}

/**
 * Begins a session (a new token's nonce and hash, the lookup's source address, the start time)
 * unless the node already has one; true when this call began it. One statement, so two agents
 * looking up at once cannot both get a token.
 */
export async function claimAgentToken(
  db: Queryable,
  nodeUuid: string,
  session: { nonce: string; hash: string; sourceAddress: string },
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE nodes SET driver_internal_info = driver_internal_info || $2::jsonb
       || jsonb_build_object('agent_session_started_at', now()), updated_at = now()
     WHERE uuid = $1 AND NOT driver_internal_info ? 'agent_token_hash'`,
    [
      nodeUuid,
      JSON.stringify({
        agent_token_nonce: session.nonce,
        agent_token_hash: session.hash,
        agent_source_address: session.sourceAddress,
      } satisfies AgentSession),
    ],
  );
  return rowCount === 1;
}

/**
 * Records a heartbeat of the session whose token hash is `tokenHash`, sent from `sourceAddress`;
 * false when that session has ended, the heartbeat comes from another address than the lookup,
 * or it names another callback URL than the session's earlier heartbeats (as Ironic refuses).
 */
export async function recordAgentHeartbeat(
  db: Queryable,
  nodeUuid: string,
  session: { tokenHash: string; sourceAddress: string },
  heartbeat: Required<Pick<AgentSession, 'agent_url' | 'agent_version' | 'agent_last_heartbeat'>>,
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE nodes SET driver_internal_info = driver_internal_info || $2::jsonb, updated_at = now()
     WHERE uuid = $1 AND driver_internal_info->>'agent_token_hash' = $3 AND driver_internal_info->>'agent_source_address' = $4
       AND coalesce(driver_internal_info->>'agent_url', $5) = $5`,
    [nodeUuid, JSON.stringify(heartbeat), session.tokenHash, session.sourceAddress, heartbeat.agent_url],
  );
  return rowCount === 1;
}

/**
 * Takes back a session's first heartbeat (`at`) whose news did not reach the operation, so the
 * agent's next heartbeat counts as the first again; a later heartbeat meanwhile is left alone.
 */
export async function unrecordFirstHeartbeat(db: Queryable, nodeUuid: string, at: string): Promise<void> {
  await db.query(
    `UPDATE nodes SET driver_internal_info = driver_internal_info - 'agent_last_heartbeat', updated_at = now()
     WHERE uuid = $1 AND driver_internal_info->>'agent_last_heartbeat' = $2`,
    [nodeUuid, at],
  );
}

const AGENT_SESSION_KEYS: (keyof AgentSession)[] = [
  'agent_token_nonce',
  'agent_token_hash',
  'agent_source_address',
  'agent_session_started_at',
  'agent_url',
  'agent_version',
  'agent_last_heartbeat',
];

/**
 * A token issued with a boot's media (a per-boot virtual-media ISO), before the ramdisk runs: its
 * nonce and hash wait here, outside the session, until the lookup that begins the session adopts
 * them. A later preset (the next boot) replaces it.
 */
export async function presetAgentToken(
  db: Queryable,
  nodeUuid: string,
  token: { nonce: string; hash: string },
): Promise<void> {
  await db.query(
    'UPDATE nodes SET driver_internal_info = driver_internal_info || $2::jsonb, updated_at = now() WHERE uuid = $1',
    [nodeUuid, JSON.stringify({ agent_preset_token_nonce: token.nonce, agent_preset_token_hash: token.hash })],
  );
}

/** The preset token's nonce and hash, when the node's boot media carries one. */
export function presetAgentTokenOf(
  driverInternalInfo: Record<string, unknown>,
): { nonce: string; hash: string } | undefined {
  const { agent_preset_token_nonce: nonce, agent_preset_token_hash: hash } = driverInternalInfo;
  return typeof nonce === 'string' && typeof hash === 'string' ? { nonce, hash } : undefined;
}

/** The boot media is gone: its token can begin no session any more. */
export async function clearPresetAgentToken(db: Queryable, nodeUuid: string): Promise<void> {
  await db.query(
    `UPDATE nodes SET driver_internal_info = driver_internal_info - 'agent_preset_token_nonce' - 'agent_preset_token_hash', updated_at = now()
     WHERE uuid = $1`,
    [nodeUuid],
  );
}

/** Notes when a cleaning began: fast-track reuses no agent whose session began before it. */
export async function markCleaningStarted(db: Queryable, nodeUuid: string): Promise<void> {
  await db.query(
    `UPDATE nodes SET driver_internal_info = driver_internal_info || jsonb_build_object('cleaning_started_at', now()), updated_at = now()
     WHERE uuid = $1`,
    [nodeUuid],
  );
}

/** SQL condition on a nodes row: booted into a live agent and kept there (the pre-booted marker). */
export const PREBOOTED_SQL = `'${PREBOOTED_TRAIT}' = ANY(traits)`;

/**
 * Forgets the agent: its machine rebooted or powered off, so a new agent starts a new session. The
 * pre-booted marker goes with it; true when the node had it (the caller records that it ended).
 */
export async function clearAgentSession(db: Queryable, nodeUuid: string): Promise<boolean> {
  const { rows } = await db.query<{ was_prebooted: boolean }>(
    `UPDATE nodes SET driver_internal_info = driver_internal_info - $2::text[], traits = array_remove(traits, $3),
       updated_at = now()
     FROM (SELECT uuid, $3 = ANY(traits) AS was_prebooted FROM nodes WHERE uuid = $1 FOR UPDATE) AS before
     WHERE nodes.uuid = before.uuid RETURNING before.was_prebooted`,
    [nodeUuid, AGENT_SESSION_KEYS, PREBOOTED_TRAIT],
  );
  return rows[0]?.was_prebooted === true;
}

/** Shows the node pre-booted (its live agent waits for the next operation); true when this call added the marker. */
export async function markPrebooted(db: Queryable, nodeUuid: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE nodes SET traits = array_append(traits, $2), updated_at = now()
     WHERE uuid = $1 AND NOT $2 = ANY(traits)`,
    [nodeUuid, PREBOOTED_TRAIT],
  );
  return rowCount === 1;
}

/** Where a rescue keeps the rescue password's crypt(3) hash from the API's acceptance until the agent took it. */
export const RESCUE_PASSWORD_HASH_KEY = 'rescue_password_hash';

/** The rescue password's hash has reached the machine (or the rescue is over): it is kept no longer. */
export async function clearRescuePasswordHash(db: Queryable, nodeUuid: string): Promise<void> {
  await db.query(
    `UPDATE nodes SET driver_internal_info = driver_internal_info - '${RESCUE_PASSWORD_HASH_KEY}', updated_at = now() WHERE uuid = $1`,
    [nodeUuid],
  );
}

/** Forgets the agent command an operation's step started: the next operation starts its own. */
export async function clearAgentStepCommand(db: Queryable, nodeUuid: string): Promise<void> {
  await db.query(
    `UPDATE nodes SET driver_internal_info = driver_internal_info - 'agent_step_command' WHERE uuid = $1`,
    [nodeUuid],
  );
}
