-- Up Migration

-- A tenant's deployment of an image on a node (POST /v1/deployments). Its status is not stored:
-- it is read from the node and from the node's events after events_before (src/domain/deployments.ts).
CREATE TABLE deployments (
  id             bigserial PRIMARY KEY,          -- paging order only; the API speaks uuid
  uuid           uuid NOT NULL UNIQUE,
  -- Not a foreign key: like the event log, the record of a deployment outlives its node.
  node_uuid      uuid NOT NULL,
  created_by     text NOT NULL,                  -- the user who asked
  project        text NOT NULL,                  -- and their project
  image_source   text NOT NULL,
  traits         text[] NOT NULL DEFAULT '{}',
  request_id     text NOT NULL,                  -- of the POST; its deploy event carries it too
  events_before  bigint NOT NULL,                -- the event log's last id when it began
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz,
  deleted_at     timestamptz                     -- when DELETE started its undeploy
);
CREATE INDEX deployments_node_idx ON deployments (node_uuid, id);

-- Down Migration
DROP TABLE deployments;
