-- svcd schema version 2 for MySQL 8.0.16+ and MariaDB 10.11+: columns and
-- rules the runtime store (store/runtime_store.h) needs beyond version 1.
--
-- Every statement is safe to run again after a partial run. MySQL 8 has no
-- ADD COLUMN IF NOT EXISTS, so the new columns are added by one ALTER TABLE
-- that runs only when information_schema does not list log_bytes yet.

-- job_dispatch.log_bytes: how many bytes of the dispatch's output.log the
-- store has consumed, the stored lines plus the buffered partial line. A
-- chunk that starts before it is a resend, one that starts after it follows
-- a gap. job_dispatch.log_partial: the bytes after the last newline, kept
-- until the newline arrives or the dispatch ends. They may end inside a
-- UTF-8 sequence, so the column is binary.
SET @svcd_migration_sql = IF(
  EXISTS (SELECT 1 FROM information_schema.COLUMNS
          WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'job_dispatch'
            AND COLUMN_NAME = 'log_bytes'),
  'DO 0',
  'ALTER TABLE job_dispatch ADD COLUMN log_bytes BIGINT NOT NULL DEFAULT 0, ADD COLUMN log_partial LONGBLOB NULL, ADD CONSTRAINT ck_dispatch_log_bytes CHECK (log_bytes >= 0)');
PREPARE svcd_migration_statement FROM @svcd_migration_sql;
EXECUTE svcd_migration_statement;
DEALLOCATE PREPARE svcd_migration_statement;

-- health_probe_event.probe_id becomes optional. The runtime store records
-- probe results per target without a resolved health_probe_cfg row; the
-- deploy is reached through target_id. The foreign key stays and applies
-- when probe_id is set.
ALTER TABLE health_probe_event MODIFY probe_id CHAR(36) NULL;
