// The ramdisk agent's side door into the API, after Ironic's: lookup (which node am I? here is your
// token), heartbeat (I am alive at this URL) and, ours, command_result (this command just ended).
// Agents hold no API token: lookup answers only to a
// caller naming the MACs of exactly one node whose state expects an agent, and heartbeats prove
// themselves with the agent token, from the address the session's lookup came from.
// Served on the agent listener only (AGENT_API_HOST/AGENT_API_PORT), never on the tenant API's.
import { Router, type Request } from 'express';
import { z } from 'zod';
import {
  claimAgentToken,
  presetAgentTokenOf,
  findNodeUuidsByAddresses,
  recordAgentHeartbeat,
  unrecordFirstHeartbeat,
} from '../db/agent.js';
import { findNode, type NodeRecord } from '../db/nodes.js';
import type { Pool } from '../db/pool.js';
import {
  agentTokenMatches,
  deriveAgentToken,
  expectsAgent,
  hashAgentToken,
  newAgentTokenNonce,
} from '../domain/agent.js';
import { MASK, maskSecrets } from '../domain/secrets.js';
import { logNode } from './context.js';
import { ApiError, parse } from './errors.js';
import type { Operations } from './operations.js';
import type { RefusalLog } from './refusals.js';
import { MAC } from './schemas.js';

/** Ironic's [api]ramdisk_heartbeat_timeout: an agent silent this long is taken for gone. */
const HEARTBEAT_TIMEOUT_SECONDS = 300;
/** How often agents heartbeat: well inside the timeout, so a lost heartbeat or two is no alarm. */
const HEARTBEAT_INTERVAL_SECONDS = 30;

export const lookupQuery = z.strictObject({
  // Required: a node UUID is no secret (tenants see it), so only the machine's own MACs identify it.
  addresses: z
    .string({ message: "give the MAC addresses of this machine's NICs, comma separated" })
    .transform((list) => list.toLowerCase().split(',').filter(Boolean))
    .pipe(
      z
        .array(z.string().regex(MAC, 'must be MAC addresses such as 52:54:00:12:34:56, comma separated'))
        .min(1, 'give at least one MAC address')
        .max(64),
    ),
  // Optional, as IPA sends it when it knows: then the MACs must belong to that very node.
  node_uuid: z.uuid({ message: 'must be a UUID' }).optional(),
});

export const heartbeatBody = z.strictObject({
  callback_url: z.url({ protocol: /^https?$/, message: 'must be the http(s) URL of the agent' }).max(2048),
  agent_version: z.string().min(1).max(64),
  agent_token: z.string().max(512).optional(),
  // Ironic 1.72: the agent's own account of what it is doing; accepted, not yet used.
  agent_status: z.enum(['start', 'end', 'error']).optional(),
  agent_status_message: z.string().max(1024).optional(),
});

export const commandResultBody = z.strictObject({
  agent_token: z.string().max(512).optional(),
  command_id: z.uuid({ message: 'must be the UUID of an agent command' }),
  command_status: z.enum(['SUCCEEDED', 'FAILED']),
});

/** One answer for "no such node" and "not expecting an agent", so lookups cannot probe the inventory. */
const noAgentExpected = () => new ApiError(404, 'not_found', 'no node expecting an agent matches');

/** The peer's address: the agent listener is reached directly, never through a proxy (trust proxy is off). */
const sourceAddress = (req: Request) => req.socket.remoteAddress ?? 'unknown';

const unauthorized = () => new ApiError(401, 'unauthorized', 'a valid agent_token is required');

export function agentRouter(
  pool: Pool,
  operations: Operations,
  tokenKey: string | undefined,
  refusals: RefusalLog,
): Router {
  const router = Router();

  async function nodeByLookup(query: z.infer<typeof lookupQuery>): Promise<NodeRecord | undefined> {
    const uuids = await findNodeUuidsByAddresses(pool, query.addresses);
    // MACs spread over two nodes say nothing reliable about which machine is asking.
    if (uuids.length !== 1 || (query.node_uuid && query.node_uuid !== uuids[0])) return undefined;
    return findNode(pool, uuids[0]);
  }

  router.get('/lookup', async (req, res) => {
    const query = parse(lookupQuery, req.query, 'query');
    if (!tokenKey)
      throw new ApiError(
        503,
        'agent_token_key_missing',
        'AGENT_TOKEN_KEY is not set on the API: agents cannot be given tokens',
      );
    const node = await nodeByLookup(query);
    if (!node || !expectsAgent(node)) throw noAgentExpected();
    logNode(req, node.uuid);
    const nonce = newAgentTokenNonce();
    const token = deriveAgentToken(tokenKey, node.uuid, nonce);
    // A token that came with the boot media begins the session and is never sent over the network.
    const preset = presetAgentTokenOf(node.driver_internal_info);
    // Only the first lookup of a session gets the token; later ones (a second agent, an attacker on
    // the provisioning network) see it hidden, and the agent that has it keeps using it.
    const issued = await claimAgentToken(pool, node.uuid, {
      ...(preset ?? { nonce, hash: hashAgentToken(token) }),
      sourceAddress: sourceAddress(req),
    });
    res.set('cache-control', 'no-store').json({
      node: {
        uuid: node.uuid,
        name: node.name,
        properties: node.properties,
        instance_info: maskSecrets(node.instance_info),
        driver_internal_info: maskSecrets(node.driver_internal_info),
      },
      config: {
        heartbeat_timeout: HEARTBEAT_TIMEOUT_SECONDS,
        heartbeat_interval: HEARTBEAT_INTERVAL_SECONDS,
        agent_token: issued && !preset ? token : MASK,
        agent_token_required: true,
      },
    });
  });

  /** The node whose agent session `token` belongs to, called from that session's address; refusals are auth events. */
  async function agentNode(req: Request, call: string, token: string | undefined): Promise<NodeRecord> {
    const node = await findNode(pool, String(req.params.node));
    if (!node || !expectsAgent(node)) throw noAgentExpected();
    logNode(req, node.uuid);
    if (!agentTokenMatches(token, node.driver_internal_info.agent_token_hash)) {
      await recordRefusedCall(req, node.uuid, call, token === undefined ? 'no agent_token' : 'a wrong agent_token');
      throw unauthorized();
    }
    // The token is bound to the session of this boot: a copy used from elsewhere is worth nothing.
    if (node.driver_internal_info.agent_source_address !== sourceAddress(req)) {
      await recordRefusedCall(req, node.uuid, call, 'the agent_token of a session begun from another address');
      throw unauthorized();
    }
    return node;
  }

  router.post('/heartbeat/:node', async (req, res) => {
    const body = parse(heartbeatBody, req.body);
    const node = await agentNode(req, 'heartbeat', body.agent_token);
    const at = new Date().toISOString();
    const heartbeat = { agent_url: body.callback_url, agent_version: body.agent_version, agent_last_heartbeat: at };
    const session = {
      tokenHash: node.driver_internal_info.agent_token_hash as string,
      sourceAddress: sourceAddress(req),
    };
    // The session may have ended (the machine rebooted) since the token was checked, or the callback
    // URL differ from the session's: then it is refused too.
    if (!(await recordAgentHeartbeat(pool, node.uuid, session, heartbeat))) {
      await recordRefusedCall(
        req,
        node.uuid,
        'heartbeat',
        'the agent_token of an ended session or another callback_url',
      );
      throw unauthorized();
    }
    // Only a session's first heartbeat wakes the operation (the one waiting for the agent it booted);
    // the later ones, every heartbeat_interval, only keep the session alive. A first whose signal
    // fails is taken back and refused (503), so the agent's retry is the first again.
    if (node.driver_internal_info.agent_last_heartbeat === undefined) {
      try {
        await operations.signalAgentHeartbeat(node.uuid, { agentUrl: body.callback_url, at });
      } catch (err) {
        await unrecordFirstHeartbeat(pool, node.uuid, at);
        throw err;
      }
    }
    res.status(202).end();
  });

  // The agent tells the running operation at once that a command ended, so the workflow waiting
  // on it wakes without polling. The signal carries the id and status only; a duplicate is harmless.
  router.post('/command_result/:node', async (req, res) => {
    const body = parse(commandResultBody, req.body);
    const node = await agentNode(req, 'command_result', body.agent_token);
    await operations.signalAgentCommandEnded(node.uuid, { commandId: body.command_id, status: body.command_status });
    res.status(202).end();
  });

  /** An auth event on the node, coalesced per source: a looping agent or attacker cannot flood the log. */
  async function recordRefusedCall(req: Request, nodeUuid: string, call: string, what: string): Promise<void> {
    await refusals.refused(
      sourceAddress(req),
      `${call} ${nodeUuid} ${what}`,
      { node_uuid: nodeUuid, kind: 'auth', verb: call, message: `agent ${call} with ${what} from ${req.ip}` },
      req.res?.locals.requestId,
    );
  }

  return router;
}
