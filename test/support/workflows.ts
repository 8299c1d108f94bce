// Waiting on a node's workflow (id `node/<uuid>`, the node's lock) with a bound, so a hung
// operation fails its test in minutes instead of holding the whole run until its timeout.
import type { WorkflowHandle } from '@temporalio/client';
import type { Harness } from './harness.js';

export const DEFAULT_WORKFLOW_WAIT_MS = 120_000;

async function within<T>(promise: Promise<T>, timeoutMs: number, workflowId: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(
      () => reject(new Error(`workflow ${workflowId} still running after ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The workflow's result, or a clear failure naming it if it has not ended within `timeoutMs`. */
export function resultWithin<T = unknown>(handle: WorkflowHandle, timeoutMs = DEFAULT_WORKFLOW_WAIT_MS): Promise<T> {
  return within(handle.result() as Promise<T>, timeoutMs, handle.workflowId);
}

/** The result of the node's current operation: once it resolves, the node's lock is free for the next one. */
export function finished<T = unknown>(
  h: Pick<Harness, 'client'>,
  uuid: string,
  timeoutMs = DEFAULT_WORKFLOW_WAIT_MS,
): Promise<T> {
  return resultWithin<T>(h.client.workflow.getHandle(`node/${uuid}`), timeoutMs);
}

/** Like `finished`, but an operation that failed counts as ended too; only one still running fails the test. */
export function ended(h: Pick<Harness, 'client'>, uuid: string, timeoutMs = DEFAULT_WORKFLOW_WAIT_MS): Promise<void> {
  const settled = h.client.workflow
    .getHandle(`node/${uuid}`)
    .result()
    .then(
      () => undefined,
      () => undefined,
    );
  return within(settled, timeoutMs, `node/${uuid}`);
}

/** Asks for a provision state change as an operator does (202 expected) and answers the node once the operation has ended. */
export async function provisioned(
  h: Pick<Harness, 'client' | 'http' | 'get'>,
  uuid: string,
  body: Record<string, unknown>,
  timeoutMs = DEFAULT_WORKFLOW_WAIT_MS,
): Promise<any> {
  const response = await h.http('PUT', `/v1/nodes/${uuid}/states/provision`, body);
  if (response.status !== 202)
    throw new Error(`provision ${JSON.stringify(body)}: ${response.status} ${JSON.stringify(response.body)}`);
  await ended(h, uuid, timeoutMs);
  return (await h.get(`/v1/nodes/${uuid}`)).body;
}
