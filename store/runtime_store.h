// RuntimeStore: what the reconcile loop records about running targets:
// target rows with their fencing tokens, one dispatch row per attempt, the
// launcher's reports (process monitor rows), log lines with per-target
// sequence numbers, and probe results.
//
// Fencing: every target row has a lease_version. BeginAttempt and
// BumpLease raise it; a report or update that carries an older lease, or
// that comes from a dispatch other than the target's latest, is rejected
// with Aborted, so a superseded launcher learns to stop and never changes
// the state of its successor.
//
// Thread-safety: every method may be called from several threads at once.
// Errors common to every call: Unavailable when the database cannot be
// reached, Internal for anything unexpected. A failed call writes nothing.

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
  std::string target;
  bool passed = false;
  int64_t latency_ms = 0;
  std::string message;
  int64_t time_ms = 0;
};

class RuntimeStore {
 public:
  virtual ~RuntimeStore() = default;

  // Creates the target rows that `plans` names and that do not exist yet
  // (state PENDING, lease 0); for existing rows, records host, generation,
  // hash and rendered script. When `generation` moves, attempts restarts at
  // 0. Rows of targets that `plans` no longer names (fewer workers) are
  // marked deleted. NotFound when the deploy does not exist.
  virtual Status SyncTargets(const std::string& deploy_uid, const std::vector<TargetPlan>& plans,
                             const std::string& user) = 0;

  // Returns the live target rows of a deploy ordered by rank.
  virtual StatusOr<std::vector<TargetRecord>> ListTargets(const std::string& deploy_uid) = 0;

  // Starts a new attempt of a target, in one transaction: raises
  // lease_version, inserts a dispatch row (status QUEUED, attempt = the
  // target's dispatch count + 1), sets the target DISPATCHING / START_PROCESS
  // and its attempts to `attempts`. Returns the new dispatch row.
  virtual StatusOr<DispatchRecord> BeginAttempt(const std::string& deploy_uid,
                                                const std::string& target,
                                                const std::string& executor,
                                                const std::string& secret_hash, int attempts) = 0;

  // Raises the target's lease_version without a new dispatch (a stop), so
  // reports of the current attempt are rejected from now on. Returns the new lease.
  virtual StatusOr<int64_t> BumpLease(const std::string& deploy_uid, const std::string& target) = 0;

  // Changes a target row when `lease` is its current lease_version;
  // Aborted otherwise. Writes an audit row when the state changes.
  virtual Status UpdateTarget(const std::string& deploy_uid, const std::string& target,
                              int64_t lease, const TargetUpdate& update,
                              const std::string& user) = 0;

  // Returns one dispatch row (with its process monitor fields); NotFound.
  virtual StatusOr<DispatchRecord> GetDispatch(const std::string& dispatch_id) = 0;

  // Sets a dispatch's status (and error text, end time for final states)
  // whatever the lease: the controller uses it for timeouts and losses.
  virtual Status MarkDispatch(const std::string& dispatch_id, const std::string& status,
                              const std::string& error) = 0;

  // Records the PowerJob instance that runs a dispatch, as returned when the
  // job was submitted. Not fenced. NotFound for an unknown dispatch.
  virtual Status RecordPowerJobInstance(const std::string& dispatch_id, int64_t instance_id) = 0;

  // Launcher reports. Each checks that `dispatch_id` is its target's latest
  // dispatch and `lease` the target's lease_version (Aborted otherwise;
  // NotFound for an unknown dispatch), then records: Started sets pid and
  // start time and the dispatch STARTED; Heartbeat updates ports, CPU,
  // memory and heartbeat time; Exit records the exit code and end time and
  // the dispatch SUCCEEDED (code 0) or FAILED. Repeats are harmless.
  virtual Status RecordStarted(const std::string& dispatch_id, int64_t lease, int64_t pid,
                               int64_t start_ms) = 0;
  virtual Status RecordHeartbeat(const std::string& dispatch_id, int64_t lease,
                                 const std::vector<int>& ports, double cpu_percent,
                                 int64_t mem_bytes) = 0;
  virtual Status RecordExit(const std::string& dispatch_id, int64_t lease, int exit_code) = 0;

  // Stores the bytes of output.log from `offset` as log lines of the
  // dispatch's target (source SERVICE), each with the next per-target seq
  // and the dispatch's attempt. Bytes before the dispatch's stored end are a
  // resend and are dropped; a gap is recorded as one AGENT line saying how
  // many bytes were lost. A trailing partial line is kept until its newline
  // arrives (or the dispatch exits). Fenced like the reports.
  virtual Status AppendLog(const std::string& dispatch_id, int64_t lease, int64_t offset,
                           const std::string& bytes) = 0;

  // Stores one line of svcd's own about a target (source AGENT), such as
  // "dispatched attempt 3" or "probe failed: ...". Not fenced.
  virtual Status AppendAgentLog(const std::string& deploy_uid, const std::string& target,
                                const std::string& line) = 0;

  // Returns up to `limit` lines of one target (all targets when `target` is
  // empty) with seq > `after_seq`, ordered by target then seq. `attempt` 0
  // means every attempt.
  virtual StatusOr<std::vector<LogLine>> ReadLogs(const std::string& deploy_uid,
                                                  const std::string& target, int64_t after_seq,
                                                  int attempt, int limit) = 0;

  // Stores one probe result of a target and keeps at most `keep` results
  // per target, dropping the oldest.
  virtual Status AppendProbeEvent(const std::string& deploy_uid, const std::string& target,
                                  const ProbeEventRecord& event, int keep) = 0;
  // Returns the newest `limit` probe results of a deploy, newest first.
  virtual StatusOr<std::vector<ProbeEventRecord>> RecentProbeEvents(const std::string& deploy_uid,
                                                                    int limit) = 0;
};

// Creates the SQL implementation over an open database (the one the Store
// uses; migrations must have run). `now_ms` is the clock; default the
// system clock.
std::unique_ptr<RuntimeStore> NewSqlRuntimeStore(Database& database,
                                                 std::function<int64_t()> now_ms = {});

}  // namespace svcd::store

#endif  // SVCD_STORE_RUNTIME_STORE_H_
