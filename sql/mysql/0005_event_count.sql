-- svcd schema version 5 for MySQL 8.0.16+ and MariaDB 10.11+: an event that
-- repeats is kept as one row with a count.
--
-- Every statement is safe to run again after a partial run. MySQL 8 has no
-- ADD COLUMN IF NOT EXISTS, so the new columns are added by one ALTER TABLE
-- that runs only when information_schema does not list event_count yet.

-- svc_event.event_count: how many times the same event (object, type,
-- reason and message) happened within the repeat window; first_time: when
-- the first of them happened. event_time stays the time of the newest.
SET @svcd_migration_sql = IF(
  EXISTS (SELECT 1 FROM information_schema.COLUMNS
          WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'svc_event'
            AND COLUMN_NAME = 'event_count'),
  'DO 0',
  'ALTER TABLE svc_event ADD COLUMN event_count INT NOT NULL DEFAULT 1, ADD COLUMN first_time BIGINT NOT NULL DEFAULT 0, ADD CONSTRAINT ck_event_count CHECK (event_count >= 1)');
PREPARE svcd_migration_statement FROM @svcd_migration_sql;
EXECUTE svcd_migration_statement;
DEALLOCATE PREPARE svcd_migration_statement;

UPDATE svc_event SET first_time = event_time WHERE first_time = 0;
