-- Up Migration

-- A warm pool: keep `target_count` (or the share `target_share` of the matching available nodes)
-- of resource_class nodes with these traits booted into their agent, ready to deploy without a
-- reboot. owner: the project whose nodes it keeps warm; null (an admin's) for any owner's.
CREATE TABLE warm_pools (
  id                      bigserial PRIMARY KEY,          -- paging order only; the API speaks uuid
  uuid                    uuid NOT NULL UNIQUE,
  name                    text UNIQUE,
  resource_class          text NOT NULL,
  traits                  text[] NOT NULL DEFAULT '{}',
  target_count            integer CHECK (target_count >= 0),
  target_share            numeric CHECK (target_share >= 0 AND target_share <= 1),
  check_interval_seconds  integer NOT NULL DEFAULT 60 CHECK (check_interval_seconds > 0),
  owner                   text,
  created_at              timestamptz NOT NULL DEFAULT now(),
  updated_at              timestamptz,
  CHECK ((target_count IS NULL) <> (target_share IS NULL))
);
CREATE INDEX warm_pools_owner_idx ON warm_pools (owner);

-- Down Migration

DROP TABLE warm_pools;
