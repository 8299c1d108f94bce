-- Up Migration

-- Bearer tokens for the API. Only a SHA-256 of each token is kept: tokens are 256 random bits,
-- so a fast hash is enough, and a leaked table grants nothing.
CREATE TABLE api_tokens (
  id          bigserial PRIMARY KEY,
  uuid        uuid NOT NULL UNIQUE,
  token_hash  text NOT NULL UNIQUE,
  project_id  text NOT NULL,
  user_id     text NOT NULL,
  role        text NOT NULL CHECK (role IN ('admin', 'member', 'reader')),
  created_at  timestamptz NOT NULL DEFAULT now(),
  revoked_at  timestamptz
);

CREATE INDEX events_project_idx ON events (project, id);

-- Down Migration
DROP INDEX events_project_idx;
DROP TABLE api_tokens;
