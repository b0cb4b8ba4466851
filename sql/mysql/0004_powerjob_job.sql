-- svcd schema version 4 for MySQL 8.0.16+ and MariaDB 10.11+: the PowerJob
-- jobs that svcd saved, so a restarted svcd runs attempts through them
-- instead of saving new ones. Safe to run again after a partial run.

-- One row per PowerJob application, worker address and job kind.
CREATE TABLE IF NOT EXISTS powerjob_job (
  app_name          VARCHAR(255) NOT NULL,
  worker_address    VARCHAR(255) NOT NULL,
  job_kind          VARCHAR(16)  NOT NULL,
  job_id            BIGINT       NOT NULL,
  create_time       BIGINT       NOT NULL,
  PRIMARY KEY (app_name, worker_address, job_kind),
  CONSTRAINT ck_powerjob_job_kind CHECK (job_kind IN ('attempt', 'stop')),
  CONSTRAINT ck_powerjob_job_id CHECK (job_id >= 1)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
