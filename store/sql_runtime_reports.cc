// SqlRuntimeStore: dispatch rows and the launcher's fenced reports.

#include <soci/soci.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "store/log_text.h"
#include "store/sql_runtime_store.h"
#include "store/sql_util.h"

namespace svcd::store {
namespace {

// job_dispatch.error_msg is VARCHAR(500).
constexpr size_t kMaxErrorBytes = 500;
// proc_monitor.cpu_pct is DECIMAL(5,2) and mem_mb DECIMAL(10,2) on MySQL.
constexpr double kMaxCpuPercent = 999.99;
constexpr double kMaxMemMb = 99999999.99;

bool IsFinalStatus(const std::string& status) {
  return status == "SUCCEEDED" || status == "FAILED" || status == "LOST";
}

Status FieldError(const std::string& field, const std::string& message) {
  Cause cause;
  cause.field = field;
  cause.message = message;
  return Status::InvalidArgument(field + ": " + message, {cause});
}

std::optional<int64_t> Optional(long long value, soci::indicator indicator) {
  if (indicator != soci::i_ok) return std::nullopt;
  return value;
}

// Parses proc_monitor.listen_ports, a JSON array of port numbers.
std::vector<int> ParsePorts(const std::string& json) {
  std::vector<int> ports;
  nlohmann::json parsed = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_array()) return ports;
  for (const nlohmann::json& port : parsed) {
    if (port.is_number_integer()) ports.push_back(port.get<int>());
  }
  return ports;
}

}  // namespace

StatusOr<SqlRuntimeStore::LockedDispatch> SqlRuntimeStore::LockDispatch(
    soci::session& session, const std::string& dispatch_id) {
  LockedDispatch dispatch;
  std::string target_id;
  long long lease = 0, log_bytes = 0, end_time = 0;
  soci::indicator end_indicator = soci::i_null;
  std::string bound = dispatch_id;
  session << std::string(
                 "SELECT target_id, attempt, lease_version, status, end_time, log_bytes, "
                 "COALESCE(log_partial, '') FROM job_dispatch WHERE dispatch_id = :d") +
                 LockingRead(),
      soci::into(target_id), soci::into(dispatch.attempt), soci::into(lease),
      soci::into(dispatch.status), soci::into(end_time, end_indicator), soci::into(log_bytes),
      soci::into(dispatch.log_partial), soci::use(bound);
  if (!session.got_data()) return Status::NotFound("dispatch " + dispatch_id + " not found");
  dispatch.dispatch_id = dispatch_id;
  dispatch.lease_version = lease;
  dispatch.log_bytes = log_bytes;
  dispatch.ended = end_indicator == soci::i_ok;

  std::optional<TargetRow> target = LockTargetById(session, target_id);
  if (!target.has_value()) {
    return Status::Internal("dispatch " + dispatch_id + " refers to a missing target " + target_id);
  }
  dispatch.target = std::move(*target);
  return dispatch;
}

Status SqlRuntimeStore::CheckFence(soci::session& session, const LockedDispatch& dispatch,
                                   int64_t lease, bool stopped_ok) {
  const TargetRow& target = dispatch.target;
  std::string subject = "dispatch " + dispatch.dispatch_id + " (attempt " +
                        std::to_string(dispatch.attempt) + " of target " + target.name + ")";
  if (!target.live) {
    return Status::Aborted(subject +
                           " is superseded: the target was removed from its deploy; "
                           "stop the process");
  }
  int latest = LatestAttempt(session, target.target_id);
  if (dispatch.attempt != latest) {
    return Status::Aborted(subject + " is superseded by attempt " + std::to_string(latest) +
                           "; stop the process");
  }
  const bool stopped = stopped_ok && lease < target.lease_version;
  if ((lease != target.lease_version && !stopped) || lease != dispatch.lease_version) {
    return Status::Aborted(subject + " is superseded: lease " + std::to_string(lease) +
                           " is stale, the target's lease is " +
                           std::to_string(target.lease_version) + "; stop the process");
  }
  return Status::Ok();
}

Status SqlRuntimeStore::RunFenced(
    const std::string& context, const std::string& dispatch_id, int64_t lease,
    const std::function<Status(soci::session&, LockedDispatch&)>& work, bool stopped_ok) {
  return database_.RunInTransaction(
      context + " of dispatch " + dispatch_id, [&](soci::session& session) -> Status {
        StatusOr<LockedDispatch> dispatch = LockDispatch(session, dispatch_id);
        if (!dispatch.ok()) return dispatch.status();
        Status fence = CheckFence(session, *dispatch, lease, stopped_ok);
        if (!fence.ok()) return fence;
        return work(session, *dispatch);
      });
}

StatusOr<DispatchRecord> SqlRuntimeStore::GetDispatch(const std::string& dispatch_id) {
  DispatchRecord record;
  Status status =
      database_.Run("reading dispatch " + dispatch_id, [&](soci::session& session) -> Status {
        record = DispatchRecord();
        long long lease = 0, submit = 0, start = 0, end = 0, pid = 0, heartbeat = 0, instance = 0;
        long long log_bytes = 0;
        int exit_code = 0;
        std::string ports;
        soci::indicator start_ind, end_ind, exit_ind, pid_ind, ports_ind, heartbeat_ind,
            instance_ind;
        std::string bound = dispatch_id;
        session << "SELECT d.dispatch_id, d.target_id, t.deploy_id, t.target_name, d.attempt, "
                   "d.lease_version, d.executor, d.secret_hash, d.status, d.submit_time, "
                   "d.start_time, d.end_time, d.exit_code, p.pid, p.listen_ports, "
                   "p.last_heartbeat, d.powerjob_instance_id, COALESCE(d.error_msg, ''), "
                   "d.log_bytes FROM job_dispatch d "
                   "JOIN svc_deploy_target t ON t.target_id = d.target_id "
                   "LEFT JOIN proc_monitor p ON p.proc_id = d.dispatch_id "
                   "WHERE d.dispatch_id = :d",
            soci::into(record.dispatch_id), soci::into(record.target_id),
            soci::into(record.deploy_uid), soci::into(record.target_name),
            soci::into(record.attempt), soci::into(lease), soci::into(record.executor),
            soci::into(record.secret_hash), soci::into(record.status), soci::into(submit),
            soci::into(start, start_ind), soci::into(end, end_ind), soci::into(exit_code, exit_ind),
            soci::into(pid, pid_ind), soci::into(ports, ports_ind),
            soci::into(heartbeat, heartbeat_ind), soci::into(instance, instance_ind),
            soci::into(record.error), soci::into(log_bytes), soci::use(bound);
        if (!session.got_data()) return Status::NotFound("dispatch " + dispatch_id + " not found");
        record.lease_version = lease;
        record.submit_ms = submit;
        record.start_ms = Optional(start, start_ind);
        record.end_ms = Optional(end, end_ind);
        if (exit_ind == soci::i_ok) record.exit_code = exit_code;
        record.pid = Optional(pid, pid_ind);
        if (ports_ind == soci::i_ok) record.ports = ParsePorts(ports);
        record.last_heartbeat_ms = Optional(heartbeat, heartbeat_ind);
        record.powerjob_instance_id = Optional(instance, instance_ind);
        record.log_bytes = log_bytes;
        return Status::Ok();
      });
  if (!status.ok()) return status;
  return record;
}

Status SqlRuntimeStore::MarkDispatch(const std::string& dispatch_id, const std::string& status,
                                     const std::string& error) {
  if (status != "QUEUED" && status != "SENT" && status != "STARTED" && !IsFinalStatus(status)) {
    return FieldError("status", "\"" + status +
                                    "\" is not a dispatch status; use QUEUED, SENT, STARTED, "
                                    "SUCCEEDED, FAILED or LOST");
  }
  std::string error_text(TruncateUtf8(ValidUtf8(error), kMaxErrorBytes));
  return database_.RunInTransaction(
      "marking dispatch " + dispatch_id + " " + status, [&](soci::session& session) -> Status {
        StatusOr<LockedDispatch> dispatch = LockDispatch(session, dispatch_id);
        if (!dispatch.ok()) return dispatch.status();
        bool final = IsFinalStatus(status);
        long long now = NowMs();
        Execute(session,
                "UPDATE job_dispatch SET status = :s, error_msg = COALESCE(:e, error_msg), "
                "end_time = CASE WHEN :f = 1 THEN COALESCE(end_time, :t) ELSE end_time END "
                "WHERE dispatch_id = :d",
                {status, error_text.empty() ? SqlValue() : SqlValue(error_text),
                 static_cast<long long>(final ? 1 : 0), now, dispatch_id});
        // A dispatch that ended writes no more output, so its partial line is complete.
        if (final) StoreOutput(session, *dispatch, dispatch->log_bytes, "", /*flush=*/true);
        return Status::Ok();
      });
}

Status SqlRuntimeStore::RecordPowerJobInstance(const std::string& dispatch_id,
                                               int64_t instance_id) {
  if (instance_id <= 0) return FieldError("instance_id", "must be a positive PowerJob instance id");
  return database_.RunInTransaction(
      "recording the PowerJob instance of dispatch " + dispatch_id,
      [&](soci::session& session) -> Status {
        long long affected = 0;
        Execute(session, "UPDATE job_dispatch SET powerjob_instance_id = :i WHERE dispatch_id = :d",
                {static_cast<long long>(instance_id), dispatch_id}, &affected);
        if (affected == 0) {
          // MySQL counts changed rows only, so a repeat also reports 0.
          long long count = 0;
          std::string bound = dispatch_id;
          session << "SELECT COUNT(*) FROM job_dispatch WHERE dispatch_id = :d", soci::into(count),
              soci::use(bound);
          if (count == 0) return Status::NotFound("dispatch " + dispatch_id + " not found");
        }
        return Status::Ok();
      });
}

namespace {

Status CheckJobKey(const std::string& app, const std::string& worker_address,
                   const std::string& kind) {
  if (app.empty() || app.size() > 255) return FieldError("app", "must be 1 to 255 bytes");
  if (worker_address.empty() || worker_address.size() > 255) {
    return FieldError("worker_address", "must be 1 to 255 bytes");
  }
  if (kind != "attempt" && kind != "stop") {
    return FieldError("kind", "\"" + kind + "\" is not attempt or stop");
  }
  return Status::Ok();
}

}  // namespace

Status SqlRuntimeStore::RecordPowerJobJob(const std::string& app, const std::string& worker_address,
                                          const std::string& kind, int64_t job_id) {
  if (Status valid = CheckJobKey(app, worker_address, kind); !valid.ok()) return valid;
  if (job_id <= 0) return FieldError("job_id", "must be a positive PowerJob job id");
  const long long now = NowMs();
  return database_.RunInTransaction(
      "recording PowerJob job " + std::to_string(job_id), [&](soci::session& session) -> Status {
        Execute(session,
                "DELETE FROM powerjob_job WHERE app_name = :a AND worker_address = :w AND "
                "job_kind = :k",
                {app, worker_address, kind});
        Execute(session,
                "INSERT INTO powerjob_job (app_name, worker_address, job_kind, job_id, "
                "create_time) VALUES (:a, :w, :k, :j, :t)",
                {app, worker_address, kind, static_cast<long long>(job_id), now});
        return Status::Ok();
      });
}

StatusOr<std::optional<int64_t>> SqlRuntimeStore::LookupPowerJobJob(
    const std::string& app, const std::string& worker_address, const std::string& kind) {
  if (Status valid = CheckJobKey(app, worker_address, kind); !valid.ok()) return valid;
  std::optional<int64_t> found;
  Status status = database_.Run("reading a PowerJob job", [&](soci::session& session) {
    long long id = 0;
    soci::indicator indicator = soci::i_null;
    std::string a = app, w = worker_address, k = kind;
    session << "SELECT job_id FROM powerjob_job WHERE app_name = :a AND worker_address = :w AND "
               "job_kind = :k",
        soci::into(id, indicator), soci::use(a), soci::use(w), soci::use(k);
    found.reset();
    if (session.got_data() && indicator == soci::i_ok) found = id;
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return found;
}

Status SqlRuntimeStore::RecordStarted(const std::string& dispatch_id, int64_t lease, int64_t pid,
                                      int64_t start_ms) {
  if (pid <= 0) return FieldError("pid", "must be a positive process id");
  if (start_ms < 0) return FieldError("start_ms", "must not be negative");
  return RunFenced("recording the start", dispatch_id, lease,
                   [&](soci::session& session, LockedDispatch& dispatch) -> Status {
                     // A late or repeated start report never moves a finished
                     // dispatch back, and the first start time stays.
                     Execute(session,
                             "UPDATE job_dispatch SET status = CASE WHEN status IN ('QUEUED', "
                             "'SENT') THEN 'STARTED' ELSE status END, start_time = "
                             "COALESCE(start_time, :s) WHERE dispatch_id = :d",
                             {static_cast<long long>(start_ms), dispatch.dispatch_id});
                     Execute(session,
                             "UPDATE proc_monitor SET pid = :p, start_time = COALESCE(start_time, "
                             ":s), status = CASE WHEN status = 'STARTING' THEN 'RUNNING' ELSE "
                             "status END WHERE proc_id = :d",
                             {static_cast<long long>(pid), static_cast<long long>(start_ms),
                              dispatch.dispatch_id});
                     return Status::Ok();
                   });
}

Status SqlRuntimeStore::RecordHeartbeat(const std::string& dispatch_id, int64_t lease,
                                        const std::vector<int>& ports, double cpu_percent,
                                        int64_t mem_bytes) {
  for (size_t i = 0; i < ports.size(); ++i) {
    if (ports[i] < 1 || ports[i] > 65535) {
      return FieldError("ports[" + std::to_string(i) + "]",
                        std::to_string(ports[i]) + " is not a port; use 1 to 65535");
    }
  }
  if (!std::isfinite(cpu_percent) || cpu_percent < 0) {
    return FieldError("cpu_percent", "must be a finite, non-negative percentage");
  }
  if (mem_bytes < 0) return FieldError("mem_bytes", "must not be negative");
  // NOTE: values past the MySQL column ranges (about 10 busy cores, 95 TiB)
  // are stored as the maximum.
  double cpu = std::min(cpu_percent, kMaxCpuPercent);
  double mem_mb = std::min(static_cast<double>(mem_bytes) / (1024.0 * 1024.0), kMaxMemMb);
  std::string ports_json = nlohmann::json(ports).dump();

  return RunFenced("recording a heartbeat", dispatch_id, lease,
                   [&](soci::session& session, LockedDispatch& dispatch) -> Status {
                     long long now = NowMs();
                     std::string id = dispatch.dispatch_id;
                     session << "UPDATE proc_monitor SET listen_ports = :l, cpu_pct = :c, "
                                "mem_mb = :m, last_heartbeat = :h, status = CASE WHEN status = "
                                "'STARTING' THEN 'RUNNING' ELSE status END WHERE proc_id = :d",
                         soci::use(ports_json), soci::use(cpu), soci::use(mem_mb), soci::use(now),
                         soci::use(id);
                     return Status::Ok();
                   });
}

Status SqlRuntimeStore::RecordExit(const std::string& dispatch_id, int64_t lease, int exit_code) {
  return RunFenced(
      "recording the exit", dispatch_id, lease,
      [&](soci::session& session, LockedDispatch& dispatch) -> Status {
        long long now = NowMs();
        std::string status = exit_code == 0 ? "SUCCEEDED" : "FAILED";
        Execute(session,
                "UPDATE job_dispatch SET status = :s, exit_code = :c, end_time = "
                "COALESCE(end_time, :t) WHERE dispatch_id = :d",
                {status, static_cast<long long>(exit_code), now, dispatch.dispatch_id});
        Execute(session,
                "UPDATE proc_monitor SET exit_code = :c, status = 'EXITED' WHERE proc_id = :d",
                {static_cast<long long>(exit_code), dispatch.dispatch_id});
        // The process writes no more output, so its partial line is complete.
        StoreOutput(session, dispatch, dispatch.log_bytes, "", /*flush=*/true);
        return Status::Ok();
      });
}

}  // namespace svcd::store
