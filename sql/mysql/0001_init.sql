-- svcd schema version 1 for MySQL 8.0.16+ and MariaDB 10.11+.
--
-- MySQL and MariaDB commit DDL implicitly, so this migration cannot run in a
-- transaction. Every statement is CREATE TABLE IF NOT EXISTS with its indexes
-- inline, which makes the file safe to run again after a partial run: the
-- runner records version 1 only after the last statement succeeded.
--
-- Times are BIGINT milliseconds since the Unix epoch, UTC. Text is utf8mb4
-- with the binary collation, so names compare byte for byte as in SQLite.
-- JSON documents are LONGTEXT checked with JSON_VALID, so they read back
-- exactly as written (MySQL's JSON type would reorder keys).

-- Hosts that targets run on (kind Host). Deleted at once, so names are unique.
CREATE TABLE IF NOT EXISTS env_host (
  host_id           CHAR(36)     NOT NULL,
  name              VARCHAR(63)  NOT NULL,
  hostname          VARCHAR(253) NOT NULL,
  ip_addr           VARCHAR(253) NOT NULL,
  ssh_port          INT          NOT NULL DEFAULT 22,
  executor          VARCHAR(16)  NOT NULL,
  disabled          TINYINT(1)   NOT NULL DEFAULT 0,
  labels            LONGTEXT     NOT NULL,
  label_accel       VARCHAR(63)  AS (JSON_UNQUOTE(JSON_EXTRACT(labels, '$.accel'))) STORED,
  agent_version     VARCHAR(32)  NULL,
  reachable         TINYINT(1)   NOT NULL DEFAULT 1,
  last_seen_at      BIGINT       NULL,
  remarks           VARCHAR(500) NULL,
  object_doc        LONGTEXT     NOT NULL,
  status_doc        LONGTEXT     NOT NULL,
  generation        BIGINT       NOT NULL,
  resource_version  BIGINT       NOT NULL,
  data_status       VARCHAR(16)  NOT NULL DEFAULT 'ACTIVE',
  create_time       BIGINT       NOT NULL,
  update_time       BIGINT       NOT NULL,
  create_owner      VARCHAR(64)  NOT NULL,
  update_owner      VARCHAR(64)  NOT NULL,
  PRIMARY KEY (host_id),
  UNIQUE KEY uk_host_name (name),
  KEY idx_host_addr (ip_addr, ssh_port),
  KEY idx_host_label_accel (label_accel),
  CONSTRAINT ck_host_labels CHECK (JSON_VALID(labels)),
  CONSTRAINT ck_host_object CHECK (JSON_VALID(object_doc)),
  CONSTRAINT ck_host_status CHECK (JSON_VALID(status_doc)),
  CONSTRAINT ck_host_port CHECK (ssh_port BETWEEN 1 AND 65535),
  CONSTRAINT ck_host_disabled CHECK (disabled IN (0, 1)),
  CONSTRAINT ck_host_reachable CHECK (reachable IN (0, 1)),
  CONSTRAINT ck_host_data_status CHECK (data_status IN ('ACTIVE', 'DISABLED'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Service templates (kind ServiceTemplate). Deleted at once, names unique.
CREATE TABLE IF NOT EXISTS svc_template (
  template_id         CHAR(36)     NOT NULL,
  name                VARCHAR(63)  NOT NULL,
  scene_type          VARCHAR(64)  NOT NULL,
  model_backend       VARCHAR(64)  NOT NULL,
  backend_version     VARCHAR(64)  NOT NULL,
  fixed_prefix        TEXT         NOT NULL,
  default_envs        LONGTEXT     NULL,
  default_master_args LONGTEXT     NULL,
  default_worker_args LONGTEXT     NULL,
  probe_template      LONGTEXT     NULL,
  remarks             VARCHAR(500) NULL,
  object_doc          LONGTEXT     NOT NULL,
  status_doc          LONGTEXT     NOT NULL,
  generation          BIGINT       NOT NULL,
  resource_version    BIGINT       NOT NULL,
  data_status         VARCHAR(16)  NOT NULL DEFAULT 'ACTIVE',
  create_time         BIGINT       NOT NULL,
  update_time         BIGINT       NOT NULL,
  create_owner        VARCHAR(64)  NOT NULL,
  update_owner        VARCHAR(64)  NOT NULL,
  PRIMARY KEY (template_id),
  UNIQUE KEY uk_template_name (name),
  KEY idx_scene (scene_type, model_backend, backend_version),
  CONSTRAINT ck_template_object CHECK (JSON_VALID(object_doc)),
  CONSTRAINT ck_template_status CHECK (JSON_VALID(status_doc)),
  CONSTRAINT ck_template_data_status CHECK (data_status IN ('ACTIVE', 'DISABLED'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Service deploys (kind ServiceDeploy). A deleted deploy keeps its row with
-- data_status DELETED, so its history stays reachable by uid. live_name is
-- NULL for such rows, so the name is free for a new deploy.
CREATE TABLE IF NOT EXISTS svc_deploy (
  deploy_id          CHAR(36)     NOT NULL,
  namespace          VARCHAR(63)  NOT NULL,
  name               VARCHAR(63)  NOT NULL,
  live_name          VARCHAR(63)  AS (CASE WHEN data_status = 'ACTIVE' THEN name END) STORED,
  template_id        CHAR(36)     NULL,
  template_name      VARCHAR(63)  NOT NULL,
  model_name         VARCHAR(253) NOT NULL,
  scene_type         VARCHAR(64)  NULL,
  model_backend      VARCHAR(64)  NULL,
  backend_version    VARCHAR(64)  NULL,
  envs_req           LONGTEXT     NULL,
  run_cmd_req        LONGTEXT     NOT NULL,
  run_cmd_rendered   LONGTEXT     NULL,
  worker_count       INT          NOT NULL DEFAULT 0,
  phase              VARCHAR(16)  NOT NULL DEFAULT 'Pending',
  owner_group        VARCHAR(32)  NOT NULL DEFAULT 'PUBLIC',
  object_doc         LONGTEXT     NOT NULL,
  status_doc         LONGTEXT     NOT NULL,
  generation         BIGINT       NOT NULL,
  resource_version   BIGINT       NOT NULL,
  deletion_time      BIGINT       NULL,
  finalizers         LONGTEXT     NOT NULL,
  data_status        VARCHAR(16)  NOT NULL DEFAULT 'ACTIVE',
  deleted_time       BIGINT       NULL,
  create_time        BIGINT       NOT NULL,
  update_time        BIGINT       NOT NULL,
  create_owner       VARCHAR(64)  NOT NULL,
  update_owner       VARCHAR(64)  NOT NULL,
  remarks            VARCHAR(500) NULL,
  PRIMARY KEY (deploy_id),
  UNIQUE KEY uk_deploy_live_name (namespace, live_name),
  KEY idx_deploy_name (namespace, name),
  KEY idx_deploy_template (template_name),
  KEY idx_deploy_phase (phase, update_time),
  CONSTRAINT fk_svc_deploy_template FOREIGN KEY (template_id)
    REFERENCES svc_template (template_id) ON DELETE SET NULL,
  CONSTRAINT ck_deploy_object CHECK (JSON_VALID(object_doc)),
  CONSTRAINT ck_deploy_status CHECK (JSON_VALID(status_doc)),
  CONSTRAINT ck_deploy_finalizers CHECK (JSON_VALID(finalizers)),
  CONSTRAINT ck_deploy_workers CHECK (worker_count >= 0),
  CONSTRAINT ck_deploy_phase CHECK (phase IN ('Pending', 'Progressing', 'Ready', 'Degraded',
                                              'Failed', 'Terminating')),
  CONSTRAINT ck_deploy_data_status CHECK (data_status IN ('ACTIVE', 'DELETED')),
  CONSTRAINT ck_deploy_deleted CHECK ((data_status = 'DELETED') = (deleted_time IS NOT NULL))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- One row per node of a deploy. node_rank is 0 for the master and i+1 for
-- worker-i. It is NOT NULL and unique per deploy, so a deploy has at most one
-- master. lease_version is the fencing token: every status write names the
-- version it read and fails when another writer has moved it on.
CREATE TABLE IF NOT EXISTS svc_deploy_target (
  target_id         CHAR(36)     NOT NULL,
  deploy_id         CHAR(36)     NOT NULL,
  target_name       VARCHAR(32)  NOT NULL,
  role              VARCHAR(8)   NOT NULL,
  node_rank         INT          NOT NULL,
  host_id           CHAR(36)     NULL,
  host_name         VARCHAR(63)  NOT NULL,
  generation        BIGINT       NOT NULL,
  env_rendered      LONGTEXT     NULL,
  cmd_rendered      LONGTEXT     NULL,
  command_hash      VARCHAR(80)  NULL,
  state             VARCHAR(16)  NOT NULL DEFAULT 'PENDING',
  stage             VARCHAR(16)  NOT NULL DEFAULT 'PREPARE',
  lease_version     BIGINT       NOT NULL DEFAULT 0,
  next_log_seq      BIGINT       NOT NULL DEFAULT 1,
  attempts          INT          NOT NULL DEFAULT 0,
  last_message      VARCHAR(500) NULL,
  data_status       VARCHAR(16)  NOT NULL DEFAULT 'ACTIVE',
  create_time       BIGINT       NOT NULL,
  update_time       BIGINT       NOT NULL,
  create_owner      VARCHAR(64)  NOT NULL,
  update_owner      VARCHAR(64)  NOT NULL,
  PRIMARY KEY (target_id),
  UNIQUE KEY uk_target_rank (deploy_id, node_rank),
  UNIQUE KEY uk_target_name (deploy_id, target_name),
  KEY idx_target_host (host_id),
  KEY idx_target_state (state, update_time),
  CONSTRAINT fk_target_deploy FOREIGN KEY (deploy_id) REFERENCES svc_deploy (deploy_id),
  CONSTRAINT fk_target_host FOREIGN KEY (host_id)
    REFERENCES env_host (host_id) ON DELETE SET NULL,
  CONSTRAINT ck_target_role CHECK ((role = 'master' AND node_rank = 0 AND target_name = 'master')
    OR (role = 'worker' AND node_rank >= 1
        AND target_name = CONCAT('worker-', node_rank - 1))),
  CONSTRAINT ck_target_state CHECK (state IN ('PENDING', 'DISPATCHING', 'RUNNING', 'READY',
                                              'FAILED', 'CANCELLED', 'TIMEOUT')),
  CONSTRAINT ck_target_stage CHECK (stage IN ('PREPARE', 'RENDER_ENV', 'RENDER_CMD',
                                              'START_PROCESS', 'HEALTH_CHECK', 'READY',
                                              'ARCHIVE_LOGS')),
  CONSTRAINT ck_target_lease CHECK (lease_version >= 0),
  CONSTRAINT ck_target_log_seq CHECK (next_log_seq >= 1),
  CONSTRAINT ck_target_data_status CHECK (data_status IN ('ACTIVE', 'DELETED'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- One row per dispatch of a target (each retry is a new row). attempt counts
-- the target's dispatches from 1 and never resets; secret_hash is the SHA-256
-- of the secret that the launcher must present with its reports.
CREATE TABLE IF NOT EXISTS job_dispatch (
  dispatch_id          CHAR(36)     NOT NULL,
  target_id            CHAR(36)     NOT NULL,
  attempt              INT          NOT NULL,
  lease_version        BIGINT       NOT NULL,
  executor             VARCHAR(16)  NOT NULL,
  secret_hash          VARCHAR(128) NOT NULL,
  powerjob_instance_id BIGINT       NULL,
  status               VARCHAR(16)  NOT NULL DEFAULT 'QUEUED',
  submit_time          BIGINT       NOT NULL,
  start_time           BIGINT       NULL,
  end_time             BIGINT       NULL,
  exit_code            INT          NULL,
  error_msg            VARCHAR(500) NULL,
  data_status          VARCHAR(16)  NOT NULL DEFAULT 'ACTIVE',
  PRIMARY KEY (dispatch_id),
  UNIQUE KEY uk_dispatch_attempt (target_id, attempt),
  KEY idx_pj (powerjob_instance_id),
  KEY idx_dispatch_status (status, submit_time),
  CONSTRAINT fk_dispatch_target FOREIGN KEY (target_id) REFERENCES svc_deploy_target (target_id),
  CONSTRAINT ck_dispatch_attempt CHECK (attempt >= 1),
  CONSTRAINT ck_dispatch_status CHECK (status IN ('QUEUED', 'SENT', 'STARTED', 'SUCCEEDED',
                                                  'FAILED', 'LOST')),
  CONSTRAINT ck_dispatch_data_status CHECK (data_status IN ('ACTIVE', 'DELETED'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The process a dispatch started, as its launcher reports it.
CREATE TABLE IF NOT EXISTS proc_monitor (
  proc_id           CHAR(36)      NOT NULL,
  target_id         CHAR(36)      NOT NULL,
  dispatch_id       CHAR(36)      NULL,
  pid               BIGINT        NULL,
  listen_ports      LONGTEXT      NULL,
  start_time        BIGINT        NULL,
  last_heartbeat    BIGINT        NULL,
  exit_code         INT           NULL,
  cpu_pct           DECIMAL(5,2)  NULL,
  mem_mb            DECIMAL(10,2) NULL,
  status            VARCHAR(16)   NOT NULL DEFAULT 'STARTING',
  data_status       VARCHAR(16)   NOT NULL DEFAULT 'ACTIVE',
  PRIMARY KEY (proc_id),
  KEY idx_proc_target (target_id),
  KEY idx_proc_status (status, last_heartbeat),
  CONSTRAINT fk_proc_target FOREIGN KEY (target_id) REFERENCES svc_deploy_target (target_id),
  CONSTRAINT fk_proc_dispatch FOREIGN KEY (dispatch_id) REFERENCES job_dispatch (dispatch_id),
  CONSTRAINT ck_proc_ports CHECK (listen_ports IS NULL OR JSON_VALID(listen_ports)),
  CONSTRAINT ck_proc_status CHECK (status IN ('STARTING', 'RUNNING', 'EXITED', 'UNKNOWN')),
  CONSTRAINT ck_proc_data_status CHECK (data_status IN ('ACTIVE', 'DELETED'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The resolved probe of each role of a deploy generation.
CREATE TABLE IF NOT EXISTS health_probe_cfg (
  probe_id           CHAR(36)     NOT NULL,
  deploy_id          CHAR(36)     NOT NULL,
  generation         BIGINT       NOT NULL,
  role               VARCHAR(8)   NOT NULL,
  method             VARCHAR(8)   NOT NULL,
  http_method        VARCHAR(8)   NULL,
  port               INT          NULL,
  endpoint           VARCHAR(2048) NULL,
  request_body       LONGTEXT     NULL,
  expect_code        INT          NULL,
  expect_keyword     VARCHAR(1024) NULL,
  initial_delay_sec  INT          NOT NULL DEFAULT 0,
  interval_sec       INT          NOT NULL DEFAULT 10,
  timeout_ms         INT          NOT NULL DEFAULT 5000,
  retry              INT          NOT NULL DEFAULT 3,
  success_threshold  INT          NOT NULL DEFAULT 1,
  data_status        VARCHAR(16)  NOT NULL DEFAULT 'ACTIVE',
  PRIMARY KEY (probe_id),
  UNIQUE KEY uk_probe_role (deploy_id, generation, role),
  CONSTRAINT fk_probe_deploy FOREIGN KEY (deploy_id) REFERENCES svc_deploy (deploy_id),
  CONSTRAINT ck_probe_role CHECK (role IN ('master', 'worker')),
  CONSTRAINT ck_probe_method CHECK (method IN ('http', 'tcp', 'exec')),
  CONSTRAINT ck_probe_http_method CHECK (http_method IS NULL OR http_method IN ('GET', 'POST')),
  CONSTRAINT ck_probe_port CHECK (port IS NULL OR port BETWEEN 1 AND 65535),
  CONSTRAINT ck_probe_data_status CHECK (data_status IN ('ACTIVE', 'DELETED'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Every probe result.
CREATE TABLE IF NOT EXISTS health_probe_event (
  event_id          CHAR(36)     NOT NULL,
  probe_id          CHAR(36)     NOT NULL,
  target_id         CHAR(36)     NULL,
  pass_flag         TINYINT(1)   NOT NULL,
  http_status       INT          NULL,
  latency_ms        INT          NULL,
  message           VARCHAR(500) NULL,
  event_time        BIGINT       NOT NULL,
  PRIMARY KEY (event_id),
  KEY idx_probe_time (probe_id, event_time),
  KEY idx_probe_target_time (target_id, event_time),
  CONSTRAINT fk_event_probe FOREIGN KEY (probe_id) REFERENCES health_probe_cfg (probe_id),
  CONSTRAINT fk_event_target FOREIGN KEY (target_id) REFERENCES svc_deploy_target (target_id),
  CONSTRAINT ck_probe_pass CHECK (pass_flag IN (0, 1))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Log lines of targets. seq comes from svc_deploy_target.next_log_seq, is
-- unique per target and never resets across attempts, so a reader resumes
-- with "seq > N".
CREATE TABLE IF NOT EXISTS log_event (
  log_id            BIGINT       NOT NULL AUTO_INCREMENT,
  deploy_id         CHAR(36)     NOT NULL,
  target_id         CHAR(36)     NOT NULL,
  seq               BIGINT       NOT NULL,
  attempt           INT          NOT NULL,
  source            VARCHAR(16)  NOT NULL,
  level             VARCHAR(8)   NOT NULL DEFAULT 'INFO',
  content           LONGTEXT     NOT NULL,
  ts                BIGINT       NOT NULL,
  PRIMARY KEY (log_id),
  UNIQUE KEY uk_log_seq (target_id, seq),
  KEY idx_deploy_ts (deploy_id, ts),
  CONSTRAINT fk_log_deploy FOREIGN KEY (deploy_id) REFERENCES svc_deploy (deploy_id),
  CONSTRAINT fk_log_target FOREIGN KEY (target_id) REFERENCES svc_deploy_target (target_id),
  CONSTRAINT ck_log_seq CHECK (seq >= 1),
  CONSTRAINT ck_log_attempt CHECK (attempt >= 1),
  CONSTRAINT ck_log_source CHECK (source IN ('AGENT', 'POWERJOB', 'SERVICE', 'TEST_TOOL')),
  CONSTRAINT ck_log_level CHECK (level IN ('DEBUG', 'INFO', 'WARN', 'ERROR'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Log archives of a deploy (a packed file per archive run).
CREATE TABLE IF NOT EXISTS log_archive (
  archive_id        CHAR(36)     NOT NULL,
  deploy_id         CHAR(36)     NOT NULL,
  storage_url       VARCHAR(1024) NOT NULL,
  bytes             BIGINT       NULL,
  md5               CHAR(32)     NULL,
  created_at        BIGINT       NOT NULL,
  remarks           VARCHAR(500) NULL,
  PRIMARY KEY (archive_id),
  KEY idx_archive_deploy (deploy_id, created_at),
  KEY idx_archive_time (created_at),
  CONSTRAINT fk_archive_deploy FOREIGN KEY (deploy_id) REFERENCES svc_deploy (deploy_id),
  CONSTRAINT ck_archive_bytes CHECK (bytes IS NULL OR bytes >= 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The audit trail of every write. entity_id is the object's uid.
CREATE TABLE IF NOT EXISTS op_audit_log (
  audit_id          CHAR(36)     NOT NULL,
  entity_type       VARCHAR(16)  NOT NULL,
  entity_id         CHAR(36)     NOT NULL,
  entity_namespace  VARCHAR(63)  NOT NULL DEFAULT '',
  entity_name       VARCHAR(253) NOT NULL DEFAULT '',
  operation_type    VARCHAR(16)  NOT NULL,
  operator_user_id  VARCHAR(64)  NOT NULL,
  changed_fields    LONGTEXT     NULL,
  old_data          LONGTEXT     NULL,
  new_data          LONGTEXT     NULL,
  remark            VARCHAR(500) NULL,
  op_time           BIGINT       NOT NULL,
  PRIMARY KEY (audit_id),
  KEY idx_entity (entity_type, entity_id, op_time),
  KEY idx_audit_time (op_time),
  CONSTRAINT ck_audit_entity CHECK (entity_type IN ('HOST', 'TEMPLATE', 'DEPLOY', 'TARGET', 'JOB',
                                                    'PROC', 'PROBE', 'ARCHIVE')),
  CONSTRAINT ck_audit_operation CHECK (operation_type IN ('INSERT', 'UPDATE', 'DELETE', 'CANCEL',
                                                          'RETRY', 'ARCHIVE')),
  CONSTRAINT ck_audit_changed CHECK (changed_fields IS NULL OR JSON_VALID(changed_fields)),
  CONSTRAINT ck_audit_old CHECK (old_data IS NULL OR JSON_VALID(old_data)),
  CONSTRAINT ck_audit_new CHECK (new_data IS NULL OR JSON_VALID(new_data))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Files produced for a target or deploy: rendered scripts, env files, archives.
CREATE TABLE IF NOT EXISTS svc_artifact (
  artifact_id       CHAR(36)     NOT NULL,
  deploy_id         CHAR(36)     NOT NULL,
  target_id         CHAR(36)     NULL,
  dispatch_id       CHAR(36)     NULL,
  kind              VARCHAR(16)  NOT NULL,
  uri               VARCHAR(1024) NULL,
  content           LONGTEXT     NULL,
  checksum          VARCHAR(80)  NOT NULL,
  size_bytes        BIGINT       NOT NULL,
  created_at        BIGINT       NOT NULL,
  PRIMARY KEY (artifact_id),
  KEY idx_artifact_target (target_id, created_at),
  KEY idx_artifact_deploy (deploy_id, created_at),
  CONSTRAINT fk_artifact_deploy FOREIGN KEY (deploy_id) REFERENCES svc_deploy (deploy_id),
  CONSTRAINT fk_artifact_target FOREIGN KEY (target_id) REFERENCES svc_deploy_target (target_id),
  CONSTRAINT fk_artifact_dispatch FOREIGN KEY (dispatch_id) REFERENCES job_dispatch (dispatch_id),
  CONSTRAINT ck_artifact_kind CHECK (kind IN ('SCRIPT', 'ENV_FILE', 'ARCHIVE', 'OTHER')),
  CONSTRAINT ck_artifact_size CHECK (size_bytes >= 0),
  CONSTRAINT ck_artifact_place CHECK (uri IS NOT NULL OR content IS NOT NULL)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The event timeline of objects. Rows are only ever inserted.
CREATE TABLE IF NOT EXISTS svc_event (
  event_id          BIGINT       NOT NULL AUTO_INCREMENT,
  object_uid        CHAR(36)     NOT NULL,
  object_kind       VARCHAR(32)  NOT NULL,
  object_namespace  VARCHAR(63)  NOT NULL DEFAULT '',
  object_name       VARCHAR(63)  NOT NULL,
  type              VARCHAR(8)   NOT NULL,
  reason            VARCHAR(128) NOT NULL,
  message           TEXT         NOT NULL,
  event_time        BIGINT       NOT NULL,
  PRIMARY KEY (event_id),
  KEY idx_event_object (object_uid, event_id),
  KEY idx_event_namespace (object_namespace, event_time),
  CONSTRAINT ck_event_type CHECK (type IN ('Normal', 'Warning'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The controller lease: one row per store, held by one svcd at a time.
CREATE TABLE IF NOT EXISTS svcd_lease (
  lease_name        VARCHAR(64)  NOT NULL,
  holder            VARCHAR(255) NOT NULL,
  acquired_time     BIGINT       NOT NULL,
  renewed_time      BIGINT       NOT NULL,
  lease_version     BIGINT       NOT NULL,
  PRIMARY KEY (lease_name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Objects owned by each named apply set, for pruning.
CREATE TABLE IF NOT EXISTS apply_set_member (
  apply_set         VARCHAR(253) NOT NULL,
  object_kind       VARCHAR(32)  NOT NULL,
  object_namespace  VARCHAR(63)  NOT NULL DEFAULT '',
  object_name       VARCHAR(63)  NOT NULL,
  object_uid        CHAR(36)     NOT NULL,
  added_time        BIGINT       NOT NULL,
  PRIMARY KEY (apply_set, object_kind, object_namespace, object_name),
  KEY idx_apply_set_uid (object_uid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
