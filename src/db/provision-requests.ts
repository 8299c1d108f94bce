// The provision_requests table: what an accepted provision request hands to the operation it
// starts (see its migration). Written before the start, taken by the operation's first transition.
import type { NewDeployment } from './deployments.js';
import type { Queryable } from './pool.js';

export interface ProvisionRequest {
  uuid: string;
  node_uuid: string;
  instance_info?: Record<string, unknown>;
  /** Keys merged into the node's driver_internal_info (the rescue password's hash). */
  internal_info?: Record<string, unknown>;
  deployment?: NewDeployment;
  ends_deployment?: string;
}

/** A request whose API process died between writing it and starting the operation is dropped after this. */
const ABANDONED_AFTER = '1 hour';

export async function saveProvisionRequest(db: Queryable, request: ProvisionRequest): Promise<void> {
  await db.query(`DELETE FROM provision_requests WHERE created_at < now() - interval '${ABANDONED_AFTER}'`);
  await db.query(
    `INSERT INTO provision_requests (uuid, node_uuid, instance_info, internal_info, deployment, ends_deployment)
     VALUES ($1, $2, $3, $4, $5, $6)`,
    [
      request.uuid,
      request.node_uuid,
      request.instance_info ?? null,
      request.internal_info ?? null,
      request.deployment ?? null,
      request.ends_deployment ?? null,
    ],
  );
}

/** A request whose operation never started. */
export async function dropProvisionRequest(db: Queryable, uuid: string): Promise<void> {
  await db.query('DELETE FROM provision_requests WHERE uuid = $1', [uuid]);
}

/** The request, removed: answered to the one caller that takes it. */
export async function takeProvisionRequest(
  db: Queryable,
  uuid: string,
  nodeUuid: string,
): Promise<ProvisionRequest | undefined> {
  const { rows } = await db.query<ProvisionRequest>(
    `DELETE FROM provision_requests WHERE uuid = $1 AND node_uuid = $2
     RETURNING uuid, node_uuid, instance_info, internal_info, deployment, ends_deployment`,
    [uuid, nodeUuid],
  );
  const row = rows[0];
  if (!row) return undefined;
  return {
    uuid: row.uuid,
    node_uuid: row.node_uuid,
    instance_info: row.instance_info ?? undefined,
    internal_info: row.internal_info ?? undefined,
    deployment: row.deployment ?? undefined,
    ends_deployment: row.ends_deployment ?? undefined,
  };
}
