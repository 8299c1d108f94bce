import { upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { NodeUuid } from './contract.js';

/** The keys of contract.ts (all keywords). */
type KeywordKey = typeof NodeUuid;

/**
 * Keeps a search attribute current, when the starter set it: the API always does, while a server
 * without Tempered's attributes registered (the time-skipping test server) would refuse the upsert.
 */
export function updateSearchAttribute(key: KeywordKey, value: string): void {
  if (workflowInfo().typedSearchAttributes.get(key) === undefined) return;
  upsertSearchAttributes([{ key, value }]);
}
