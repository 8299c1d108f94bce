import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';

/** The message an operator should read: the root cause, not Temporal's wrapper. */
export function failureMessage(err: unknown): string {
  let current: unknown = err;
  while (current instanceof ActivityFailure && current.cause) current = current.cause;
  if (current instanceof ApplicationFailure || current instanceof Error) return current.message;
  return String(current);
}
