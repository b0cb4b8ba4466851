-- svcd schema version 3 for MySQL 8.0.16+ and MariaDB 10.11+: what each log
-- archive covers, so log retention deletes only lines that an archive
-- already holds. Safe to run again after a partial run.

-- One row per target that an archive packs: the range of log sequence
-- numbers it holds. Retention deletes a target's log_event rows only up to
-- the highest last_seq recorded for that target.
CREATE TABLE IF NOT EXISTS log_archive_target (
  archive_id        CHAR(36)     NOT NULL,
  target_id         CHAR(36)     NOT NULL,
  first_seq         BIGINT       NOT NULL,
  last_seq          BIGINT       NOT NULL,
  line_count        BIGINT       NOT NULL,
  PRIMARY KEY (archive_id, target_id),
  KEY idx_archive_target_seq (target_id, last_seq),
  CONSTRAINT fk_archive_target_archive FOREIGN KEY (archive_id) REFERENCES log_archive (archive_id),
  CONSTRAINT fk_archive_target_target FOREIGN KEY (target_id)
    REFERENCES svc_deploy_target (target_id),
  CONSTRAINT ck_archive_target_seq CHECK (first_seq >= 1 AND last_seq >= first_seq),
  CONSTRAINT ck_archive_target_lines CHECK (line_count >= 1)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
