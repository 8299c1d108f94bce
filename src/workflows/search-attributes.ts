import { upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { NodeUuid } from './contract.js';
import { hasPatch, SEARCH_ATTRIBUTES_WHEN_CHANGED_PATCH } from './patches.js';

/** The keys of contract.ts (all keywords). */
type KeywordKey = typeof NodeUuid;

/**
 * Keeps a search attribute current, when the starter set it: the API always does, while a server
 * without Tempered's attributes registered (the time-skipping test server) would refuse the upsert.
 * Each write is a visibility update in the server, so a value it already has is not written again
 * (unless `evenIfUnchanged`: a long-lived workflow that always wrote it, where asking the patch
 * would cost a marker of its own in every run).
 */
export function updateSearchAttribute(key: KeywordKey, value: string, { evenIfUnchanged = false } = {}): void {
  const current = workflowInfo().typedSearchAttributes.get(key);
  if (current === undefined) return;
  if (current === value && !evenIfUnchanged && hasPatch(SEARCH_ATTRIBUTES_WHEN_CHANGED_PATCH)) return;
  upsertSearchAttributes([{ key, value }]);
}
