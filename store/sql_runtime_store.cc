// SqlRuntimeStore: target rows, attempts and leases. Reports live in
// sql_runtime_reports.cc, log lines and probe results in sql_runtime_logs.cc.

#include "store/sql_runtime_store.h"

#include <soci/soci.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "store/log_text.h"
#include "store/sql_util.h"

namespace svcd::store {
namespace {

constexpr char kTargetColumns[] =
    "target_id, deploy_id, target_name, state, stage, COALESCE(last_message, ''), lease_version, "
    "next_log_seq, attempts, data_status";

// svc_deploy_target.last_message is VARCHAR(500).
constexpr size_t kMaxMessageBytes = 500;

const std::set<std::string>& TargetStates() {
  static const std::set<std::string> kStates = {"PENDING", "DISPATCHING", "RUNNING", "READY",
                                                "FAILED",  "CANCELLED",   "TIMEOUT"};
  return kStates;
}

const std::set<std::string>& TargetStages() {
  static const std::set<std::string> kStages = {"PREPARE",       "RENDER_ENV",   "RENDER_CMD",
                                                "START_PROCESS", "HEALTH_CHECK", "READY",
                                                "ARCHIVE_LOGS"};
  return kStages;
}

std::string JoinNames(const std::set<std::string>& names) {
  std::string joined;
  for (const std::string& name : names) joined += (joined.empty() ? "" : ", ") + name;
  return joined;
}

Status FieldError(const std::string& field, const std::string& message) {
  Cause cause;
  cause.field = field;
  cause.message = message;
  return Status::InvalidArgument(field + ": " + message, {cause});
}

// Returns the name a target of `role` and `rank` must have, or "" when the
// pair is impossible.
std::string ExpectedName(const std::string& role, int rank) {
  if (role == "master" && rank == 0) return "master";
  if (role == "worker" && rank >= 1) return "worker-" + std::to_string(rank - 1);
  return "";
}

Status ValidatePlan(const TargetPlan& plan, const std::string& path) {
  std::string expected = ExpectedName(plan.role, plan.rank);
  if (expected.empty()) {
    return FieldError(path + ".role",
                      "role \"" + plan.role + "\" with rank " + std::to_string(plan.rank) +
                          " is invalid; use role master with rank 0 or role worker with rank i+1");
  }
  if (plan.name != expected) {
    return FieldError(path + ".name", "\"" + plan.name + "\" does not match role " + plan.role +
                                          " and rank " + std::to_string(plan.rank) + "; use \"" +
                                          expected + "\"");
  }
  if (plan.host.empty() || plan.host.size() > 63) {
    return FieldError(path + ".host", "must be a Host name of 1 to 63 characters");
  }
  if (plan.generation < 1) {
    return FieldError(path + ".generation", "must be at least 1, the deploy's generation");
  }
  if (plan.command_hash.size() > 80) {
    return FieldError(path + ".command_hash", "is longer than 80 characters; use sha256:<hex>");
  }
  return Status::Ok();
}

Status ValidatePlans(const std::vector<TargetPlan>& plans) {
  std::set<int> ranks;
  for (size_t i = 0; i < plans.size(); ++i) {
    std::string path = "plans[" + std::to_string(i) + "]";
    Status status = ValidatePlan(plans[i], path);
    if (!status.ok()) return status;
    if (!ranks.insert(plans[i].rank).second) {
      return FieldError(path + ".name", "target " + plans[i].name + " is planned twice");
    }
  }
  return Status::Ok();
}

Status ValidateUpdate(const TargetUpdate& update) {
  if (update.state && TargetStates().count(*update.state) == 0) {
    return FieldError("update.state", "\"" + *update.state + "\" is not a target state; use " +
                                          JoinNames(TargetStates()));
  }
  if (update.stage && TargetStages().count(*update.stage) == 0) {
    return FieldError("update.stage", "\"" + *update.stage + "\" is not a target stage; use " +
                                          JoinNames(TargetStages()));
  }
  if (update.attempts && *update.attempts < 0) {
    return FieldError("update.attempts", "must not be negative");
  }
  return Status::Ok();
}

Status ValidateAttempt(const std::string& executor, const std::string& secret_hash, int attempts) {
  if (executor != "local" && executor != "powerjob") {
    return FieldError("executor", "\"" + executor + "\" is not an executor; use local or powerjob");
  }
  bool hex = secret_hash.size() == 64 &&
             std::all_of(secret_hash.begin(), secret_hash.end(),
                         [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
  if (!hex) {
    return FieldError("secret_hash",
                      "must be the SHA-256 of the secret as 64 lowercase hex digits");
  }
  if (attempts < 0) return FieldError("attempts", "must not be negative");
  return Status::Ok();
}

nlohmann::json TargetJson(const std::string& state, const std::string& stage,
                          const std::string& message, int attempts) {
  return {{"state", state}, {"stage", stage}, {"message", message}, {"attempts", attempts}};
}

std::string TargetText(const std::string& deploy_uid, const std::string& name) {
  return "target " + name + " of deploy " + deploy_uid;
}

}  // namespace

SqlRuntimeStore::SqlRuntimeStore(Database& database, std::function<int64_t()> now_ms)
    : database_(database), now_ms_(now_ms ? std::move(now_ms) : SystemNowMs) {}

std::unique_ptr<RuntimeStore> NewSqlRuntimeStore(Database& database,
                                                 std::function<int64_t()> now_ms) {
  return std::make_unique<SqlRuntimeStore>(database, std::move(now_ms));
}

const char* SqlRuntimeStore::LockingRead() const { return store::LockingRead(database_.dialect()); }

std::optional<SqlRuntimeStore::TargetRow> SqlRuntimeStore::SelectTarget(
    soci::session& session, const std::string& condition, const std::vector<std::string>& values) {
  TargetRow row;
  long long lease = 0, next_seq = 0;
  std::string data_status;
  std::vector<std::string> bound = values;  // SOCI keeps pointers into it
  soci::statement statement(session);
  statement.exchange(soci::into(row.target_id));
  statement.exchange(soci::into(row.deploy_id));
  statement.exchange(soci::into(row.name));
  statement.exchange(soci::into(row.state));
  statement.exchange(soci::into(row.stage));
  statement.exchange(soci::into(row.message));
  statement.exchange(soci::into(lease));
  statement.exchange(soci::into(next_seq));
  statement.exchange(soci::into(row.attempts));
  statement.exchange(soci::into(data_status));
  for (std::string& value : bound) statement.exchange(soci::use(value));
  statement.alloc();
  statement.prepare(std::string("SELECT ") + kTargetColumns + " FROM svc_deploy_target WHERE " +
                    condition + LockingRead());
  statement.define_and_bind();
  statement.execute();
  if (!statement.fetch()) return std::nullopt;
  row.lease_version = lease;
  row.next_log_seq = next_seq;
  row.live = data_status == "ACTIVE";
  return row;
}

std::optional<SqlRuntimeStore::TargetRow> SqlRuntimeStore::LockTarget(soci::session& session,
                                                                      const std::string& deploy_uid,
                                                                      const std::string& name) {
  return SelectTarget(session, "deploy_id = :d AND target_name = :n", {deploy_uid, name});
}

std::optional<SqlRuntimeStore::TargetRow> SqlRuntimeStore::LockTargetById(
    soci::session& session, const std::string& target_id) {
  return SelectTarget(session, "target_id = :t", {target_id});
}

StatusOr<SqlRuntimeStore::TargetRow> SqlRuntimeStore::LockLiveTarget(soci::session& session,
                                                                     const std::string& deploy_uid,
                                                                     const std::string& name) {
  std::optional<TargetRow> row = LockTarget(session, deploy_uid, name);
  if (!row.has_value() || !row->live) {
    return Status::NotFound(TargetText(deploy_uid, name) + " not found");
  }
  return std::move(*row);
}

int SqlRuntimeStore::LatestAttempt(soci::session& session, const std::string& target_id) {
  int attempt = 0;
  soci::indicator indicator = soci::i_null;
  std::string bound = target_id;
  session << "SELECT MAX(attempt) FROM job_dispatch WHERE target_id = :t",
      soci::into(attempt, indicator), soci::use(bound);
  return indicator == soci::i_ok ? attempt : 0;
}

void SqlRuntimeStore::AuditTarget(soci::session& session, const std::string& operation,
                                  const TargetRow& row, const SqlValue& changed,
                                  const SqlValue& old_data, const SqlValue& new_data,
                                  const std::string& user) {
  std::string namespace_, deploy_name;
  std::string bound = row.deploy_id;
  session << "SELECT namespace, name FROM svc_deploy WHERE deploy_id = :d", soci::into(namespace_),
      soci::into(deploy_name), soci::use(bound);
  InsertAuditRow(session, {"TARGET", row.target_id, namespace_, deploy_name + "/" + row.name,
                           operation, user, changed, old_data, new_data, SqlValue(), NowMs()});
}

Status SqlRuntimeStore::SyncTargets(const std::string& deploy_uid,
                                    const std::vector<TargetPlan>& plans, const std::string& user) {
  Status valid = ValidatePlans(plans);
  if (!valid.ok()) return valid;
  std::vector<TargetPlan> ordered = plans;
  std::sort(ordered.begin(), ordered.end(),
            [](const TargetPlan& a, const TargetPlan& b) { return a.rank < b.rank; });

  return database_.RunInTransaction(
      "syncing targets of deploy " + deploy_uid, [&](soci::session& session) -> Status {
        std::string data_status;
        std::string bound = deploy_uid;
        session << "SELECT data_status FROM svc_deploy WHERE deploy_id = :d",
            soci::into(data_status), soci::use(bound);
        if (!session.got_data() || data_status != "ACTIVE") {
          return Status::NotFound("deploy " + deploy_uid + " not found");
        }

        std::map<std::string, TargetRow> existing = LockDeployTargets(session, deploy_uid, ordered);

        std::set<std::string> planned;
        for (const TargetPlan& plan : ordered) {
          auto found = existing.find(plan.name);
          SyncOne(session, deploy_uid, plan,
                  found == existing.end() ? std::nullopt : std::optional<TargetRow>(found->second),
                  user);
          planned.insert(plan.name);
        }

        // Targets the plans no longer name (fewer workers) are marked deleted.
        for (const auto& [name, row] : existing) {
          if (!row.live || planned.count(name) > 0) continue;
          Execute(session,
                  "UPDATE svc_deploy_target SET data_status = 'DELETED', update_time = :t, "
                  "update_owner = :u WHERE target_id = :id",
                  {static_cast<long long>(NowMs()), user, row.target_id});
          AuditTarget(session, "DELETE", row, SqlValue(), SqlValue(), SqlValue(), user);
        }
        return Status::Ok();
      });
}

std::map<std::string, SqlRuntimeStore::TargetRow> SqlRuntimeStore::LockDeployTargets(
    soci::session& session, const std::string& deploy_uid, const std::vector<TargetPlan>& plans) {
  // The names come from a plain read, and each row is then locked by name,
  // the path every other write takes. Locking them all with one range read
  // would lock primary-key records before index records, the reverse order,
  // and InnoDB reports deadlocks against concurrent writers.
  std::map<int, std::string> by_rank;
  for (const TargetPlan& plan : plans) by_rank[plan.rank] = plan.name;
  int rank = 0;
  std::string name;
  std::string bound = deploy_uid;
  soci::statement select = (session.prepare << "SELECT node_rank, target_name FROM "
                                               "svc_deploy_target WHERE deploy_id = :d",
                            soci::into(rank), soci::into(name), soci::use(bound));
  select.execute();
  while (select.fetch()) by_rank[rank] = name;

  // Rank order, so two syncs of one deploy never lock rows in opposite orders.
  std::map<std::string, TargetRow> rows;
  for (const auto& [unused_rank, locked] : by_rank) {
    std::optional<TargetRow> row = LockTarget(session, deploy_uid, locked);
    if (row.has_value()) rows.emplace(locked, std::move(*row));
  }
  return rows;
}

void SqlRuntimeStore::SyncOne(soci::session& session, const std::string& deploy_uid,
                              const TargetPlan& plan, const std::optional<TargetRow>& existing,
                              const std::string& user) {
  SqlValue host_id;
  {
    std::string id;
    std::string name = plan.host;
    session << "SELECT host_id FROM env_host WHERE name = :n", soci::into(id), soci::use(name);
    if (session.got_data()) host_id = id;
  }
  SqlValue hash = plan.command_hash.empty() ? SqlValue() : SqlValue(plan.command_hash);
  long long now = NowMs();

  if (!existing.has_value()) {
    TargetRow row;
    row.target_id = NewUuid();
    row.deploy_id = deploy_uid;
    row.name = plan.name;
    Execute(session,
            "INSERT INTO svc_deploy_target (target_id, deploy_id, target_name, role, node_rank, "
            "host_id, host_name, generation, env_rendered, cmd_rendered, command_hash, "
            "create_time, update_time, create_owner, update_owner) VALUES (:a, :b, :c, :d, :e, "
            ":f, :g, :h, :i, :j, :k, :l, :m, :n, :o)",
            {row.target_id, deploy_uid, plan.name, plan.role, static_cast<long long>(plan.rank),
             host_id, plan.host, static_cast<long long>(plan.generation), plan.env_rendered,
             plan.cmd_rendered, hash, now, now, user, user});
    AuditTarget(session, "INSERT", row, SqlValue(), SqlValue(), SqlValue(), user);
    return;
  }

  // A removed target that comes back keeps its lease and log sequence, so
  // fencing tokens and seq never go backwards, but starts over as PENDING.
  // Within one generation attempts counts restarts. MySQL evaluates SET
  // assignments left to right, so attempts is set before generation.
  std::string assignments =
      existing->live
          ? "attempts = CASE WHEN generation = " + std::to_string(plan.generation) +
                " THEN attempts ELSE 0 END, "
          : "data_status = 'ACTIVE', state = 'PENDING', stage = 'PREPARE', attempts = 0, "
            "last_message = NULL, ";
  assignments +=
      "host_id = :a, host_name = :b, generation = :c, env_rendered = :d, cmd_rendered = :e, "
      "command_hash = :f, update_time = :g, update_owner = :h";
  Execute(session, "UPDATE svc_deploy_target SET " + assignments + " WHERE target_id = :id",
          {host_id, plan.host, static_cast<long long>(plan.generation), plan.env_rendered,
           plan.cmd_rendered, hash, now, user, existing->target_id});
  if (!existing->live) {
    AuditTarget(session, "INSERT", *existing, SqlValue(), SqlValue(), SqlValue(), user);
  }
}

StatusOr<std::vector<TargetRecord>> SqlRuntimeStore::ListTargets(const std::string& deploy_uid) {
  std::vector<TargetRecord> targets;
  Status status = database_.Run(
      "listing targets of deploy " + deploy_uid, [&](soci::session& session) -> Status {
        targets.clear();
        TargetRecord record;
        long long generation = 0, lease = 0;
        std::string hash, command, message, latest;
        soci::indicator latest_indicator = soci::i_null;
        std::string bound = deploy_uid;
        soci::statement statement =
            (session.prepare
                 << "SELECT t.target_id, t.deploy_id, t.target_name, t.role, t.node_rank, "
                    "t.host_name, t.generation, COALESCE(t.command_hash, ''), "
                    "COALESCE(t.cmd_rendered, ''), t.state, t.stage, t.lease_version, t.attempts, "
                    "COALESCE(t.last_message, ''), (SELECT d.dispatch_id FROM job_dispatch d "
                    "WHERE d.target_id = t.target_id ORDER BY d.attempt DESC LIMIT 1) "
                    "FROM svc_deploy_target t WHERE t.deploy_id = :d AND t.data_status = 'ACTIVE' "
                    "ORDER BY t.node_rank",
             soci::into(record.target_id), soci::into(record.deploy_uid), soci::into(record.name),
             soci::into(record.role), soci::into(record.rank), soci::into(record.host),
             soci::into(generation), soci::into(hash), soci::into(command),
             soci::into(record.state), soci::into(record.stage), soci::into(lease),
             soci::into(record.attempts), soci::into(message), soci::into(latest, latest_indicator),
             soci::use(bound));
        statement.execute();
        while (statement.fetch()) {
          record.generation = generation;
          record.command_hash = hash;
          record.cmd_rendered = command;
          record.lease_version = lease;
          record.message = message;
          record.latest_dispatch_id = latest_indicator == soci::i_ok ? latest : "";
          targets.push_back(record);
        }
        return Status::Ok();
      });
  if (!status.ok()) return status;
  return targets;
}

StatusOr<DispatchRecord> SqlRuntimeStore::BeginAttempt(const std::string& deploy_uid,
                                                       const std::string& target,
                                                       const std::string& executor,
                                                       const std::string& secret_hash,
                                                       int attempts) {
  Status valid = ValidateAttempt(executor, secret_hash, attempts);
  if (!valid.ok()) return valid;
  DispatchRecord dispatch;
  Status status = database_.RunInTransaction(
      "starting an attempt of " + TargetText(deploy_uid, target),
      [&](soci::session& session) -> Status {
        StatusOr<TargetRow> row = LockLiveTarget(session, deploy_uid, target);
        if (!row.ok()) return row.status();

        dispatch = DispatchRecord();
        dispatch.dispatch_id = NewUuid();
        dispatch.target_id = row->target_id;
        dispatch.deploy_uid = deploy_uid;
        dispatch.target_name = target;
        dispatch.attempt = LatestAttempt(session, row->target_id) + 1;
        dispatch.lease_version = row->lease_version + 1;
        dispatch.executor = executor;
        dispatch.secret_hash = secret_hash;
        dispatch.status = "QUEUED";
        dispatch.submit_ms = NowMs();

        Execute(session,
                "INSERT INTO job_dispatch (dispatch_id, target_id, attempt, lease_version, "
                "executor, secret_hash, status, submit_time) VALUES (:a, :b, :c, :d, :e, :f, "
                "'QUEUED', :g)",
                {dispatch.dispatch_id, dispatch.target_id, static_cast<long long>(dispatch.attempt),
                 static_cast<long long>(dispatch.lease_version), executor, secret_hash,
                 static_cast<long long>(dispatch.submit_ms)});
        // The process row shares the dispatch's id: one dispatch starts one process.
        Execute(session,
                "INSERT INTO proc_monitor (proc_id, target_id, dispatch_id, status) "
                "VALUES (:a, :b, :c, 'STARTING')",
                {dispatch.dispatch_id, dispatch.target_id, dispatch.dispatch_id});
        Execute(session,
                "UPDATE svc_deploy_target SET lease_version = :l, state = 'DISPATCHING', "
                "stage = 'START_PROCESS', attempts = :a, update_time = :t WHERE target_id = :id",
                {static_cast<long long>(dispatch.lease_version), static_cast<long long>(attempts),
                 static_cast<long long>(dispatch.submit_ms), dispatch.target_id});
        TargetRow after = *row;
        after.state = "DISPATCHING";
        after.stage = "START_PROCESS";
        after.attempts = attempts;
        after.lease_version = dispatch.lease_version;
        std::vector<std::string> changed = {"state", "stage", "lease_version"};
        if (attempts != row->attempts) changed.push_back("attempts");
        AuditTarget(session, "UPDATE", after, nlohmann::json(changed).dump(),
                    TargetJson(row->state, row->stage, row->message, row->attempts).dump(),
                    TargetJson(after.state, after.stage, row->message, attempts).dump(), "svcd");
        return Status::Ok();
      });
  if (!status.ok()) return status;
  return dispatch;
}

StatusOr<int64_t> SqlRuntimeStore::BumpLease(const std::string& deploy_uid,
                                             const std::string& target) {
  int64_t lease = 0;
  Status status = database_.RunInTransaction(
      "raising the lease of " + TargetText(deploy_uid, target),
      [&](soci::session& session) -> Status {
        // A removed target's lease may still be raised, to stop its process.
        std::optional<TargetRow> row = LockTarget(session, deploy_uid, target);
        if (!row.has_value())
          return Status::NotFound(TargetText(deploy_uid, target) + " not found");
        lease = row->lease_version + 1;
        Execute(session,
                "UPDATE svc_deploy_target SET lease_version = :l, update_time = :t "
                "WHERE target_id = :id",
                {static_cast<long long>(lease), static_cast<long long>(NowMs()), row->target_id});
        return Status::Ok();
      });
  if (!status.ok()) return status;
  return lease;
}

Status SqlRuntimeStore::UpdateTarget(const std::string& deploy_uid, const std::string& target,
                                     int64_t lease, const TargetUpdate& update,
                                     const std::string& user) {
  Status valid = ValidateUpdate(update);
  if (!valid.ok()) return valid;
  std::optional<std::string> message;
  if (update.message) {
    message = std::string(TruncateUtf8(ValidUtf8(*update.message), kMaxMessageBytes));
  }

  return database_.RunInTransaction(
      "updating " + TargetText(deploy_uid, target), [&](soci::session& session) -> Status {
        StatusOr<TargetRow> row = LockLiveTarget(session, deploy_uid, target);
        if (!row.ok()) return row.status();
        if (row->lease_version != lease) {
          return Status::Aborted("lease " + std::to_string(lease) + " of " +
                                 TargetText(deploy_uid, target) + " is stale; the current lease " +
                                 "is " + std::to_string(row->lease_version) +
                                 ", so a newer attempt or a stop has superseded this writer");
        }
        TargetRow after = *row;
        if (update.state) after.state = *update.state;
        if (update.stage) after.stage = *update.stage;
        if (message) after.message = *message;
        if (update.attempts) after.attempts = *update.attempts;

        Execute(
            session,
            "UPDATE svc_deploy_target SET state = :s, stage = :g, last_message = :m, "
            "attempts = :a, update_time = :t, update_owner = :u WHERE target_id = :id",
            {after.state, after.stage, after.message.empty() ? SqlValue() : SqlValue(after.message),
             static_cast<long long>(after.attempts), static_cast<long long>(NowMs()), user,
             after.target_id});
        if (after.state == row->state && after.stage == row->stage) return Status::Ok();

        std::vector<std::string> changed;
        if (after.state != row->state) changed.push_back("state");
        if (after.stage != row->stage) changed.push_back("stage");
        if (after.message != row->message) changed.push_back("message");
        if (after.attempts != row->attempts) changed.push_back("attempts");
        AuditTarget(session, "UPDATE", after, nlohmann::json(changed).dump(),
                    TargetJson(row->state, row->stage, row->message, row->attempts).dump(),
                    TargetJson(after.state, after.stage, after.message, after.attempts).dump(),
                    user);
        return Status::Ok();
      });
}

}  // namespace svcd::store
