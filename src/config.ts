// Settings from the environment, with the embedded defaults `npm start` uses.
import os from 'node:os';
import path from 'node:path';
import type { WorkerOptions } from '@temporalio/worker';
import { DEFAULT_PG_CONNECT_TIMEOUT_MS, DEFAULT_PG_STATEMENT_TIMEOUT_MS } from './db/pool.js';
import { parseNetworks, type BmcAccess } from './domain/bmc-access.js';
import { DEFAULT_POWER_SYNC_SETTINGS, type PowerSyncSettings } from './domain/power-sync.js';
import { DEFAULT_TASK_QUEUE } from './workflows/contract.js';

export interface Config {
  databaseUrl: string;
  temporalAddress: string;
  temporalNamespace: string;
  taskQueue: string;
  apiHost: string;
  apiPort: number;
  /** The agents' listener (lookup, heartbeat): in production on the provisioning network only. */
  agentApiHost: string;
  agentApiPort: number;
  /** The API's URL as its callers reach it, for links in answers; default: the listen address. */
  publicUrl?: string;
  /** BMC_ALLOWED_NETWORKS and REDFISH_CA_DIR: where BMCs may be, where CA bundles come from (API and worker). */
  bmcAccess: BmcAccess;
  logLevel: string;
  /** `none` turns authentication off: development only. */
  authMode: 'token' | 'none';
  /** Stored as an admin token at start-up, so operators can bring their own. */
  adminToken?: string;
  /** Secret the agent tokens are derived with; the API and the worker need the same one. */
  agentTokenKey?: string;
  /** Cleaning leaves the agent running so the next deploy needs no reboot (Ironic's fast_track). */
  fastTrack: boolean;
  /** The ramdisk ISO virtual-media boots insert (one ISO for every node, no per-boot content). */
  ramdiskIsoUrl?: string;
  /** Per-boot virtual-media ISOs built by the worker from `npm run build:ramdisk`'s output. */
  bootMedia?: BootMediaConfig;
  /** iPXE scripts of network boots (GET /v1/boot/ipxe): where the ramdisk is served (RAMDISK_URL). */
  networkBoot?: { ramdiskUrl: string; agentApiUrl: string };
  /** How long a booting ramdisk may take to heartbeat before the operation fails. */
  agentBootTimeoutSeconds: number;
  /** Connections each process (worker, API) keeps to PostgreSQL at most. */
  pgPoolSize: number;
  /** How long getting a PostgreSQL connection may take before the request answers 503. */
  pgConnectTimeoutMs: number;
  /** How long one SQL statement may run, or a transaction sit idle, before PostgreSQL ends it. */
  pgStatementTimeoutMs: number;
  /** Refused calls from one source within this many seconds are recorded as one event plus a count. */
  refusalWindowSeconds: number;
  worker: WorkerCapacity;
  /** host:port the worker serves Prometheus metrics on (its operations and Temporal's own); unset: none. */
  workerMetricsAddress?: string;
  /** Power sync's Schedule, made to match at API start (period 0: removed); unset: left as it is. */
  powerSync?: PowerSyncSettings;
}

export interface BootMediaConfig {
  /** The build:ramdisk output folder (vmlinuz, initramfs.img, efiboot.img). */
  ramdiskDir: string;
  /** Where the per-boot ISOs are kept until the boot is over. */
  dir: string;
  /** The worker's media server, which BMCs download the ISOs from. */
  host: string;
  port: number;
  /** How BMCs reach the media server; default http://host:port. */
  publicUrl?: string;
  /** How the ramdisk's agent reaches the API (its tempered.api_url). */
  agentApiUrl: string;
}

/**
 * How much one worker takes on at once. The defaults suit a 2-core machine: activities mostly
 * wait on BMCs and agents (cheap to hold many); a workflow task holds its slot while its local
 * activities wait on the database and quick BMC calls, so about fifteen per core keep the cores
 * busy (many more only lengthen each task and grow memory); and the sticky cache keeps every running
 * operation's workflow in memory so a task needs no replay.
 */
export type WorkerCapacity = Required<
  Pick<
    WorkerOptions,
    | 'maxConcurrentActivityTaskExecutions'
    | 'maxConcurrentWorkflowTaskExecutions'
    | 'maxConcurrentLocalActivityExecutions'
    // Workflows kept in memory between tasks; beyond it a woken workflow replays its history.
    | 'maxCachedWorkflows'
  >
>;

export const DEFAULT_WORKER_CAPACITY: WorkerCapacity = {
  maxConcurrentActivityTaskExecutions: 200,
  maxConcurrentWorkflowTaskExecutions: 30,
  maxConcurrentLocalActivityExecutions: 200,
  maxCachedWorkflows: 2000,
};
export const DEFAULT_PG_POOL_SIZE = 20;
/** A source refused again and again writes about one auth event a minute, however fast it tries. */
export const DEFAULT_REFUSAL_WINDOW_SECONDS = 60;

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new Error(`${name} is not set (npm start sets it for the local services)`);
  return value;
}

function positiveNumber(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const value = env[name] === undefined || env[name] === '' ? fallback : Number(env[name]);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, not "${env[name]}"`);
  return value;
}

function positiveInteger(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const value = positiveNumber(env, name, fallback);
  if (!Number.isInteger(value)) throw new Error(`${name} must be a whole number, not "${env[name]}"`);
  return value;
}

function wholeNumber(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const value = env[name] === undefined || env[name] === '' ? fallback : Number(env[name]);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a whole number ≥ 0, not "${env[name]}"`);
  return value;
}

function flag(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const value = env[name];
  if (value === undefined || value === '') return fallback;
  if (value !== 'true' && value !== 'false') throw new Error(`${name} must be "true" or "false", not "${value}"`);
  return value === 'true';
}

/** POWER_SYNC_*: Ironic's [conductor] sync_power_state_interval, power_state_sync_max_retries, force_power_state_during_sync, plus rate limits. */
function powerSync(env: NodeJS.ProcessEnv): PowerSyncSettings {
  const defaults = DEFAULT_POWER_SYNC_SETTINGS;
  return {
    periodSeconds: wholeNumber(env, 'POWER_SYNC_PERIOD_SECONDS', defaults.periodSeconds),
    maxCallsPerSecond: positiveNumber(env, 'POWER_SYNC_MAX_CALLS_PER_SECOND', defaults.maxCallsPerSecond),
    perBmcHostCallsPerSecond: positiveInteger(
      env,
      'POWER_SYNC_BMC_HOST_CALLS_PER_SECOND',
      defaults.perBmcHostCallsPerSecond,
    ),
    perBmcHostConcurrency: positiveInteger(env, 'POWER_SYNC_BMC_HOST_CONCURRENCY', defaults.perBmcHostConcurrency),
    failureLimit: positiveInteger(env, 'POWER_SYNC_FAILURE_LIMIT', defaults.failureLimit),
    forcePowerState: flag(env, 'POWER_SYNC_FORCE_POWER_STATE', defaults.forcePowerState),
  };
}

function authMode(value: string | undefined): Config['authMode'] {
  if (value === undefined || value === '' || value === 'token') return 'token';
  if (value === 'none') return 'none';
  throw new Error(`TEMPERED_AUTH must be "token" (the default) or "none", not "${value}"`);
}

function port(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const value = Number(env[name] || fallback);
  if (!Number.isInteger(value) || value < 0 || value > 65535)
    throw new Error(`${name} "${env[name]}" is not a port number`);
  return value;
}

function publicUrl(value: string | undefined): string | undefined {
  if (!value) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`PUBLIC_URL "${value}" is not a URL`);
  }
  if (!['http:', 'https:'].includes(url.protocol) || url.search || url.hash || url.username) {
    throw new Error(`PUBLIC_URL "${value}" must be a plain http(s) URL, e.g. https://tempered.example.com`);
  }
  return url.toString().replace(/\/$/, '');
}

/** How ramdisk agents reach the agents' listener: AGENT_API_URL, else its own address. */
function agentApiUrl(env: NodeJS.ProcessEnv): string {
  return env.AGENT_API_URL || `http://${env.AGENT_API_HOST || '127.0.0.1'}:${port(env, 'AGENT_API_PORT', 6386)}`;
}

function bmcAccess(env: NodeJS.ProcessEnv): BmcAccess {
  let allowedNetworks: string[];
  try {
    allowedNetworks = parseNetworks(env.BMC_ALLOWED_NETWORKS);
  } catch (err) {
    throw new Error(`BMC_ALLOWED_NETWORKS: ${(err as Error).message}`);
  }
  const caDir = env.REDFISH_CA_DIR;
  if (caDir && !path.isAbsolute(caDir)) throw new Error(`REDFISH_CA_DIR "${caDir}" must be an absolute path`);
  return { allowedNetworks, caDir: caDir || undefined };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const apiPort = port(env, 'API_PORT', 6385);
  return {
    databaseUrl: required(env, 'DATABASE_URL'),
    temporalAddress: env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233',
    temporalNamespace: env.TEMPORAL_NAMESPACE ?? 'default',
    taskQueue: env.TEMPORAL_TASK_QUEUE ?? DEFAULT_TASK_QUEUE,
    apiHost: env.API_HOST ?? '127.0.0.1',
    apiPort,
    agentApiHost: env.AGENT_API_HOST || '127.0.0.1',
    agentApiPort: port(env, 'AGENT_API_PORT', 6386),
    publicUrl: publicUrl(env.PUBLIC_URL),
    bmcAccess: bmcAccess(env),
    logLevel: env.LOG_LEVEL ?? 'info',
    authMode: authMode(env.TEMPERED_AUTH),
    adminToken: env.TEMPERED_ADMIN_TOKEN || undefined,
    agentTokenKey: env.AGENT_TOKEN_KEY || undefined,
    fastTrack: env.FAST_TRACK === 'true',
    ramdiskIsoUrl: env.RAMDISK_ISO_URL || undefined,
    networkBoot: env.RAMDISK_URL ? { ramdiskUrl: env.RAMDISK_URL, agentApiUrl: agentApiUrl(env) } : undefined,
    bootMedia: env.RAMDISK_DIR
      ? {
          ramdiskDir: env.RAMDISK_DIR,
          dir: env.BOOT_MEDIA_DIR || path.join(os.tmpdir(), `tempered-boot-media-${process.getuid?.() ?? 0}`),
          host: env.BOOT_MEDIA_HOST || '127.0.0.1',
          port: port(env, 'BOOT_MEDIA_PORT', 6387),
          publicUrl: env.BOOT_MEDIA_URL || undefined,
          agentApiUrl: agentApiUrl(env),
        }
      : undefined,
    agentBootTimeoutSeconds: positiveNumber(env, 'AGENT_BOOT_TIMEOUT_SECONDS', 1800),
    pgPoolSize: positiveInteger(env, 'PG_POOL_SIZE', DEFAULT_PG_POOL_SIZE),
    pgConnectTimeoutMs: positiveInteger(env, 'PG_CONNECT_TIMEOUT_MS', DEFAULT_PG_CONNECT_TIMEOUT_MS),
    pgStatementTimeoutMs: positiveInteger(env, 'PG_STATEMENT_TIMEOUT_MS', DEFAULT_PG_STATEMENT_TIMEOUT_MS),
    refusalWindowSeconds: positiveNumber(env, 'AUTH_EVENT_WINDOW_SECONDS', DEFAULT_REFUSAL_WINDOW_SECONDS),
    workerMetricsAddress: env.WORKER_METRICS_ADDRESS || undefined,
    powerSync: powerSync(env),
    worker: {
      maxConcurrentActivityTaskExecutions: positiveInteger(
        env,
        'WORKER_MAX_CONCURRENT_ACTIVITIES',
        DEFAULT_WORKER_CAPACITY.maxConcurrentActivityTaskExecutions,
      ),
      maxConcurrentWorkflowTaskExecutions: positiveInteger(
        env,
        'WORKER_MAX_CONCURRENT_WORKFLOW_TASKS',
        DEFAULT_WORKER_CAPACITY.maxConcurrentWorkflowTaskExecutions,
      ),
      maxConcurrentLocalActivityExecutions: positiveInteger(
        env,
        'WORKER_MAX_CONCURRENT_LOCAL_ACTIVITIES',
        DEFAULT_WORKER_CAPACITY.maxConcurrentLocalActivityExecutions,
      ),
      maxCachedWorkflows: positiveInteger(
        env,
        'WORKER_MAX_CACHED_WORKFLOWS',
        DEFAULT_WORKER_CAPACITY.maxCachedWorkflows,
      ),
    },
  };
}
