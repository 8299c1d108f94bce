import { ApplicationFailure } from '@temporalio/common';
import { findNode, type NodeRecord } from '../db/nodes.js';
import type { Queryable } from '../db/pool.js';

/** The node an operation works on; one deleted under it is a failure no retry mends. */
export async function requireNode(
  db: Queryable,
  nodeUuid: string,
  opts: { forUpdate?: boolean } = {},
): Promise<NodeRecord> {
  const node = await findNode(db, nodeUuid, opts);
  if (!node) throw ApplicationFailure.nonRetryable(`node ${nodeUuid} no longer exists`, 'NodeNotFound');
  return node;
}
