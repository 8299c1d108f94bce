// The time-skipping Temporal test server (the installed binary: nothing is downloaded at run time),
// for workflow tests whose timers run to days, and a worker on it running the test run's workflow
// bundle on a task queue of its own.
import { randomBytes } from 'node:crypto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, type WorkerOptions } from '@temporalio/worker';
import { toolPath } from '../../src/cli/paths.js';
import { env } from './harness.js';

export function startTimeSkipping(): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: toolPath('temporal-test-server') } },
  });
}

export interface TimeSkippingWorker {
  testEnv: TestWorkflowEnvironment;
  taskQueue: string;
  /** Stops the worker, then the server. */
  stop(): Promise<void>;
}

/** The server and one worker with `activities` and the run's workflow bundle, running until stop(). */
export async function startTimeSkippingWorker(
  activities: WorkerOptions['activities'],
  queuePrefix: string,
): Promise<TimeSkippingWorker> {
  const testEnv = await startTimeSkipping();
  const taskQueue = `${queuePrefix}-${randomBytes(4).toString('hex')}`;
  let worker: Worker;
  try {
    worker = await Worker.create({
      connection: testEnv.nativeConnection,
      taskQueue,
      activities,
      workflowBundle: { codePath: env('TEMPERED_WORKFLOW_BUNDLE') },
    });
  } catch (err) {
    await testEnv.teardown();
    throw err;
  }
  const running = worker.run();
  return {
    testEnv,
    taskQueue,
    async stop() {
      worker.shutdown();
      await running;
      await testEnv.teardown();
    },
  };
}
