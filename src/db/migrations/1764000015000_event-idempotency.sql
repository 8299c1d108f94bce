-- Up Migration
-- The activity that wrote an event (workflow id, run id, activity id): a retry of that activity
-- finds its event there and neither writes it again nor counts what it counts twice.
ALTER TABLE events ADD COLUMN activity_key text;
CREATE UNIQUE INDEX events_activity_key_idx ON events (activity_key) WHERE activity_key IS NOT NULL;

-- Down Migration
DROP INDEX events_activity_key_idx;
ALTER TABLE events DROP COLUMN activity_key;
