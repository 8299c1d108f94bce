-- Up Migration

-- How a node is inspected (Ironic's inspect_interface): auto (out of band, then the agent when the
-- BMC left something unknown), redfish (out of band only) or agent (in band only).
ALTER TABLE nodes ADD COLUMN inspect_interface text NOT NULL DEFAULT 'auto';

-- The last inspection's inventory per node (Ironic's inventory and plugin_data), replaced by the next.
CREATE TABLE node_inventories (
  node_uuid    uuid PRIMARY KEY REFERENCES nodes (uuid) ON DELETE CASCADE,
  inventory    jsonb NOT NULL,
  plugin_data  jsonb NOT NULL DEFAULT '{}',
  created_at   timestamptz NOT NULL DEFAULT now()
);

-- Conditions on an inspected inventory → actions on the node, applied in priority order.
CREATE TABLE inspection_rules (
  id           bigserial PRIMARY KEY,
  uuid         uuid NOT NULL UNIQUE,
  description  text,
  priority     integer NOT NULL DEFAULT 0,
  conditions   jsonb NOT NULL DEFAULT '[]',
  actions      jsonb NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz
);
CREATE INDEX inspection_rules_priority_idx ON inspection_rules (priority DESC, id);

-- Down Migration
DROP TABLE inspection_rules;
DROP TABLE node_inventories;
ALTER TABLE nodes DROP COLUMN inspect_interface;
