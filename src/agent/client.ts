// The control plane's client for an agent's command API, for activities: they read the agent's
// URL from driver_internal_info.agent_url and derive its token with deriveAgentToken (domain/agent.ts),
// so the token never passes through a workflow.
import { deriveAgentToken } from '../domain/agent.js';
import type { HardwareInventory } from '../domain/inventory.js';
import type { RootDeviceHints } from '../domain/root-device.js';
import type { StepKind } from '../domain/steps.js';
import type { FoundKernel, KernelSearch } from '../domain/final-boot.js';
import type { CommandRecord } from './server.js';

export type { CommandRecord };

export type { StepKind };

export interface AgentStep {
  step: string;
  interface: string;
  priority: number;
  abortable: boolean;
  reboot_requested: boolean;
  requires_ramdisk: boolean;
}

export interface StepCall {
  step: string;
  interface?: string;
  args?: Record<string, unknown>;
}

/** A failed call. `retryable` tells an activity whether trying again can help. */
export class AgentError extends Error {
  override name = 'AgentError';
  constructor(
    message: string,
    /** HTTP status, or null when the agent did not answer. */
    readonly status: number | null,
    readonly code: string,
  ) {
    super(message);
  }

  /** Unreachable, busy (409) or failing (5xx) agents may recover; bad tokens and bad calls do not. */
  get retryable(): boolean {
    return this.status === null || this.status === 409 || this.status >= 500;
  }
}

export interface AgentClientOptions {
  /** Per request; a ?wait=true call waits for its command, so give those a generous one. */
  timeoutMs?: number;
}

export class AgentClient {
  readonly #token: string;
  readonly #timeoutMs: number;

  constructor(
    readonly agentUrl: string,
    token: string,
    options: AgentClientOptions = {},
  ) {
    this.#token = token;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
  }

  async #request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${this.agentUrl}${path}`, {
        method,
        headers: { 'content-type': 'application/json', 'x-agent-token': this.#token },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (err) {
      const cause = (err as Error & { cause?: Error }).cause?.message ?? (err as Error).message;
      throw new AgentError(`agent at ${this.agentUrl} did not answer ${method} ${path}: ${cause}`, null, 'unreachable');
    }
    const payload = (await response.json().catch(() => ({}))) as T & { error?: { code: string; message: string } };
    if (!response.ok) {
      throw new AgentError(
        `agent at ${this.agentUrl} answered ${method} ${path} with ${response.status}: ${payload.error?.message ?? response.statusText}`,
        response.status,
        payload.error?.code ?? 'http_error',
      );
    }
    return payload;
  }

  status(): Promise<{ started_at: string; version: string }> {
    return this.#request('GET', '/v1/status');
  }

  /** Starts a command; async ones answer RUNNING unless `wait`. */
  runCommand(
    name: string,
    params: Record<string, unknown> = {},
    options: { wait?: boolean } = {},
  ): Promise<CommandRecord> {
    return this.#request('POST', `/v1/commands${options.wait ? '?wait=true' : ''}`, { name, params });
  }

  /** The command's record; `wait` until it ends, or `waitSeconds` at most (then it may still be RUNNING). */
  getCommand(id: string, options: { wait?: boolean; waitSeconds?: number } = {}): Promise<CommandRecord> {
    const wait = options.wait ? '?wait=true' : options.waitSeconds ? `?wait=${options.waitSeconds}` : '';
    return this.#request('GET', `/v1/commands/${encodeURIComponent(id)}${wait}`);
  }

  async listCommands(): Promise<CommandRecord[]> {
    return (await this.#request<{ commands: CommandRecord[] }>('GET', '/v1/commands')).commands;
  }

  async #result<T>(name: string, params?: Record<string, unknown>): Promise<T> {
    return resultOf<T>(await this.runCommand(name, params, { wait: true }));
  }

  getHardwareInfo(): Promise<HardwareInventory> {
    return this.#result('get_hardware_info');
  }

  async getSteps(kind: StepKind): Promise<AgentStep[]> {
    return (await this.#result<Record<string, AgentStep[]>>(`get_${kind}_steps`))[`${kind}_steps`];
  }

  /** Starts a clean, deploy or service step and answers its RUNNING record; the agent reports its end to the control plane. */
  executeStep(
    kind: StepKind,
    step: StepCall,
    node: { properties: { root_device?: RootDeviceHints } } = { properties: {} },
  ): Promise<CommandRecord> {
    return this.runCommand(`execute_${kind}_step`, { step, node });
  }

  async sync(): Promise<void> {
    await this.#result('sync');
  }

  /** The machine goes down right after answering: expect the agent to vanish. */
  powerOff(): Promise<CommandRecord> {
    return this.runCommand('power_off');
  }

  reboot(): Promise<CommandRecord> {
    return this.runCommand('reboot');
  }

  /** Hands the machine to its rescue user with this crypt(3) password hash; the agent stops after answering. */
  async finalizeRescue(passwordHash: string): Promise<void> {
    await this.#result('finalize_rescue', { rescue_password: passwordHash, hashed: true });
  }

  /** The kernel a kexec would load from the written image, the one named or the newest found. */
  findKernel(
    params: { kernel?: string; initrd?: string; append_params?: string; node?: { properties: object } } = {},
  ): Promise<KernelSearch> {
    return this.#result('find_kernel', params);
  }

  /** Like reboot: the agent is gone once the instance's kernel runs. */
  kexec(params: FoundKernel & { node?: { properties: object } }): Promise<CommandRecord> {
    return this.runCommand('kexec', { ...params });
  }
}

/**
 * A client for the agent of a node, from the node's driver_internal_info (agent_url from the last
 * heartbeat, agent_token_nonce from the lookup) and the AGENT_TOKEN_KEY the API minted the token with.
 */
export function agentClientForNode(
  node: { uuid: string; driver_internal_info: Record<string, unknown> },
  tokenKey: string,
  options?: AgentClientOptions,
): AgentClient {
  const { agent_url: url, agent_token_nonce: nonce } = node.driver_internal_info;
  if (typeof url !== 'string' || typeof nonce !== 'string') {
    throw new AgentError(
      `node ${node.uuid} has no agent: none has looked up and heartbeated since its last boot`,
      null,
      'no_agent',
    );
  }
  return new AgentClient(url, deriveAgentToken(tokenKey, node.uuid, nonce), options);
}

/** The result of a finished command; throws AgentError for a failed or unfinished one. */
export function resultOf<T>(record: CommandRecord): T {
  if (record.command_status === 'SUCCEEDED') return record.command_result as T;
  if (record.command_status === 'FAILED') {
    throw new AgentError(
      `${record.command_name} failed: ${record.command_error?.message}`,
      null,
      record.command_error?.type ?? 'command_failed',
    );
  }
  throw new AgentError(`${record.command_name} is still running`, null, 'running');
}
