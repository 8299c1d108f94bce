// The agent's life: serve commands, look the machine up by its MACs until the control plane
// answers with a node and a token, then heartbeat on the interval it was given, and report each
// command's end as it happens. A control plane that is down or not yet expecting this machine is
// retried with capped, jittered backoff.
import { createSocket } from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { hashAgentToken } from '../domain/agent.js';
import { MASK } from '../domain/secrets.js';
import { AGENT_VERSION } from './commands.js';
import type { Platform } from './platform/types.js';
import { CommandRunner, startCommandServer, type CommandRecord } from './server.js';

export interface RetryPolicy {
  initialMs: number;
  maxMs: number;
}

export interface AgentOptions {
  apiUrl: string;
  platform: Platform;
  logger: Logger;
  /** 0.0.0.0 on a machine; 127.0.0.1 in the lab. */
  listenHost: string;
  /** 9999 (ironic-python-agent's) on a machine; 0 (any free port) in the lab. */
  listenPort: number;
  /** The host in the callback URL; default: the listen address, or the local address facing the API. */
  advertiseHost?: string;
  /** The port in the callback URL, when a NAT forwards another one to the listen port; default: the listen port. */
  advertisePort?: number;
  /** A token the control plane issued with the boot media (a DHCP-less virtual-media boot); lookup then only names the node. */
  presetToken?: string;
  retry?: RetryPolicy;
}

export interface RunningAgent {
  url: string;
  stop(): Promise<void>;
}

const DEFAULT_RETRY: RetryPolicy = { initialMs: 1000, maxMs: 30_000 };
const REQUEST_TIMEOUT_MS = 10_000;
/** Time for the answer of a command that stops the agent to leave before its listener closes. */
const HAND_OVER_DELAY_MS = 200;

/** Tries to report a command's end this often; the control plane's own slow check covers a report that never arrives. */
const REPORT_ATTEMPTS = 3;

interface Session {
  nodeUuid: string;
  intervalMs: number;
  token: string;
}

interface LookupAnswer {
  node: { uuid: string };
  config: { heartbeat_interval: number; agent_token: string };
}

/** The local address this machine uses to reach `apiUrl`: a connected UDP socket sends nothing but knows it. */
async function addressFacing(apiUrl: string): Promise<string> {
  const { hostname, port } = new URL(apiUrl);
  const socket = createSocket(hostname.includes(':') ? 'udp6' : 'udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.connect(Number(port) || 80, hostname.replace(/^\[|\]$/g, ''), () => resolve());
    });
    return socket.address().address;
  } finally {
    socket.close();
  }
}

function retryDelay(attempt: number, policy: RetryPolicy): number {
  const ceiling = Math.min(policy.maxMs, policy.initialMs * 2 ** attempt);
  return ceiling / 2 + (Math.random() * ceiling) / 2;
}

export async function startAgent(options: AgentOptions): Promise<RunningAgent> {
  const { apiUrl, platform, logger } = options;
  const retry = options.retry ?? DEFAULT_RETRY;
  const stopping = new AbortController();
  let tokenHash: string | undefined;
  let session: Session | undefined;
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      stopping.abort();
      await life;
      await server.close();
    })());
  // A command that hands the machine over (rescue) stops the agent right after its answer is sent.
  const stopAgent = () => {
    logger.info('handing the machine over: the agent stops');
    setTimeout(() => void stop(), HAND_OVER_DELAY_MS);
  };
  const runner = new CommandRunner({ platform, logger, stopAgent }, (record) => void reportEnd(record));
  const server = await startCommandServer({
    host: options.listenHost,
    port: options.listenPort,
    runner,
    tokenHash: () => tokenHash,
    logger,
  });
  const wildcard = ['0.0.0.0', '::'].includes(options.listenHost);
  const host = options.advertiseHost ?? (wildcard ? await addressFacing(apiUrl) : options.listenHost);
  const callbackUrl = `http://${host.includes(':') ? `[${host}]` : host}:${options.advertisePort ?? server.port}`;
  logger.info({ callbackUrl, platform: platform.name }, 'agent listening');

  const call = (path: string, init: RequestInit = {}) =>
    fetch(`${apiUrl}${path}`, {
      ...init,
      headers: { 'content-type': 'application/json' },
      signal: AbortSignal.any([stopping.signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]),
    });

  /** Retries `attempt` until it returns a value; undefined once the agent stops. */
  async function persist<T>(what: string, attempt: () => Promise<T | undefined>): Promise<T | undefined> {
    for (let failures = 0; !stopping.signal.aborted; failures++) {
      try {
        const value = await attempt();
        if (value !== undefined) return value;
      } catch (err) {
        if (stopping.signal.aborted) break;
        logger.warn({ error: (err as Error).message }, `${what} failed`);
      }
      await sleep(retryDelay(failures, retry), undefined, { signal: stopping.signal }).catch(() => {});
    }
    return undefined;
  }

  async function lookup(): Promise<Session | undefined> {
    const macs = await platform.macAddresses();
    const response = await call(`/v1/lookup?addresses=${encodeURIComponent(macs.join(','))}`);
    if (!response.ok) {
      logger.info({ status: response.status, macs }, 'lookup: no node expects this machine yet');
      return undefined;
    }
    const answer = (await response.json()) as LookupAnswer;
    if (answer.config.agent_token === MASK && options.presetToken) {
      logger.info({ node: answer.node.uuid }, 'looked up; using the token that came with the boot media');
      return {
        nodeUuid: answer.node.uuid,
        intervalMs: answer.config.heartbeat_interval * 1000,
        token: options.presetToken,
      };
    }
    if (answer.config.agent_token === MASK) {
      // Another agent holds this node's token; only a reset on the control plane (a reboot of the node) frees it.
      logger.warn(
        { node: answer.node.uuid },
        'lookup: the node already has an agent token; waiting for it to be reset',
      );
      return undefined;
    }
    logger.info({ node: answer.node.uuid, interval_s: answer.config.heartbeat_interval }, 'looked up');
    return {
      nodeUuid: answer.node.uuid,
      intervalMs: answer.config.heartbeat_interval * 1000,
      token: answer.config.agent_token,
    };
  }

  /** true: heartbeat taken; false: the token is no longer valid; throws on anything retryable. */
  async function heartbeat(nodeUuid: string, token: string): Promise<boolean> {
    const response = await call(`/v1/heartbeat/${nodeUuid}`, {
      method: 'POST',
      body: JSON.stringify({ callback_url: callbackUrl, agent_version: AGENT_VERSION, agent_token: token }),
    });
    if (response.status === 401) return false;
    if (response.status !== 202) throw new Error(`heartbeat answered ${response.status}`);
    return true;
  }

  /**
   * Tells the control plane at once that a command ended (id and status, with the agent token), so
   * the operation waiting on it goes on without polling. Its error stays here, read when asked for.
   */
  async function reportEnd(record: CommandRecord): Promise<void> {
    const current = session;
    if (!current) return;
    const body = JSON.stringify({
      agent_token: current.token,
      command_id: record.id,
      command_status: record.command_status,
    });
    for (let attempt = 0; attempt < REPORT_ATTEMPTS && !stopping.signal.aborted; attempt++) {
      try {
        const response = await call(`/v1/command_result/${current.nodeUuid}`, { method: 'POST', body });
        // Accepted, or refused for good (the session ended): either way there is nothing to retry.
        if (response.status < 500) return;
        logger.warn({ status: response.status, id: record.id }, 'command report not taken');
      } catch (err) {
        if (stopping.signal.aborted) return;
        logger.warn({ error: (err as Error).message, id: record.id }, 'command report failed');
      }
      await sleep(retryDelay(attempt, retry), undefined, { signal: stopping.signal }).catch(() => {});
    }
  }

  const life = (async () => {
    while (!stopping.signal.aborted) {
      const current = await persist('lookup', lookup);
      if (!current) return;
      session = current;
      tokenHash = hashAgentToken(current.token);
      let accepted: boolean | undefined = true;
      while (accepted && !stopping.signal.aborted) {
        accepted = await persist('heartbeat', async () => heartbeat(current.nodeUuid, current.token));
        if (accepted) await sleep(current.intervalMs, undefined, { signal: stopping.signal }).catch(() => {});
      }
      session = undefined;
      if (accepted === false) logger.warn({ node: current.nodeUuid }, 'heartbeat refused: looking up again');
    }
  })();

  return { url: callbackUrl, stop };
}
