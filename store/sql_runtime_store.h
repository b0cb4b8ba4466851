// SqlRuntimeStore: the RuntimeStore over SOCI, shared by SQLite and
// MySQL/MariaDB, on the same Database as the SqlStore.
//
// Locking on MySQL: writes take row locks in one order, so no two of them
// wait for each other in a cycle (the test ConcurrentWritersNeverDeadlock
// runs them side by side on MariaDB). A write about one dispatch (a report,
// MarkDispatch) locks the dispatch row, then its target row by primary key.
// Every other write locks target rows by deploy and name (the unique index,
// then the primary key), several of them in rank order, and never locks an
// existing dispatch row afterwards. The dispatch rows read after a target
// lock include every dispatch committed before it, because those are the
// transaction's first plain reads and InnoDB takes its snapshot at the
// first plain read. SQLite's BEGIN IMMEDIATE serializes every write
// transaction anyway.

#ifndef SVCD_STORE_SQL_RUNTIME_STORE_H_
#define SVCD_STORE_SQL_RUNTIME_STORE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "store/database.h"
#include "store/object_rows.h"
#include "store/runtime_store.h"

namespace soci {
class session;
}

namespace svcd::store {

class SqlRuntimeStore : public RuntimeStore {
 public:
  // The maximum length of a stored log line in bytes; longer lines become
  // several.
  static constexpr size_t kMaxLogLineBytes = 64 * 1024;
  // The maximum bytes of one AppendLog call, the REST layer's default body
  // limit. NOTE: 1 MiB of bare newlines is a million lines in one
  // transaction, measured at 14 s on SQLite and 31 s on MariaDB 10.11 (a
  // 2-core VM), and other writers wait meanwhile.
  static constexpr size_t kMaxLogChunkBytes = 1024 * 1024;
  // The maximum `limit` of ReadLogs and RecentProbeEvents.
  static constexpr int kMaxReadLimit = 10000;

  // Uses `database`, which must outlive this object and be migrated.
  // `now_ms` is the clock; the system clock when empty.
  SqlRuntimeStore(Database& database, std::function<int64_t()> now_ms);

  Status SyncTargets(const std::string& deploy_uid, const std::vector<TargetPlan>& plans,
                     const std::string& user) override;
  StatusOr<std::vector<TargetRecord>> ListTargets(const std::string& deploy_uid) override;
  StatusOr<DispatchRecord> BeginAttempt(const std::string& deploy_uid, const std::string& target,
                                        const std::string& executor, const std::string& secret_hash,
                                        int attempts) override;
  StatusOr<int64_t> BumpLease(const std::string& deploy_uid, const std::string& target) override;
  Status UpdateTarget(const std::string& deploy_uid, const std::string& target, int64_t lease,
                      const TargetUpdate& update, const std::string& user) override;
  StatusOr<DispatchRecord> GetDispatch(const std::string& dispatch_id) override;
  Status MarkDispatch(const std::string& dispatch_id, const std::string& status,
                      const std::string& error) override;
  Status RecordPowerJobInstance(const std::string& dispatch_id, int64_t instance_id) override;
  Status RecordPowerJobJob(const std::string& app, const std::string& worker_address,
                           const std::string& kind, int64_t job_id) override;
  StatusOr<std::optional<int64_t>> LookupPowerJobJob(const std::string& app,
                                                     const std::string& worker_address,
                                                     const std::string& kind) override;
  Status RecordStarted(const std::string& dispatch_id, int64_t lease, int64_t pid,
                       int64_t start_ms) override;
  Status RecordHeartbeat(const std::string& dispatch_id, int64_t lease,
                         const std::vector<int>& ports, double cpu_percent,
                         int64_t mem_bytes) override;
  Status RecordExit(const std::string& dispatch_id, int64_t lease, int exit_code) override;
  Status AppendLog(const std::string& dispatch_id, int64_t lease, int64_t offset,
                   const std::string& bytes) override;
  Status AppendAgentLog(const std::string& deploy_uid, const std::string& target,
                        const std::string& line) override;
  StatusOr<std::vector<LogLine>> ReadLogs(const std::string& deploy_uid, const std::string& target,
                                          int64_t after_seq, int attempt, int limit) override;
  Status AppendProbeEvent(const std::string& deploy_uid, const std::string& target,
                          const ProbeEventRecord& event, int keep) override;
  StatusOr<std::vector<ProbeEventRecord>> RecentProbeEvents(const std::string& deploy_uid,
                                                            int limit) override;
  StatusOr<std::vector<LogLine>> ReadLogsFiltered(const std::string& deploy_uid,
                                                  const LogFilter& filter, int limit) override;
  StatusOr<DeployHistory> ReadDeployHistory(const std::string& deploy_uid) override;
  StatusOr<std::vector<ArtifactRecord>> ListArtifacts(const std::string& deploy_uid) override;
  Status RecordArchive(const ArchiveRecord& archive, const std::vector<ArtifactRecord>& artifacts,
                       const std::string& user) override;
  StatusOr<std::vector<ArchiveRecord>> ListArchives(const std::string& deploy_uid) override;
  StatusOr<ArchiveRecord> GetArchive(const std::string& archive_id) override;
  StatusOr<std::vector<LogUsage>> ReadLogUsage(const std::string& deploy_uid) override;
  StatusOr<std::vector<std::string>> ListDeploysOverRetention(
      const LogRetention& retention) override;
  StatusOr<int64_t> PruneArchivedLogs(const std::string& deploy_uid, const LogRetention& retention,
                                      const std::string& user) override;

 private:
  // A target row as read, locked, inside a write transaction.
  struct TargetRow {
    std::string target_id;
    std::string deploy_id;
    std::string name;
    std::string state;
    std::string stage;
    std::string message;
    int64_t lease_version = 0;
    int64_t next_log_seq = 1;
    int attempts = 0;
    bool live = true;  // data_status ACTIVE
  };

  // A dispatch row and its target row, both locked.
  struct LockedDispatch {
    std::string dispatch_id;
    int attempt = 0;
    std::string status;
    bool ended = false;  // end_time is set
    int64_t log_bytes = 0;
    std::string log_partial;
    int64_t lease_version = 0;  // the lease the dispatch was created with
    TargetRow target;
  };

  // One line to insert into log_event.
  struct NewLine {
    std::string source;  // SERVICE or AGENT
    std::string level;   // INFO or WARN
    std::string content;
  };

  // Targets (sql_runtime_store.cc).
  // Locks and returns the target row `name` of a deploy, live or deleted;
  // nullopt when there is none.
  std::optional<TargetRow> LockTarget(soci::session& session, const std::string& deploy_uid,
                                      const std::string& name);
  // Locks and returns the target row with `target_id`.
  std::optional<TargetRow> LockTargetById(soci::session& session, const std::string& target_id);
  // Locks and returns the target row matching `condition`, whose
  // placeholders take `values` in order.
  std::optional<TargetRow> SelectTarget(soci::session& session, const std::string& condition,
                                        const std::vector<std::string>& values);
  // The same, but NotFound when the target does not exist or was removed.
  StatusOr<TargetRow> LockLiveTarget(soci::session& session, const std::string& deploy_uid,
                                     const std::string& name);
  // Locks the deploy's existing target rows, live or deleted, and those
  // that `plans` names, in rank order. Returns the rows found, by name.
  std::map<std::string, TargetRow> LockDeployTargets(soci::session& session,
                                                     const std::string& deploy_uid,
                                                     const std::vector<TargetPlan>& plans);
  void SyncOne(soci::session& session, const std::string& deploy_uid, const TargetPlan& plan,
               const std::optional<TargetRow>& existing, const std::string& user);
  void AuditTarget(soci::session& session, const std::string& operation, const TargetRow& row,
                   const SqlValue& changed, const SqlValue& old_data, const SqlValue& new_data,
                   const std::string& user);
  // Returns the attempt of the target's latest dispatch, 0 before the first.
  int LatestAttempt(soci::session& session, const std::string& target_id);

  // Reports (sql_runtime_reports.cc).
  // Locks a dispatch row, then its target row. NotFound for an unknown id.
  StatusOr<LockedDispatch> LockDispatch(soci::session& session, const std::string& dispatch_id);
  // Aborted unless `dispatch` is its target's latest and `lease` current.
  // With `stopped_ok`, a dispatch whose target's lease was raised by a stop
  // (BumpLease) but that no newer attempt replaced still passes, so the
  // output it writes while it is being stopped is kept.
  Status CheckFence(soci::session& session, const LockedDispatch& dispatch, int64_t lease,
                    bool stopped_ok = false);
  Status RunFenced(const std::string& context, const std::string& dispatch_id, int64_t lease,
                   const std::function<Status(soci::session&, LockedDispatch&)>& work,
                   bool stopped_ok = false);

  // Logs (sql_runtime_logs.cc).
  // Inserts `lines` with the target's next seqs and advances next_log_seq.
  void InsertLines(soci::session& session, TargetRow& target, int attempt,
                   const std::vector<NewLine>& lines);
  // SQLite: one prepared statement run per line, which SQLite runs fast
  // in-process. MySQL: multi-row statements, which save round trips.
  void InsertLinesPrepared(soci::session& session, TargetRow& target, int attempt,
                           const std::vector<NewLine>& lines);
  void InsertLinesBatched(soci::session& session, TargetRow& target, int attempt,
                          const std::vector<NewLine>& lines);
  void StoreOutput(soci::session& session, LockedDispatch& dispatch, int64_t offset,
                   const std::string& bytes, bool flush);

  int64_t NowMs() const { return now_ms_(); }
  const char* LockingRead() const;

  Database& database_;
  std::function<int64_t()> now_ms_;
};

}  // namespace svcd::store

#endif  // SVCD_STORE_SQL_RUNTIME_STORE_H_
