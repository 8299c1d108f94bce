-- Up Migration

-- A named trait (CUSTOM_*) mapped to deploy steps: a deploy runs the steps of every template
-- whose name is one of the node's traits.
CREATE TABLE deploy_templates (
  id          bigserial PRIMARY KEY,
  uuid        uuid NOT NULL UNIQUE,
  name        text NOT NULL UNIQUE,
  steps       jsonb NOT NULL,
  extra       jsonb NOT NULL DEFAULT '{}',
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz
);

-- Down Migration
DROP TABLE deploy_templates;
