-- svcd schema version 4 for SQLite: the PowerJob jobs that svcd saved, so a
-- restarted svcd runs attempts through them instead of saving new ones.

-- One row per PowerJob application, worker address and job kind.
CREATE TABLE IF NOT EXISTS powerjob_job (
  app_name            TEXT NOT NULL,
  worker_address      TEXT NOT NULL,
  job_kind            TEXT NOT NULL,
  job_id              INTEGER NOT NULL,
  create_time         INTEGER NOT NULL,
  PRIMARY KEY (app_name, worker_address, job_kind),
  CONSTRAINT ck_powerjob_job_kind CHECK (job_kind IN ('attempt', 'stop')),
  CONSTRAINT ck_powerjob_job_id CHECK (job_id >= 1)
) STRICT;
