-- Up Migration

-- What an accepted provision request hands to the operation it starts: the node's new
-- instance_info, a rescue password's hash, and the caller's deployment record. The API writes it
-- before it asks Temporal to start (holding no lock while Temporal answers) and deletes it when the
-- start is refused; the operation's first transition applies it, in the transaction that moves the
-- node, and deletes it. So a request Temporal never started leaves the node and the deployments as
-- they were.
CREATE TABLE provision_requests (
  uuid             uuid PRIMARY KEY,                 -- the operation's input names it
  node_uuid        uuid NOT NULL REFERENCES nodes (uuid) ON DELETE CASCADE,
  instance_info    jsonb,                            -- replaces the node's, when given
  internal_info    jsonb,                            -- keys merged into driver_internal_info (a rescue password's hash)
  deployment       jsonb,                            -- a deployment record to insert
  ends_deployment  uuid,                             -- a deployment whose undeploy this is
  created_at       timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE provision_requests;
