// RuntimeStore: what the reconcile loop records about running targets:
// target rows with their fencing tokens, one dispatch row per attempt, the
// launcher's reports (process monitor rows), log lines with per-target
// sequence numbers, and probe results.
//
// Fencing: every target row has a lease_version, which BeginAttempt and
// BumpLease raise and nothing lowers. A report or update that carries an
// older lease, or that comes from a dispatch other than the target's
// latest, is rejected with Aborted. A superseded launcher thus learns to
// stop and never changes the state of its successor.
//
// Input limits: a log line is stored as at most 64 KiB of valid UTF-8
// (invalid bytes and NUL become U+FFFD, longer lines become several);
// messages and error texts are cut to 500 bytes at a character boundary.
//
// Thread-safety: every method may be called from several threads at once.
// Errors common to every call: InvalidArgument naming the invalid field,
// Unavailable when the database cannot be reached, Internal for anything
// unexpected. A failed call writes nothing.

#ifndef SVCD_STORE_RUNTIME_STORE_H_
#define SVCD_STORE_RUNTIME_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/status.h"
#include "store/database.h"

namespace svcd::store {

// The desired shape of one target of a deploy generation.
struct TargetPlan {
  std::string name;  // master, worker-0, ...
  std::string role;  // master | worker
  int rank = 0;      // master 0, worker-i is i+1
  std::string host;  // Host name
  int64_t generation = 0;
  std::string command_hash;  // sha256:... of the rendered script
  std::string env_rendered;  // the export lines of the script
  std::string cmd_rendered;  // the whole rendered script
};

struct TargetRecord {
  std::string target_id;
  std::string deploy_uid;
  std::string name;
  std::string role;
  int rank = 0;
  std::string host;
  int64_t generation = 0;
  std::string command_hash;
  std::string cmd_rendered;
  std::string state = "PENDING";  // PENDING DISPATCHING RUNNING READY FAILED CANCELLED TIMEOUT
  std::string stage = "PREPARE";  // PREPARE RENDER_ENV RENDER_CMD START_PROCESS HEALTH_CHECK READY
  int64_t lease_version = 0;
  int attempts = 0;  // dispatches in this generation minus one, never below 0
  std::string message;
  std::string latest_dispatch_id;  // empty before the first dispatch
};

struct DispatchRecord {
  std::string dispatch_id;
  std::string target_id;
  std::string deploy_uid;
  std::string target_name;
  int attempt = 0;  // counts the target's dispatches from 1, never resets
  int64_t lease_version = 0;
  std::string executor;     // local | powerjob
  std::string secret_hash;  // SHA-256 hex of the launcher's secret
  std::string status;       // QUEUED SENT STARTED SUCCEEDED FAILED LOST
  int64_t submit_ms = 0;
  std::optional<int64_t> start_ms;  // first report of the process
  std::optional<int64_t> end_ms;
  std::optional<int> exit_code;
  std::optional<int64_t> pid;
  std::vector<int> ports;  // from the latest heartbeat
  std::optional<int64_t> last_heartbeat_ms;
  std::optional<int64_t> powerjob_instance_id;
  std::string error;
  int64_t log_bytes = 0;  // bytes of output.log stored so far
};

// Fields UpdateTarget may change; unset ones are kept.
struct TargetUpdate {
  std::optional<std::string> state;
  std::optional<std::string> stage;
  std::optional<std::string> message;
  std::optional<int> attempts;
};

struct LogLine {
  int64_t seq = 0;
  int attempt = 0;
  std::string target;
  std::string source;  // SERVICE for the process's output, AGENT for svcd's own lines
  std::string content;
  int64_t time_ms = 0;
};

struct ProbeEventRecord {
  std::string target;  // set by RecentProbeEvents; AppendProbeEvent takes it as a parameter
  bool passed = false;
  int64_t latency_ms = 0;
  std::string message;
  int64_t time_ms = 0;  // when the probe ran; 0 in AppendProbeEvent means the store's clock
};

// The conditions of ReadLogsFiltered.
struct LogFilter {
  std::string target;     // empty: every target of the deploy, removed ones included
  int64_t after_seq = 0;  // only lines with seq > after_seq
  int attempt = 0;        // 0: every attempt
  int64_t since_ms = 0;   // only lines stored at or after this time; 0: any time
  // -1: every line; N >= 0: only each target's newest N lines among those
  // the other conditions select.
  int64_t tail = -1;
};

// One target row of a deploy as an archive packs it, live or removed.
struct TargetHistory {
  std::string target_id;
  std::string name;
  std::string role;
  int rank = 0;
  std::string host;
  int64_t generation = 0;
  std::string command_hash;
  std::string env_rendered;        // the export lines of the latest rendered script
  std::string cmd_rendered;        // the latest rendered script
  bool live = true;                // false once a plan no longer names the target
  std::string latest_dispatch_id;  // empty before the first dispatch
};

// A deploy's identity, kept after deletion, and its target rows by rank.
struct DeployHistory {
  std::string deploy_uid;
  std::string namespace_;
  std::string name;
  bool deleted = false;
  std::vector<TargetHistory> targets;
};

// One svc_artifact row: a rendered script, an env file or an archive.
struct ArtifactRecord {
  std::string artifact_id;  // assigned by RecordArchive
  std::string target;       // target name; empty for a file of the whole deploy
  std::string dispatch_id;  // the dispatch the file belongs to; empty for none
  std::string kind;         // SCRIPT ENV_FILE ARCHIVE OTHER
  std::string uri;          // where the bytes are; empty when `content` holds them
  std::string content;      // the bytes themselves; empty when `uri` names them
  std::string checksum;     // "sha256:<hex>" or "md5:<hex>"
  int64_t size_bytes = 0;
  int64_t created_ms = 0;  // assigned by RecordArchive from the store's clock
};

// The log lines of one target that an archive holds.
struct ArchiveCoverage {
  std::string target;  // target name
  int64_t first_seq = 0;
  int64_t last_seq = 0;
  int64_t lines = 0;
};

// One log_archive row with the targets it covers.
struct ArchiveRecord {
  std::string archive_id;  // a UUID chosen by the caller
  std::string deploy_uid;
  std::string storage_url;  // file:///ABSOLUTE/PATH of the .tar.gz
  int64_t bytes = 0;
  std::string md5;                       // 32 lowercase hex digits of the file's MD5
  int64_t created_ms = 0;                // assigned by RecordArchive from the store's clock
  std::string reason;                    // why it was made, at most 500 bytes
  std::vector<ArchiveCoverage> targets;  // ordered by target rank
};

// How many log rows one target keeps, and how far archives cover them.
struct LogUsage {
  std::string deploy_uid;
  std::string target;
  int64_t lines = 0;
  int64_t bytes = 0;         // bytes of content, without line ends
  int64_t first_seq = 0;     // 0 when the target has no rows
  int64_t last_seq = 0;      // 0 when the target has no rows
  int64_t archived_seq = 0;  // the highest seq any archive covers; 0 for none
};

// The bound of stored log rows per target. Rows past either limit are
// deleted once an archive covers them.
struct LogRetention {
  int64_t max_lines = 100000;
  int64_t max_bytes = 64LL * 1024 * 1024;
};

class RuntimeStore {
 public:
  virtual ~RuntimeStore() = default;

  // Makes the deploy's live targets those of `plans` (master and workers of
  // one generation), in one transaction. A missing target is created as
  // PENDING / PREPARE with lease 0. An existing one gets the plan's host,
  // generation, hash and rendered env and script, and its attempts restart
  // at 0 when the generation moves. Targets that `plans` no longer names
  // (fewer workers) are marked deleted: they leave ListTargets and their
  // reports are rejected, but their logs stay readable. A deleted target
  // that a later plan names again comes back as PENDING with attempts 0,
  // keeping its lease and log sequence. Writes an audit row per created,
  // deleted or restored target. InvalidArgument (field "plans[i].name" and
  // the like) when a plan's name, role and rank disagree, a rank repeats,
  // the host is empty or longer than 63 characters, or the generation is
  // below 1; NotFound when the deploy does not exist or was deleted.
  virtual Status SyncTargets(const std::string& deploy_uid, const std::vector<TargetPlan>& plans,
                             const std::string& user) = 0;

  // Returns the live target rows of a deploy ordered by rank; empty for an
  // unknown deploy.
  virtual StatusOr<std::vector<TargetRecord>> ListTargets(const std::string& deploy_uid) = 0;

  // Starts a new attempt of a target, in one transaction: raises
  // lease_version, inserts a dispatch row (status QUEUED, attempt = the
  // target's dispatch count + 1, lease = the new lease) and its process
  // row, and sets the target DISPATCHING / START_PROCESS with `attempts`.
  // Writes no audit row, because the dispatch row is the record. Returns
  // the new dispatch row. InvalidArgument for an executor other than local
  // or powerjob, a secret_hash that is not 64 lowercase hex digits, or
  // negative attempts; NotFound for an unknown or deleted target.
  virtual StatusOr<DispatchRecord> BeginAttempt(const std::string& deploy_uid,
                                                const std::string& target,
                                                const std::string& executor,
                                                const std::string& secret_hash, int attempts) = 0;

  // Raises the target's lease_version without a new dispatch (a stop), so
  // reports of the current attempt are rejected from now on. Works on
  // deleted targets too, to stop what they run. Returns the new lease;
  // NotFound when the target never existed.
  virtual StatusOr<int64_t> BumpLease(const std::string& deploy_uid, const std::string& target) = 0;

  // Changes a live target row when `lease` is its current lease_version.
  // Writes an audit row (operator `user`) when the state changes. Aborted
  // for another lease; NotFound for an unknown or deleted target;
  // InvalidArgument for an unknown state or stage or negative attempts.
  virtual Status UpdateTarget(const std::string& deploy_uid, const std::string& target,
                              int64_t lease, const TargetUpdate& update,
                              const std::string& user) = 0;

  // Returns one dispatch row with its process fields (pid, ports, last
  // heartbeat). NotFound for an unknown dispatch.
  virtual StatusOr<DispatchRecord> GetDispatch(const std::string& dispatch_id) = 0;

  // Sets a dispatch's status whatever the lease: the controller uses it for
  // timeouts and losses. A non-empty `error` replaces the error text. A
  // final status (SUCCEEDED, FAILED, LOST) sets the end time unless one is
  // set and stores the buffered partial log line. NotFound for an unknown
  // dispatch; InvalidArgument for an unknown status.
  virtual Status MarkDispatch(const std::string& dispatch_id, const std::string& status,
                              const std::string& error) = 0;

  // Records the PowerJob instance that runs a dispatch, as returned when the
  // job was submitted. Not fenced. NotFound for an unknown dispatch;
  // InvalidArgument for an id below 1.
  virtual Status RecordPowerJobInstance(const std::string& dispatch_id, int64_t instance_id) = 0;

  // Records the PowerJob job that runs `kind` ("attempt" or "stop") scripts
  // on `worker_address` for application `app`, replacing an earlier one.
  // InvalidArgument for an empty app or worker, another kind, or an id
  // below 1.
  virtual Status RecordPowerJobJob(const std::string& app, const std::string& worker_address,
                                   const std::string& kind, int64_t job_id) = 0;
  // Returns the job RecordPowerJobJob recorded, or std::nullopt.
  virtual StatusOr<std::optional<int64_t>> LookupPowerJobJob(const std::string& app,
                                                             const std::string& worker_address,
                                                             const std::string& kind) = 0;

  // Launcher reports. Each first checks, in the transaction that writes,
  // that the target is live, that `dispatch_id` is its latest dispatch and
  // that `lease` is both the dispatch's lease and the target's current one
  // (Aborted otherwise; NotFound for an unknown dispatch). Then:
  // - RecordStarted sets pid and, unless set, the start time, and moves a
  //   QUEUED or SENT dispatch to STARTED. It never moves a finished
  //   dispatch back. InvalidArgument for pid < 1 or start_ms < 0.
  // - RecordHeartbeat stores ports, CPU, memory and the heartbeat time (the
  //   store's clock). InvalidArgument for a port outside 1..65535 or a
  //   negative or non-finite value. NOTE: CPU above 999.99 % and memory
  //   above about 95 TiB are stored as those maximums (MySQL column ranges).
  // - RecordExit records the exit code and, unless set, the end time, sets
  //   the dispatch SUCCEEDED (code 0) or FAILED and stores the buffered
  //   partial log line.
  // Repeats are harmless.
  virtual Status RecordStarted(const std::string& dispatch_id, int64_t lease, int64_t pid,
                               int64_t start_ms) = 0;
  virtual Status RecordHeartbeat(const std::string& dispatch_id, int64_t lease,
                                 const std::vector<int>& ports, double cpu_percent,
                                 int64_t mem_bytes) = 0;
  virtual Status RecordExit(const std::string& dispatch_id, int64_t lease, int exit_code) = 0;

  // Stores the bytes of output.log from `offset` as log lines of the
  // dispatch's target (source SERVICE), each with the next per-target seq
  // and the dispatch's attempt. Lines end at '\n'; a '\r' before it is
  // dropped. Bytes before the dispatch's stored end (log_bytes) are a
  // resend and are dropped. When `offset` is past the stored end, the
  // buffered partial line is stored as it is, followed by one AGENT line
  // that gives the lost byte range. A trailing partial line is kept until
  // its newline arrives or the dispatch ends; after the exit report it is
  // stored at once. Fenced like the reports, except that a stop of the
  // target (BumpLease) does not reject it while no newer attempt exists, so
  // the output an attempt writes while it is stopped is kept.
  // InvalidArgument for a negative offset; ResourceExhausted for more than
  // 1 MiB of bytes.
  virtual Status AppendLog(const std::string& dispatch_id, int64_t lease, int64_t offset,
                           const std::string& bytes) = 0;

  // Stores svcd's own text about a target (source AGENT), such as
  // "dispatched attempt 3" or "probe failed: ...", one line per '\n'. The
  // lines carry the attempt of the target's latest dispatch, or 1 before
  // the first. Not fenced, and deleted targets take lines too. NotFound for
  // an unknown target; InvalidArgument for empty text.
  virtual Status AppendAgentLog(const std::string& deploy_uid, const std::string& target,
                                const std::string& line) = 0;

  // Returns up to `limit` lines of one target (all targets of the deploy,
  // deleted ones included, when `target` is empty) with seq > `after_seq`,
  // ordered by target rank, then seq. `attempt` 0 means every attempt.
  // NotFound for an unknown named target; InvalidArgument for a limit
  // outside 1..10000 or a negative after_seq or attempt.
  virtual StatusOr<std::vector<LogLine>> ReadLogs(const std::string& deploy_uid,
                                                  const std::string& target, int64_t after_seq,
                                                  int attempt, int limit) = 0;

  // Stores one probe result of a live target and keeps its `keep` newest
  // results by time, dropping older ones. NotFound for an unknown or
  // deleted target; InvalidArgument for keep < 1 or a negative latency or time.
  virtual Status AppendProbeEvent(const std::string& deploy_uid, const std::string& target,
                                  const ProbeEventRecord& event, int keep) = 0;

  // Returns the newest `limit` probe results of a deploy's live targets,
  // newest first. InvalidArgument for a limit outside 1..10000.
  virtual StatusOr<std::vector<ProbeEventRecord>> RecentProbeEvents(const std::string& deploy_uid,
                                                                    int limit) = 0;

  // Log reading with a time filter, archives and retention.

  // Returns up to `limit` lines like ReadLogs, restricted further to lines
  // stored at or after `filter.since_ms` and, with `filter.tail`, to each
  // target's newest lines. NotFound for an unknown named target;
  // InvalidArgument (field "filter.since_ms" and the like) for a negative
  // after_seq, attempt or since_ms, a tail below -1, or a limit outside
  // 1..10000.
  virtual StatusOr<std::vector<LogLine>> ReadLogsFiltered(const std::string& deploy_uid,
                                                          const LogFilter& filter, int limit) = 0;

  // Returns the deploy's namespace and name and every target row it ever
  // had, live or removed, by rank. Works after the deploy is deleted.
  // NotFound for an unknown uid.
  virtual StatusOr<DeployHistory> ReadDeployHistory(const std::string& deploy_uid) = 0;

  // Returns the deploy's artifact rows, oldest first, with their content.
  virtual StatusOr<std::vector<ArtifactRecord>> ListArtifacts(const std::string& deploy_uid) = 0;

  // Records a finished archive file in one transaction: its log_archive
  // row, one coverage row per entry of `archive.targets`, the `artifacts`
  // rows and an audit row (operation ARCHIVE, operator `user`). Sets the
  // created times from the store's clock. InvalidArgument (field
  // "archive.md5", "artifacts[2].kind" and the like) for an id that is not
  // a UUID, an empty or relative storage URL, negative bytes, an MD5 that
  // is not 32 lowercase hex digits, a reason over 500 bytes, a coverage
  // range that is empty or starts below 1, an unknown artifact kind, a
  // checksum over 80 characters, or an artifact with neither uri nor
  // content; NotFound for an unknown deploy, a target the deploy does not
  // have or a dispatch of another target; AlreadyExists for a repeated id.
  virtual Status RecordArchive(const ArchiveRecord& archive,
                               const std::vector<ArtifactRecord>& artifacts,
                               const std::string& user) = 0;

  // Returns the deploy's archives, newest first; empty for an unknown uid.
  virtual StatusOr<std::vector<ArchiveRecord>> ListArchives(const std::string& deploy_uid) = 0;

  // Returns one archive. NotFound for an unknown id.
  virtual StatusOr<ArchiveRecord> GetArchive(const std::string& archive_id) = 0;

  // Returns the log usage of every target row of the deploy, live or
  // removed, by rank; empty for an unknown uid.
  virtual StatusOr<std::vector<LogUsage>> ReadLogUsage(const std::string& deploy_uid) = 0;

  // Returns the uids of the deploys, deleted ones included, that have a
  // target with more log rows or bytes than `retention` allows, in no
  // particular order. NOTE: counts every log_event row, a full scan.
  virtual StatusOr<std::vector<std::string>> ListDeploysOverRetention(
      const LogRetention& retention) = 0;

  // Deletes, per target of the deploy, the log rows past the newest
  // `retention.max_lines` lines or past the newest `retention.max_bytes`
  // bytes, but only rows whose seq an archive covers; newer rows stay
  // whatever the bound. Writes an audit row per target pruned. Returns the
  // number of rows deleted. InvalidArgument for a limit below 1.
  virtual StatusOr<int64_t> PruneArchivedLogs(const std::string& deploy_uid,
                                              const LogRetention& retention,
                                              const std::string& user) = 0;
};

// Creates the SQL implementation over an open database (the one the Store
// uses, which must outlive it and be migrated). `now_ms` is the clock in
// milliseconds since the Unix epoch; empty means the system clock.
std::unique_ptr<RuntimeStore> NewSqlRuntimeStore(Database& database,
                                                 std::function<int64_t()> now_ms = {});

}  // namespace svcd::store

#endif  // SVCD_STORE_RUNTIME_STORE_H_
