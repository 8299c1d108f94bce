-- Up Migration

CREATE TABLE nodes (
  id                      bigserial PRIMARY KEY,          -- paging order only; the API speaks uuid
  uuid                    uuid NOT NULL UNIQUE,
  name                    text UNIQUE,
  driver                  text NOT NULL,
  driver_info             jsonb NOT NULL DEFAULT '{}',
  driver_internal_info    jsonb NOT NULL DEFAULT '{}',
  properties              jsonb NOT NULL DEFAULT '{}',
  instance_info           jsonb NOT NULL DEFAULT '{}',
  extra                   jsonb NOT NULL DEFAULT '{}',
  resource_class          text,
  traits                  text[] NOT NULL DEFAULT '{}',
  owner                   text,
  lessee                  text,
  provision_state         text NOT NULL DEFAULT 'enroll',
  target_provision_state  text,
  power_state             text,
  target_power_state      text,
  maintenance             boolean NOT NULL DEFAULT false,
  maintenance_reason      text,
  fault                   text,
  retired                 boolean NOT NULL DEFAULT false,
  retired_reason          text,
  last_error              text,
  clean_step              jsonb,
  deploy_step             jsonb,
  deployed_by             text,
  boot_interface          text NOT NULL DEFAULT 'pxe',
  deploy_interface        text NOT NULL DEFAULT 'agent',
  created_at              timestamptz NOT NULL DEFAULT now(),
  updated_at              timestamptz,
  provision_updated_at    timestamptz
);
CREATE INDEX nodes_provision_state_idx ON nodes (provision_state);
CREATE INDEX nodes_owner_idx ON nodes (owner);

CREATE TABLE ports (
  id          bigserial PRIMARY KEY,
  uuid        uuid NOT NULL UNIQUE,
  address     text NOT NULL UNIQUE,                     -- MAC, lower case, colon separated
  node_uuid   uuid NOT NULL REFERENCES nodes (uuid) ON DELETE CASCADE,
  pxe_enabled boolean NOT NULL DEFAULT true,
  extra       jsonb NOT NULL DEFAULT '{}',
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz
);
CREATE INDEX ports_node_uuid_idx ON ports (node_uuid);

-- The event log outlives the nodes it speaks of, so node_uuid is not a foreign key.
CREATE TABLE events (
  id          bigserial PRIMARY KEY,
  uuid        uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
  created_at  timestamptz NOT NULL DEFAULT now(),
  node_uuid   uuid,
  kind        text NOT NULL,                            -- power | provision | maintenance | fault
  verb        text,
  from_state  text,
  to_state    text,
  severity    text NOT NULL DEFAULT 'info',
  user_name   text,
  project     text,
  request_id  text,
  workflow_id text,
  message     text
);
CREATE INDEX events_node_idx ON events (node_uuid, id);
CREATE INDEX events_kind_time_idx ON events (kind, created_at);
CREATE INDEX events_time_idx ON events (created_at);

-- Down Migration
DROP TABLE events;
DROP TABLE ports;
DROP TABLE nodes;
