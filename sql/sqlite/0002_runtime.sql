-- svcd schema version 2 for SQLite: columns and rules the runtime store
-- (store/runtime_store.h) needs beyond version 1.

-- How many bytes of the dispatch's output.log the store has consumed: the
-- stored lines plus the buffered partial line. A chunk that starts before it
-- is a resend, one that starts after it follows a gap.
ALTER TABLE job_dispatch ADD COLUMN log_bytes INTEGER NOT NULL DEFAULT 0
  CONSTRAINT ck_dispatch_log_bytes CHECK (log_bytes >= 0);

-- The bytes after the last newline of output.log, kept until the newline
-- arrives or the dispatch ends. They may end inside a UTF-8 sequence, which
-- TEXT accepts because SQLite does not check its encoding.
ALTER TABLE job_dispatch ADD COLUMN log_partial TEXT NULL;

-- health_probe_event.probe_id becomes optional. The runtime store records
-- probe results per target without a resolved health_probe_cfg row; the
-- deploy is reached through target_id. SQLite cannot relax NOT NULL in
-- place, so the table is rebuilt with the same columns, rules and indexes.
CREATE TABLE health_probe_event_v2 (
  event_id            TEXT NOT NULL,
  probe_id            TEXT NULL,
  target_id           TEXT NULL,
  pass_flag           INTEGER NOT NULL,
  http_status         INTEGER NULL,
  latency_ms          INTEGER NULL,
  message             TEXT NULL,
  event_time          INTEGER NOT NULL,
  PRIMARY KEY (event_id),
  CONSTRAINT fk_event_probe FOREIGN KEY (probe_id) REFERENCES health_probe_cfg (probe_id),
  CONSTRAINT fk_event_target FOREIGN KEY (target_id) REFERENCES svc_deploy_target (target_id),
  CONSTRAINT ck_probe_pass CHECK (pass_flag IN (0, 1))
) STRICT;
INSERT INTO health_probe_event_v2 (event_id, probe_id, target_id, pass_flag, http_status,
                                   latency_ms, message, event_time)
  SELECT event_id, probe_id, target_id, pass_flag, http_status, latency_ms, message, event_time
  FROM health_probe_event;
DROP TABLE health_probe_event;
ALTER TABLE health_probe_event_v2 RENAME TO health_probe_event;
CREATE INDEX idx_probe_time ON health_probe_event (probe_id, event_time);
CREATE INDEX idx_probe_target_time ON health_probe_event (target_id, event_time);
