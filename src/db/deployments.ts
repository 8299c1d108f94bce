// The deployments table. Each row is read with the facts its status derives from: its node as it
// is now and the node's deploy, rebuild and undeploy events since the deployment began.
import { DEPLOYMENT_VERBS, type DeploymentTransition } from '../domain/deployments.js';
import type { ProvisionState } from '../domain/provision.js';
import { VISIBLE_RECORD } from './events.js';
import type { Queryable } from './pool.js';
import { selectPage, type Page } from './paging.js';

export interface DeploymentRecord {
  uuid: string;
  node_uuid: string;
  created_by: string;
  project: string;
  image_source: string;
  traits: string[];
  request_id: string;
  created_at: Date;
  updated_at: Date | null;
  deleted_at: Date | null;
}

/** The deployment's node now; null once the node record is deleted. */
export interface DeploymentNode {
  name: string | null;
  owner: string | null;
  lessee: string | null;
  provision_state: ProvisionState;
  last_error: string | null;
}

export interface DeploymentRow extends DeploymentRecord {
  node: DeploymentNode | null;
  /** Oldest first; three tell everything (src/domain/deployments.ts). */
  transitions: DeploymentTransition[];
}

const VERB_LIST = DEPLOYMENT_VERBS.map((verb) => `'${verb}'`).join(', ');

// Correlated subqueries on the unaliased table name, so selectPage can page over them.
const COLUMNS = `uuid, node_uuid, created_by, project, image_source, traits, request_id, created_at, updated_at, deleted_at,
  (SELECT row_to_json(n) FROM (SELECT name, owner, lessee, provision_state, last_error FROM nodes
     WHERE nodes.uuid = deployments.node_uuid) n) AS node,
  (SELECT coalesce(json_agg(t ORDER BY t.id), '[]') FROM (SELECT id, verb, request_id FROM events
     WHERE events.node_uuid = deployments.node_uuid AND events.id > deployments.events_before
       AND events.kind = 'provision' AND events.verb IN (${VERB_LIST})
     ORDER BY events.id LIMIT 3) t) AS transitions`;

/** What the caller gives a deployment; the rest is the database's. */
export type NewDeployment = Pick<
  DeploymentRecord,
  'uuid' | 'node_uuid' | 'created_by' | 'project' | 'image_source' | 'traits' | 'request_id'
>;

/** Inserts a deployment that begins now: the node's later events are its story. Once: a second insert is a no-op. */
export async function insertDeployment(db: Queryable, deployment: NewDeployment): Promise<void> {
  await db.query(
    `INSERT INTO deployments (uuid, node_uuid, created_by, project, image_source, traits, request_id, events_before)
     VALUES ($1, $2, $3, $4, $5, $6, $7, (SELECT coalesce(max(id), 0) FROM events))
     ON CONFLICT (uuid) DO NOTHING`,
    [
      deployment.uuid,
      deployment.node_uuid,
      deployment.created_by,
      deployment.project,
      deployment.image_source,
      deployment.traits,
      deployment.request_id,
    ],
  );
}

export async function findDeployment(db: Queryable, uuid: string): Promise<DeploymentRow | undefined> {
  const [row] = await selectPage<DeploymentRow>(db, 'deployments', COLUMNS, [['uuid = ?', uuid]], { limit: 1 });
  return row;
}

export interface DeploymentFilters {
  node_uuid?: string;
  /** Only what this project may see: every deployment on the nodes it owns, its own on the nodes it leases. */
  visible_to?: string;
}

/** One page of deployments, oldest first. */
export function listDeployments(db: Queryable, filters: DeploymentFilters, page: Page): Promise<DeploymentRow[]> {
  return selectPage<DeploymentRow>(
    db,
    'deployments',
    COLUMNS,
    [
      ['node_uuid = ?', filters.node_uuid],
      [VISIBLE_RECORD, filters.visible_to],
    ],
    page,
  );
}

/** Records that DELETE started the deployment's undeploy; the first time counts. */
export async function markDeploymentDeleted(db: Queryable, uuid: string): Promise<void> {
  await db.query(
    'UPDATE deployments SET deleted_at = now(), updated_at = now() WHERE uuid = $1 AND deleted_at IS NULL',
    [uuid],
  );
}
