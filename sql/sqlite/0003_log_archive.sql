-- svcd schema version 3 for SQLite: what each log archive covers, so log
-- retention deletes only lines that an archive already holds.

-- One row per target that an archive packs: the range of log sequence
-- numbers it holds. Retention deletes a target's log_event rows only up to
-- the highest last_seq recorded for that target.
CREATE TABLE IF NOT EXISTS log_archive_target (
  archive_id          TEXT NOT NULL,
  target_id           TEXT NOT NULL,
  first_seq           INTEGER NOT NULL,
  last_seq            INTEGER NOT NULL,
  line_count          INTEGER NOT NULL,
  PRIMARY KEY (archive_id, target_id),
  CONSTRAINT fk_archive_target_archive FOREIGN KEY (archive_id) REFERENCES log_archive (archive_id),
  CONSTRAINT fk_archive_target_target FOREIGN KEY (target_id)
    REFERENCES svc_deploy_target (target_id),
  CONSTRAINT ck_archive_target_seq CHECK (first_seq >= 1 AND last_seq >= first_seq),
  CONSTRAINT ck_archive_target_lines CHECK (line_count >= 1)
) STRICT;
CREATE INDEX IF NOT EXISTS idx_archive_target_seq ON log_archive_target (target_id, last_seq);
