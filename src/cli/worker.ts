// Wires a Temporal worker: activities over a pg pool, the workflow bundle, the task queue.
import { existsSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  bundleWorkflowCode,
  DefaultLogger,
  NativeConnection,
  Runtime,
  Worker,
  type LogLevel,
} from '@temporalio/worker';
import { createActivities } from '../activities/index.js';
import { BootMedia } from '../boot/virtual-media.js';
import { ActivityHeartbeats } from '../activities/heartbeats.js';
import { activityLogContext, SDK_ACTIVITY_STARTED } from '../activities/log-context.js';
import { ActivityMetrics } from '../activities/metrics.js';
import type { Config } from '../config.js';
import type { Pool } from '../db/pool.js';
import { openPool } from './database.js';
import type { Logger } from '../logger.js';
import { sibling } from './paths.js';

/** Built by `npm run build`; without it (tests, tsx) the worker bundles the sources itself. */
const PREBUILT_BUNDLE = fileURLToPath(new URL('../workflow-bundle.js', import.meta.url));

/** Times and counts every operation (a workflow interceptor, so it is bundled with the workflows). */
const WORKFLOW_INTERCEPTORS = sibling(import.meta.url, '../workflows/interceptors');

/** The prebuilt bundle (its workflow interceptors bundled in), else the sources with the interceptors. */
function workflowSource():
  { workflowBundle: { codePath: string } } | { workflowsPath: string; workflowModules: string[] } {
  const codePath = process.env.TEMPERED_WORKFLOW_BUNDLE ?? PREBUILT_BUNDLE;
  if (existsSync(codePath)) return { workflowBundle: { codePath } };
  return { workflowsPath: sibling(import.meta.url, '../workflows/index'), workflowModules: [WORKFLOW_INTERCEPTORS] };
}

export async function writeWorkflowBundle(codePath = PREBUILT_BUNDLE): Promise<void> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: sibling(import.meta.url, '../workflows/index'),
    workflowInterceptorModules: [WORKFLOW_INTERCEPTORS],
    logger: new DefaultLogger('WARN'),
  });
  writeFileSync(codePath, code);
}

/**
 * The SDK hands a failed activity's or workflow's error as `error`; pino writes an Error under any
 * key but `err` as its own enumerable fields only, which lose the message ("unreachable", but why).
 * The message is what the Temporal UI shows for the same failure.
 */
function withErrorMessage(meta: Record<string, unknown> | undefined): Record<string, unknown> {
  const error = meta?.error;
  if (!(error instanceof Error)) return meta ?? {};
  return { ...meta, error: { ...error, name: error.name, message: error.message } };
}

/**
 * Routes the SDK's own logs (and workflow/activity `log`) into pino and, given `metricsAddress`,
 * serves the runtime's metrics there in Prometheus' format: Temporal's own (task latencies, polls,
 * slots) and Tempered's (operations, activities, BMC calls), at /metrics.
 */
export function installRuntimeLogger(logger: Logger, metricsAddress?: string): void {
  const level = (logger.level === 'trace' ? 'TRACE' : logger.level.toUpperCase()) as LogLevel;
  Runtime.install({
    logger: new DefaultLogger(level, ({ level: entryLevel, message, meta }) => {
      if (message === SDK_ACTIVITY_STARTED) return; // activityLogContext writes it, with the request id
      const method = entryLevel.toLowerCase() as 'trace' | 'debug' | 'info' | 'warn' | 'error';
      logger[method](withErrorMessage(meta), message);
    }),
    ...(metricsAddress && { telemetryOptions: { metrics: { prometheus: { bindAddress: metricsAddress } } } }),
  });
}

export async function createWorker(config: Config, connection: NativeConnection, pool: Pool): Promise<Worker> {
  const { workflowModules = [], ...workflowBundleOrPath } = { workflowModules: undefined, ...workflowSource() };
  return Worker.create({
    connection,
    namespace: config.temporalNamespace,
    taskQueue: config.taskQueue,
    activities: createActivities(pool, {
      agentTokenKey: config.agentTokenKey,
      fastTrack: config.fastTrack,
      ramdiskIsoUrl: config.ramdiskIsoUrl,
      bootMedia: config.bootMedia && new BootMedia(config.bootMedia),
      agentBootTimeoutSeconds: config.agentBootTimeoutSeconds,
      bmcAccess: config.bmcAccess,
    }),
    ...workflowBundleOrPath,
    interceptors: {
      workflowModules,
      activity: [
        (context) => ({ inbound: new ActivityMetrics(context) }),
        (context) => ({ inbound: new ActivityHeartbeats(context) }),
        activityLogContext,
      ],
    },
    ...config.worker,
    shutdownGraceTime: '10s',
  });
}

/** Runs until SIGINT/SIGTERM (the SDK's runtime traps them and drains the worker). */
export async function runWorker(config: Config, logger: Logger): Promise<void> {
  installRuntimeLogger(logger, config.workerMetricsAddress);
  const connection = await NativeConnection.connect({ address: config.temporalAddress });
  const pool = openPool(config, logger);
  try {
    const worker = await createWorker(config, connection, pool);
    logger.info({ taskQueue: config.taskQueue, temporal: config.temporalAddress }, 'worker started');
    await worker.run();
  } finally {
    await pool.end();
    await connection.close();
  }
}
