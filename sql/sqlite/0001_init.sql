-- svcd schema version 1 for SQLite 3.38+ (STRICT tables, built-in JSON).
--
-- The runner applies this file in one transaction and records version 1 in
-- the same transaction, so a failed run leaves nothing behind.
--
-- Times are INTEGER milliseconds since the Unix epoch, UTC. JSON documents are
-- TEXT checked with json_valid. Indexes that MySQL declares inline follow each
-- table as CREATE INDEX statements with the same names.

-- Hosts that targets run on (kind Host). Deleted at once, so names are unique.
CREATE TABLE IF NOT EXISTS env_host (
  host_id             TEXT NOT NULL,
  name                TEXT NOT NULL,
  hostname            TEXT NOT NULL,
  ip_addr             TEXT NOT NULL,
  ssh_port            INTEGER NOT NULL DEFAULT 22,
  executor            TEXT NOT NULL,
  disabled            INTEGER NOT NULL DEFAULT 0,
  labels              TEXT NOT NULL,
  label_accel         TEXT GENERATED ALWAYS AS (json_extract(labels, '$.accel')) VIRTUAL,
  agent_version       TEXT NULL,
  reachable           INTEGER NOT NULL DEFAULT 1,
  last_seen_at        INTEGER NULL,
  remarks             TEXT NULL,
  object_doc          TEXT NOT NULL,
  status_doc          TEXT NOT NULL,
  generation          INTEGER NOT NULL,
  resource_version    INTEGER NOT NULL,
  data_status         TEXT NOT NULL DEFAULT 'ACTIVE',
  create_time         INTEGER NOT NULL,
  update_time         INTEGER NOT NULL,
  create_owner        TEXT NOT NULL,
  update_owner        TEXT NOT NULL,
  PRIMARY KEY (host_id),
  CONSTRAINT ck_host_labels CHECK (json_valid(labels)),
  CONSTRAINT ck_host_object CHECK (json_valid(object_doc)),
  CONSTRAINT ck_host_status CHECK (json_valid(status_doc)),
  CONSTRAINT ck_host_port CHECK (ssh_port BETWEEN 1 AND 65535),
  CONSTRAINT ck_host_disabled CHECK (disabled IN (0, 1)),
  CONSTRAINT ck_host_reachable CHECK (reachable IN (0, 1)),
  CONSTRAINT ck_host_data_status CHECK (data_status IN ('ACTIVE', 'DISABLED'))
) STRICT;
CREATE UNIQUE INDEX IF NOT EXISTS uk_host_name ON env_host (name);
CREATE INDEX IF NOT EXISTS idx_host_addr ON env_host (ip_addr, ssh_port);
CREATE INDEX IF NOT EXISTS idx_host_label_accel ON env_host (label_accel);

-- Service templates (kind ServiceTemplate). Deleted at once, names unique.
CREATE TABLE IF NOT EXISTS svc_template (
  template_id         TEXT NOT NULL,
  name                TEXT NOT NULL,
  scene_type          TEXT NOT NULL,
  model_backend       TEXT NOT NULL,
  backend_version     TEXT NOT NULL,
  fixed_prefix        TEXT NOT NULL,
  default_envs        TEXT NULL,
  default_master_args TEXT NULL,
  default_worker_args TEXT NULL,
  probe_template      TEXT NULL,
  remarks             TEXT NULL,
  object_doc          TEXT NOT NULL,
  status_doc          TEXT NOT NULL,
  generation          INTEGER NOT NULL,
  resource_version    INTEGER NOT NULL,
  data_status         TEXT NOT NULL DEFAULT 'ACTIVE',
  create_time         INTEGER NOT NULL,
  update_time         INTEGER NOT NULL,
  create_owner        TEXT NOT NULL,
  update_owner        TEXT NOT NULL,
  PRIMARY KEY (template_id),
  CONSTRAINT ck_template_object CHECK (json_valid(object_doc)),
  CONSTRAINT ck_template_status CHECK (json_valid(status_doc)),
  CONSTRAINT ck_template_data_status CHECK (data_status IN ('ACTIVE', 'DISABLED'))
) STRICT;
CREATE UNIQUE INDEX IF NOT EXISTS uk_template_name ON svc_template (name);
CREATE INDEX IF NOT EXISTS idx_scene ON svc_template (scene_type, model_backend, backend_version);

-- Service deploys (kind ServiceDeploy). A deleted deploy keeps its row with
-- data_status DELETED, so its history stays reachable by uid. The partial
-- unique index covers live rows only, so the name is free for a new deploy.
CREATE TABLE IF NOT EXISTS svc_deploy (
  deploy_id           TEXT NOT NULL,
  namespace           TEXT NOT NULL,
  name                TEXT NOT NULL,
  template_id         TEXT NULL,
  template_name       TEXT NOT NULL,
  model_name          TEXT NOT NULL,
  scene_type          TEXT NULL,
  model_backend       TEXT NULL,
  backend_version     TEXT NULL,
  envs_req            TEXT NULL,
  run_cmd_req         TEXT NOT NULL,
  run_cmd_rendered    TEXT NULL,
  worker_count        INTEGER NOT NULL DEFAULT 0,
  phase               TEXT NOT NULL DEFAULT 'Pending',
  owner_group         TEXT NOT NULL DEFAULT 'PUBLIC',
  object_doc          TEXT NOT NULL,
  status_doc          TEXT NOT NULL,
  generation          INTEGER NOT NULL,
  resource_version    INTEGER NOT NULL,
  deletion_time       INTEGER NULL,
  finalizers          TEXT NOT NULL,
  data_status         TEXT NOT NULL DEFAULT 'ACTIVE',
  deleted_time        INTEGER NULL,
  create_time         INTEGER NOT NULL,
  update_time         INTEGER NOT NULL,
  create_owner        TEXT NOT NULL,
  update_owner        TEXT NOT NULL,
  remarks             TEXT NULL,
  PRIMARY KEY (deploy_id),
  CONSTRAINT fk_svc_deploy_template FOREIGN KEY (template_id)
    REFERENCES svc_template (template_id) ON DELETE SET NULL,
  CONSTRAINT ck_deploy_object CHECK (json_valid(object_doc)),
  CONSTRAINT ck_deploy_status CHECK (json_valid(status_doc)),
  CONSTRAINT ck_deploy_finalizers CHECK (json_valid(finalizers)),
  CONSTRAINT ck_deploy_workers CHECK (worker_count >= 0),
  CONSTRAINT ck_deploy_phase CHECK (phase IN ('Pending', 'Progressing', 'Ready', 'Degraded',
                                              'Failed', 'Terminating')),
  CONSTRAINT ck_deploy_data_status CHECK (data_status IN ('ACTIVE', 'DELETED')),
  CONSTRAINT ck_deploy_deleted CHECK ((data_status = 'DELETED') = (deleted_time IS NOT NULL))
) STRICT;
CREATE UNIQUE INDEX IF NOT EXISTS uk_deploy_live_name ON svc_deploy (namespace, name)
  WHERE data_status = 'ACTIVE';
CREATE INDEX IF NOT EXISTS idx_deploy_name ON svc_deploy (namespace, name);
CREATE INDEX IF NOT EXISTS idx_deploy_template ON svc_deploy (template_name);
CREATE INDEX IF NOT EXISTS idx_deploy_phase ON svc_deploy (phase, update_time);

-- One row per node of a deploy. node_rank is 0 for the master and i+1 for
-- worker-i. It is NOT NULL and unique per deploy, so a deploy has at most one
-- master. lease_version is the fencing token: every status write names the
-- version it read and fails when another writer has moved it on.
CREATE TABLE IF NOT EXISTS svc_deploy_target (
  target_id           TEXT NOT NULL,
  deploy_id           TEXT NOT NULL,
  target_name         TEXT NOT NULL,
  role                TEXT NOT NULL,
  node_rank           INTEGER NOT NULL,
  host_id             TEXT NULL,
  host_name           TEXT NOT NULL,
  generation          INTEGER NOT NULL,
  env_rendered        TEXT NULL,
  cmd_rendered        TEXT NULL,
  command_hash        TEXT NULL,
  state               TEXT NOT NULL DEFAULT 'PENDING',
  stage               TEXT NOT NULL DEFAULT 'PREPARE',
  lease_version       INTEGER NOT NULL DEFAULT 0,
  next_log_seq        INTEGER NOT NULL DEFAULT 1,
  attempts            INTEGER NOT NULL DEFAULT 0,
  last_message        TEXT NULL,
  data_status         TEXT NOT NULL DEFAULT 'ACTIVE',
  create_time         INTEGER NOT NULL,
  update_time         INTEGER NOT NULL,
  create_owner        TEXT NOT NULL,
  update_owner        TEXT NOT NULL,
  PRIMARY KEY (target_id),
  CONSTRAINT fk_target_deploy FOREIGN KEY (deploy_id) REFERENCES svc_deploy (deploy_id),
  CONSTRAINT fk_target_host FOREIGN KEY (host_id)
    REFERENCES env_host (host_id) ON DELETE SET NULL,
  CONSTRAINT ck_target_role CHECK ((role = 'master' AND node_rank = 0 AND target_name = 'master')
    OR (role = 'worker' AND node_rank >= 1
        AND target_name = 'worker-' || (node_rank - 1))),
  CONSTRAINT ck_target_state CHECK (state IN ('PENDING', 'DISPATCHING', 'RUNNING', 'READY',
                                              'FAILED', 'CANCELLED', 'TIMEOUT')),
  CONSTRAINT ck_target_stage CHECK (stage IN ('PREPARE', 'RENDER_ENV', 'RENDER_CMD',
                                              'START_PROCESS', 'HEALTH_CHECK', 'READY',
                                              'ARCHIVE_LOGS')),
  CONSTRAINT ck_target_lease CHECK (lease_version >= 0),
  CONSTRAINT ck_target_log_seq CHECK (next_log_seq >= 1),
  CONSTRAINT ck_target_data_status CHECK (data_status IN ('ACTIVE', 'DELETED'))
) STRICT;
CREATE UNIQUE INDEX IF NOT EXISTS uk_target_rank ON svc_deploy_target (deploy_id, node_rank);
CREATE UNIQUE INDEX IF NOT EXISTS uk_target_name ON svc_deploy_target (deploy_id, target_name);
CREATE INDEX IF NOT EXISTS idx_target_host ON svc_deploy_target (host_id);
CREATE INDEX IF NOT EXISTS idx_target_state ON svc_deploy_target (state, update_time);

-- One row per dispatch of a target (each retry is a new row). attempt counts
-- the target's dispatches from 1 and never resets; secret_hash is the SHA-256
-- of the secret that the launcher must present with its reports.
CREATE TABLE IF NOT EXISTS job_dispatch (
  dispatch_id         TEXT NOT NULL,
  target_id           TEXT NOT NULL,
  attempt             INTEGER NOT NULL,
  lease_version       INTEGER NOT NULL,
  executor            TEXT NOT NULL,
  secret_hash         TEXT NOT NULL,
  powerjob_instance_id INTEGER NULL,
  status              TEXT NOT NULL DEFAULT 'QUEUED',
  submit_time         INTEGER NOT NULL,
  start_time          INTEGER NULL,
  end_time            INTEGER NULL,
  exit_code           INTEGER NULL,
  error_msg           TEXT NULL,
  data_status         TEXT NOT NULL DEFAULT 'ACTIVE',
  PRIMARY KEY (dispatch_id),
  CONSTRAINT fk_dispatch_target FOREIGN KEY (target_id) REFERENCES svc_deploy_target (target_id),
  CONSTRAINT ck_dispatch_attempt CHECK (attempt >= 1),
  CONSTRAINT ck_dispatch_status CHECK (status IN ('QUEUED', 'SENT', 'STARTED', 'SUCCEEDED',
                                                  'FAILED', 'LOST')),
  CONSTRAINT ck_dispatch_data_status CHECK (data_status IN ('ACTIVE', 'DELETED'))
) STRICT;
CREATE UNIQUE INDEX IF NOT EXISTS uk_dispatch_attempt ON job_dispatch (target_id, attempt);
CREATE INDEX IF NOT EXISTS idx_pj ON job_dispatch (powerjob_instance_id);
CREATE INDEX IF NOT EXISTS idx_dispatch_status ON job_dispatch (status, submit_time);

-- The process a dispatch started, as its launcher reports it.
CREATE TABLE IF NOT EXISTS proc_monitor (
  proc_id             TEXT NOT NULL,
  target_id           TEXT NOT NULL,
  dispatch_id         TEXT NULL,
  pid                 INTEGER NULL,
  listen_ports        TEXT NULL,
  start_time          INTEGER NULL,
  last_heartbeat      INTEGER NULL,
  exit_code           INTEGER NULL,
  cpu_pct             REAL NULL,
  mem_mb              REAL NULL,
  status              TEXT NOT NULL DEFAULT 'STARTING',
  data_status         TEXT NOT NULL DEFAULT 'ACTIVE',
  PRIMARY KEY (proc_id),
  CONSTRAINT fk_proc_target FOREIGN KEY (target_id) REFERENCES svc_deploy_target (target_id),
  CONSTRAINT fk_proc_dispatch FOREIGN KEY (dispatch_id) REFERENCES job_dispatch (dispatch_id),
  CONSTRAINT ck_proc_ports CHECK (listen_ports IS NULL OR json_valid(listen_ports)),
  CONSTRAINT ck_proc_status CHECK (status IN ('STARTING', 'RUNNING', 'EXITED', 'UNKNOWN')),
  CONSTRAINT ck_proc_data_status CHECK (data_status IN ('ACTIVE', 'DELETED'))
) STRICT;
CREATE INDEX IF NOT EXISTS idx_proc_target ON proc_monitor (target_id);
CREATE INDEX IF NOT EXISTS idx_proc_status ON proc_monitor (status, last_heartbeat);

-- The resolved probe of each role of a deploy generation.
CREATE TABLE IF NOT EXISTS health_probe_cfg (
  probe_id            TEXT NOT NULL,
  deploy_id           TEXT NOT NULL,
  generation          INTEGER NOT NULL,
  role                TEXT NOT NULL,
  method              TEXT NOT NULL,
  http_method         TEXT NULL,
  port                INTEGER NULL,
  endpoint            TEXT NULL,
  request_body        TEXT NULL,
  expect_code         INTEGER NULL,
  expect_keyword      TEXT NULL,
  initial_delay_sec   INTEGER NOT NULL DEFAULT 0,
  interval_sec        INTEGER NOT NULL DEFAULT 10,
  timeout_ms          INTEGER NOT NULL DEFAULT 5000,
  retry               INTEGER NOT NULL DEFAULT 3,
  success_threshold   INTEGER NOT NULL DEFAULT 1,
  data_status         TEXT NOT NULL DEFAULT 'ACTIVE',
  PRIMARY KEY (probe_id),
  CONSTRAINT fk_probe_deploy FOREIGN KEY (deploy_id) REFERENCES svc_deploy (deploy_id),
  CONSTRAINT ck_probe_role CHECK (role IN ('master', 'worker')),
  CONSTRAINT ck_probe_method CHECK (method IN ('http', 'tcp', 'exec')),
  CONSTRAINT ck_probe_http_method CHECK (http_method IS NULL OR http_method IN ('GET', 'POST')),
  CONSTRAINT ck_probe_port CHECK (port IS NULL OR port BETWEEN 1 AND 65535),
  CONSTRAINT ck_probe_data_status CHECK (data_status IN ('ACTIVE', 'DELETED'))
) STRICT;
CREATE UNIQUE INDEX IF NOT EXISTS uk_probe_role ON health_probe_cfg (deploy_id, generation, role);

-- Every probe result.
CREATE TABLE IF NOT EXISTS health_probe_event (
  event_id            TEXT NOT NULL,
  probe_id            TEXT NOT NULL,
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
CREATE INDEX IF NOT EXISTS idx_probe_time ON health_probe_event (probe_id, event_time);
CREATE INDEX IF NOT EXISTS idx_probe_target_time ON health_probe_event (target_id, event_time);

-- Log lines of targets. seq comes from svc_deploy_target.next_log_seq, is
-- unique per target and never resets across attempts, so a reader resumes
-- with "seq > N".
CREATE TABLE IF NOT EXISTS log_event (
  log_id              INTEGER PRIMARY KEY AUTOINCREMENT,
  deploy_id           TEXT NOT NULL,
  target_id           TEXT NOT NULL,
  seq                 INTEGER NOT NULL,
  attempt             INTEGER NOT NULL,
  source              TEXT NOT NULL,
  level               TEXT NOT NULL DEFAULT 'INFO',
  content             TEXT NOT NULL,
  ts                  INTEGER NOT NULL,
  CONSTRAINT fk_log_deploy FOREIGN KEY (deploy_id) REFERENCES svc_deploy (deploy_id),
  CONSTRAINT fk_log_target FOREIGN KEY (target_id) REFERENCES svc_deploy_target (target_id),
  CONSTRAINT ck_log_seq CHECK (seq >= 1),
  CONSTRAINT ck_log_attempt CHECK (attempt >= 1),
  CONSTRAINT ck_log_source CHECK (source IN ('AGENT', 'POWERJOB', 'SERVICE', 'TEST_TOOL')),
  CONSTRAINT ck_log_level CHECK (level IN ('DEBUG', 'INFO', 'WARN', 'ERROR'))
) STRICT;
CREATE UNIQUE INDEX IF NOT EXISTS uk_log_seq ON log_event (target_id, seq);
CREATE INDEX IF NOT EXISTS idx_deploy_ts ON log_event (deploy_id, ts);

-- Log archives of a deploy (a packed file per archive run).
CREATE TABLE IF NOT EXISTS log_archive (
  archive_id          TEXT NOT NULL,
  deploy_id           TEXT NOT NULL,
  storage_url         TEXT NOT NULL,
  bytes               INTEGER NULL,
  md5                 TEXT NULL,
  created_at          INTEGER NOT NULL,
  remarks             TEXT NULL,
  PRIMARY KEY (archive_id),
  CONSTRAINT fk_archive_deploy FOREIGN KEY (deploy_id) REFERENCES svc_deploy (deploy_id),
  CONSTRAINT ck_archive_bytes CHECK (bytes IS NULL OR bytes >= 0)
) STRICT;
CREATE INDEX IF NOT EXISTS idx_archive_deploy ON log_archive (deploy_id, created_at);
CREATE INDEX IF NOT EXISTS idx_archive_time ON log_archive (created_at);

-- The audit trail of every write. entity_id is the object's uid.
CREATE TABLE IF NOT EXISTS op_audit_log (
  audit_id            TEXT NOT NULL,
  entity_type         TEXT NOT NULL,
  entity_id           TEXT NOT NULL,
  entity_namespace    TEXT NOT NULL DEFAULT '',
  entity_name         TEXT NOT NULL DEFAULT '',
  operation_type      TEXT NOT NULL,
  operator_user_id    TEXT NOT NULL,
  changed_fields      TEXT NULL,
  old_data            TEXT NULL,
  new_data            TEXT NULL,
  remark              TEXT NULL,
  op_time             INTEGER NOT NULL,
  PRIMARY KEY (audit_id),
  CONSTRAINT ck_audit_entity CHECK (entity_type IN ('HOST', 'TEMPLATE', 'DEPLOY', 'TARGET', 'JOB',
                                                    'PROC', 'PROBE', 'ARCHIVE')),
  CONSTRAINT ck_audit_operation CHECK (operation_type IN ('INSERT', 'UPDATE', 'DELETE', 'CANCEL',
                                                          'RETRY', 'ARCHIVE')),
  CONSTRAINT ck_audit_changed CHECK (changed_fields IS NULL OR json_valid(changed_fields)),
  CONSTRAINT ck_audit_old CHECK (old_data IS NULL OR json_valid(old_data)),
  CONSTRAINT ck_audit_new CHECK (new_data IS NULL OR json_valid(new_data))
) STRICT;
CREATE INDEX IF NOT EXISTS idx_entity ON op_audit_log (entity_type, entity_id, op_time);
CREATE INDEX IF NOT EXISTS idx_audit_time ON op_audit_log (op_time);

-- Files produced for a target or deploy: rendered scripts, env files, archives.
CREATE TABLE IF NOT EXISTS svc_artifact (
  artifact_id         TEXT NOT NULL,
  deploy_id           TEXT NOT NULL,
  target_id           TEXT NULL,
  dispatch_id         TEXT NULL,
  kind                TEXT NOT NULL,
  uri                 TEXT NULL,
  content             TEXT NULL,
  checksum            TEXT NOT NULL,
  size_bytes          INTEGER NOT NULL,
  created_at          INTEGER NOT NULL,
  PRIMARY KEY (artifact_id),
  CONSTRAINT fk_artifact_deploy FOREIGN KEY (deploy_id) REFERENCES svc_deploy (deploy_id),
  CONSTRAINT fk_artifact_target FOREIGN KEY (target_id) REFERENCES svc_deploy_target (target_id),
  CONSTRAINT fk_artifact_dispatch FOREIGN KEY (dispatch_id) REFERENCES job_dispatch (dispatch_id),
  CONSTRAINT ck_artifact_kind CHECK (kind IN ('SCRIPT', 'ENV_FILE', 'ARCHIVE', 'OTHER')),
  CONSTRAINT ck_artifact_size CHECK (size_bytes >= 0),
  CONSTRAINT ck_artifact_place CHECK (uri IS NOT NULL OR content IS NOT NULL)
) STRICT;
CREATE INDEX IF NOT EXISTS idx_artifact_target ON svc_artifact (target_id, created_at);
CREATE INDEX IF NOT EXISTS idx_artifact_deploy ON svc_artifact (deploy_id, created_at);

-- The event timeline of objects. Rows are only ever inserted.
CREATE TABLE IF NOT EXISTS svc_event (
  event_id            INTEGER PRIMARY KEY AUTOINCREMENT,
  object_uid          TEXT NOT NULL,
  object_kind         TEXT NOT NULL,
  object_namespace    TEXT NOT NULL DEFAULT '',
  object_name         TEXT NOT NULL,
  type                TEXT NOT NULL,
  reason              TEXT NOT NULL,
  message             TEXT NOT NULL,
  event_time          INTEGER NOT NULL,
  CONSTRAINT ck_event_type CHECK (type IN ('Normal', 'Warning'))
) STRICT;
CREATE INDEX IF NOT EXISTS idx_event_object ON svc_event (object_uid, event_id);
CREATE INDEX IF NOT EXISTS idx_event_namespace ON svc_event (object_namespace, event_time);

-- The controller lease: one row per store, held by one svcd at a time.
CREATE TABLE IF NOT EXISTS svcd_lease (
  lease_name          TEXT NOT NULL,
  holder              TEXT NOT NULL,
  acquired_time       INTEGER NOT NULL,
  renewed_time        INTEGER NOT NULL,
  lease_version       INTEGER NOT NULL,
  PRIMARY KEY (lease_name)
) STRICT;

-- Objects owned by each named apply set, for pruning.
CREATE TABLE IF NOT EXISTS apply_set_member (
  apply_set           TEXT NOT NULL,
  object_kind         TEXT NOT NULL,
  object_namespace    TEXT NOT NULL DEFAULT '',
  object_name         TEXT NOT NULL,
  object_uid          TEXT NOT NULL,
  added_time          INTEGER NOT NULL,
  PRIMARY KEY (apply_set, object_kind, object_namespace, object_name)
) STRICT;

CREATE INDEX IF NOT EXISTS idx_apply_set_uid ON apply_set_member (object_uid);