-- Up Migration

-- Ironic's node.service_step: the step a running service is at (null between steps and after), as
-- clean_step and deploy_step are for cleaning and deploying.
ALTER TABLE nodes ADD COLUMN service_step jsonb;

-- Down Migration

ALTER TABLE nodes DROP COLUMN service_step;
