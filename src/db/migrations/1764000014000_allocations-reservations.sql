-- Up Migration

-- Ironic's allocation: "one node of this class with these traits", picked atomically. A node names
-- its allocation (allocation_uuid) and its instance (instance_uuid, the allocation's UUID).
CREATE TABLE allocations (
  id              bigserial PRIMARY KEY,          -- paging order only; the API speaks uuid
  uuid            uuid NOT NULL UNIQUE,
  name            text UNIQUE,
  state           text NOT NULL DEFAULT 'allocating',   -- allocating | active | error
  resource_class  text,
  traits          text[] NOT NULL DEFAULT '{}',
  candidate_nodes uuid[] NOT NULL DEFAULT '{}',
  node_uuid       uuid UNIQUE,                   -- the node picked (null until then, or on error)
  owner           text,                          -- the project it is for
  extra           jsonb NOT NULL DEFAULT '{}',
  last_error      text,
  reservation_uuid uuid,                         -- set when a reservation made it
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz
);
CREATE INDEX allocations_owner_idx ON allocations (owner);
CREATE INDEX allocations_reservation_idx ON allocations (reservation_uuid);

ALTER TABLE nodes ADD COLUMN allocation_uuid uuid UNIQUE;
ALTER TABLE nodes ADD COLUMN instance_uuid uuid UNIQUE;

-- A project's claim on `count` matching nodes of `owner` from start_at to end_at, for `lessee`.
-- The deploy spec (image, config drive) stays here; the workflow gets only the UUID.
CREATE TABLE reservations (
  id              bigserial PRIMARY KEY,
  uuid            uuid NOT NULL UNIQUE,
  owner           text NOT NULL,                 -- whose nodes are reserved
  lessee          text NOT NULL,                 -- who gets them
  resource_class  text NOT NULL,
  traits          text[] NOT NULL DEFAULT '{}',
  count           integer NOT NULL CHECK (count > 0),
  start_at        timestamptz NOT NULL,
  end_at          timestamptz NOT NULL CHECK (end_at > start_at),
  deploy          jsonb,                         -- instance_info for the nodes, or null
  status          text NOT NULL DEFAULT 'pending',  -- pending | active | ended | cancelled | refused
  shortfall       integer NOT NULL DEFAULT 0,    -- nodes it could not get at start
  last_error      text,
  schedule_uuid   uuid,                          -- the recurring reservation that made it
  created_by      text NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz
);
CREATE INDEX reservations_window_idx ON reservations (owner, resource_class, start_at, end_at);

-- A recurring reservation: a Temporal Schedule (reservation-schedule/<uuid>) that opens one each time.
CREATE TABLE reservation_schedules (
  id               bigserial PRIMARY KEY,
  uuid             uuid NOT NULL UNIQUE,
  owner            text NOT NULL,
  lessee           text NOT NULL,
  resource_class   text NOT NULL,
  traits           text[] NOT NULL DEFAULT '{}',
  count            integer NOT NULL CHECK (count > 0),
  cron             text,
  every_seconds    integer,
  duration_seconds integer NOT NULL CHECK (duration_seconds > 0),
  deploy           jsonb,
  created_by       text NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE reservation_schedules;
DROP TABLE reservations;
ALTER TABLE nodes DROP COLUMN instance_uuid;
ALTER TABLE nodes DROP COLUMN allocation_uuid;
DROP TABLE allocations;
