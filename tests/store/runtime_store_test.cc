// The shared test suite of the RuntimeStore, run against real SQLite and
// real MariaDB with the same expectations.

#include "store/runtime_store.h"

#include <gtest/gtest.h>
#include <soci/soci.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "api/codec.h"
#include "store/sql_runtime_store.h"
#include "store/store.h"
#include "tests/sql/scratch_database.h"

namespace svcd::store {
namespace {

using ::svcd::testing::ScratchDatabase;

constexpr char kUser[] = "alice";
const std::string kSecretHash(64, 'a');

api::ServiceDeploy MakeDeploy(const std::string& name) {
  api::ServiceDeploy deploy;
  deploy.metadata.namespace_ = "eval";
  deploy.metadata.name = name;
  deploy.spec.template_ref = "vllm-0-6";
  deploy.spec.model_name = "qwen2-7b";
  deploy.spec.master.host = "gpu-01";
  deploy.spec.workers = {api::NodeSpec{"gpu-02", {}, {}}, api::NodeSpec{"gpu-03", {}, {}}};
  return deploy;
}

// Returns the plan of the target with `rank`: master for 0, worker-(rank-1) otherwise.
TargetPlan MakePlan(int rank, int64_t generation = 1, const std::string& host = "gpu-01") {
  TargetPlan plan;
  plan.rank = rank;
  plan.role = rank == 0 ? "master" : "worker";
  plan.name = rank == 0 ? "master" : "worker-" + std::to_string(rank - 1);
  plan.host = host;
  plan.generation = generation;
  plan.command_hash = "sha256:" + std::to_string(generation) + plan.name;
  plan.env_rendered = "export MODEL=qwen2-7b\n";
  plan.cmd_rendered = "#!/bin/sh\nexec python3 -m vllm\n";
  return plan;
}

std::vector<std::string> Contents(const std::vector<LogLine>& lines) {
  std::vector<std::string> contents;
  for (const LogLine& line : lines) contents.push_back(line.content);
  return contents;
}

std::vector<int64_t> Seqs(const std::vector<LogLine>& lines) {
  std::vector<int64_t> seqs;
  for (const LogLine& line : lines) seqs.push_back(line.seq);
  return seqs;
}

class RuntimeStoreTest : public ::testing::TestWithParam<sql::Dialect> {
 protected:
  void SetUp() override {
    SVCD_SKIP_UNLESS_AVAILABLE(GetParam());
    scratch_ = std::make_unique<ScratchDatabase>(GetParam());
    store_ = OpenTestStore();
    ASSERT_NE(store_, nullptr);
    inspector_ = scratch_->Open();
    ASSERT_NE(inspector_, nullptr);

    StatusOr<WriteResult> created = store_->Create(MakeDeploy("qwen"), kUser);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    deploy_ = api::MetaOf(created->object).uid;
    ASSERT_TRUE(
        runtime().SyncTargets(deploy_, {MakePlan(0), MakePlan(1), MakePlan(2)}, kUser).ok());
  }

  // Opens another store, with its own connection, on the scratch database.
  std::unique_ptr<Store> OpenTestStore() {
    StoreOptions options;
    options.now_ms = [this] { return now_ms_.load(); };
    options.database.reconnect_backoff = std::chrono::milliseconds(20);
    StatusOr<std::unique_ptr<Store>> store =
        OpenStore(scratch_->url().ToString(), scratch_->password(), options);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(*store) : nullptr;
  }

  RuntimeStore& runtime() { return store_->runtime(); }

  // Starts an attempt of `target`; fails the test on error.
  DispatchRecord MustBegin(const std::string& target, int attempts = 0) {
    StatusOr<DispatchRecord> dispatch =
        runtime().BeginAttempt(deploy_, target, "local", kSecretHash, attempts);
    EXPECT_TRUE(dispatch.ok()) << dispatch.status().ToString();
    return dispatch.ok() ? *dispatch : DispatchRecord();
  }

  DispatchRecord MustGet(const std::string& dispatch_id) {
    StatusOr<DispatchRecord> dispatch = runtime().GetDispatch(dispatch_id);
    EXPECT_TRUE(dispatch.ok()) << dispatch.status().ToString();
    return dispatch.ok() ? *dispatch : DispatchRecord();
  }

  std::vector<TargetRecord> MustList() {
    StatusOr<std::vector<TargetRecord>> targets = runtime().ListTargets(deploy_);
    EXPECT_TRUE(targets.ok()) << targets.status().ToString();
    return targets.ok() ? *targets : std::vector<TargetRecord>();
  }

  TargetRecord MustTarget(const std::string& name) {
    for (const TargetRecord& target : MustList()) {
      if (target.name == name) return target;
    }
    ADD_FAILURE() << "no live target " << name;
    return TargetRecord();
  }

  std::vector<LogLine> MustRead(const std::string& target, int64_t after_seq = 0, int attempt = 0,
                                int limit = 1000) {
    StatusOr<std::vector<LogLine>> lines =
        runtime().ReadLogs(deploy_, target, after_seq, attempt, limit);
    EXPECT_TRUE(lines.ok()) << lines.status().ToString();
    return lines.ok() ? *lines : std::vector<LogLine>();
  }

  long long CountRows(const std::string& query) {
    long long count = -1;
    Status status = inspector_->Run("count", [&](soci::session& session) {
      session << query, soci::into(count);
      return Status::Ok();
    });
    EXPECT_TRUE(status.ok()) << status.ToString();
    return count;
  }

  std::atomic<int64_t> now_ms_{1'700'000'000'000};
  std::unique_ptr<ScratchDatabase> scratch_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Database> inspector_;
  std::string deploy_;
};

TEST_P(RuntimeStoreTest, SyncTargetsCreatesRows) {
  std::vector<TargetRecord> targets = MustList();

  ASSERT_EQ(targets.size(), 3u);
  EXPECT_EQ(targets[0].name, "master");
  EXPECT_EQ(targets[0].role, "master");
  EXPECT_EQ(targets[0].rank, 0);
  EXPECT_EQ(targets[1].name, "worker-0");
  EXPECT_EQ(targets[1].rank, 1);
  EXPECT_EQ(targets[2].name, "worker-1");
  for (const TargetRecord& target : targets) {
    EXPECT_EQ(target.deploy_uid, deploy_);
    EXPECT_EQ(target.target_id.size(), 36u);
    EXPECT_EQ(target.state, "PENDING");
    EXPECT_EQ(target.stage, "PREPARE");
    EXPECT_EQ(target.lease_version, 0);
    EXPECT_EQ(target.attempts, 0);
    EXPECT_EQ(target.generation, 1);
    EXPECT_EQ(target.host, "gpu-01");
    EXPECT_EQ(target.command_hash, "sha256:1" + target.name);
    EXPECT_EQ(target.cmd_rendered, "#!/bin/sh\nexec python3 -m vllm\n");
    EXPECT_TRUE(target.latest_dispatch_id.empty());
  }
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM op_audit_log WHERE entity_type = 'TARGET' AND "
                      "operation_type = 'INSERT'"),
            3);
}

TEST_P(RuntimeStoreTest, SyncTargetsUpdatesRows) {
  MustBegin("master", 2);

  ASSERT_TRUE(runtime()
                  .SyncTargets(deploy_, {MakePlan(0, 1, "gpu-09"), MakePlan(1), MakePlan(2)}, kUser)
                  .ok());
  TargetRecord same_generation = MustTarget("master");
  ASSERT_TRUE(runtime()
                  .SyncTargets(deploy_, {MakePlan(0, 2, "gpu-09"), MakePlan(1), MakePlan(2)}, kUser)
                  .ok());
  TargetRecord next_generation = MustTarget("master");

  EXPECT_EQ(same_generation.host, "gpu-09");
  EXPECT_EQ(same_generation.attempts, 2);
  EXPECT_EQ(same_generation.lease_version, 1);
  EXPECT_EQ(next_generation.generation, 2);
  EXPECT_EQ(next_generation.command_hash, "sha256:2master");
  EXPECT_EQ(next_generation.attempts, 0);
  EXPECT_EQ(next_generation.lease_version, 1);
}

TEST_P(RuntimeStoreTest, SyncTargetsRestoresRemovedTarget) {
  DispatchRecord dispatch = MustBegin("worker-1");

  ASSERT_TRUE(runtime().SyncTargets(deploy_, {MakePlan(0), MakePlan(1)}, kUser).ok());
  std::vector<TargetRecord> shrunk = MustList();
  Status report = runtime().RecordStarted(dispatch.dispatch_id, dispatch.lease_version, 42, 1);
  ASSERT_TRUE(runtime().SyncTargets(deploy_, {MakePlan(0), MakePlan(1), MakePlan(2)}, kUser).ok());
  TargetRecord revived = MustTarget("worker-1");

  ASSERT_EQ(shrunk.size(), 2u);
  EXPECT_EQ(shrunk[1].name, "worker-0");
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM svc_deploy_target WHERE data_status = 'DELETED'"), 0);
  EXPECT_EQ(report.code(), Code::kAborted) << report.ToString();
  EXPECT_EQ(revived.state, "PENDING");
  EXPECT_EQ(revived.lease_version, 1);  // fencing tokens never go backwards
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM op_audit_log WHERE entity_type = 'TARGET' AND "
                      "operation_type = 'DELETE'"),
            1);
}

TEST_P(RuntimeStoreTest, SyncTargetsMarksRemovedRowDeleted) {
  ASSERT_TRUE(runtime().SyncTargets(deploy_, {MakePlan(0)}, kUser).ok());

  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM svc_deploy_target WHERE data_status = 'DELETED'"), 2);
  EXPECT_EQ(MustList().size(), 1u);
}

TEST_P(RuntimeStoreTest, SyncTargetsRejectsBadPlans) {
  TargetPlan misnamed = MakePlan(1);
  misnamed.name = "worker-7";
  TargetPlan bad_role = MakePlan(0);
  bad_role.role = "worker";

  Status unknown = runtime().SyncTargets("no-such-deploy", {MakePlan(0)}, kUser);
  Status wrong_name = runtime().SyncTargets(deploy_, {MakePlan(0), misnamed}, kUser);
  Status twice = runtime().SyncTargets(deploy_, {MakePlan(0), MakePlan(0)}, kUser);
  Status role = runtime().SyncTargets(deploy_, {bad_role}, kUser);

  EXPECT_EQ(unknown.code(), Code::kNotFound) << unknown.ToString();
  EXPECT_EQ(wrong_name.code(), Code::kInvalidArgument);
  ASSERT_EQ(wrong_name.causes().size(), 1u);
  EXPECT_EQ(wrong_name.causes()[0].field, "plans[1].name");
  EXPECT_EQ(twice.code(), Code::kInvalidArgument);
  EXPECT_EQ(role.code(), Code::kInvalidArgument);
  EXPECT_EQ(MustList().size(), 3u);
}

TEST_P(RuntimeStoreTest, BeginAttemptNumbersDispatches) {
  DispatchRecord first = MustBegin("master", 0);
  DispatchRecord second = MustBegin("master", 1);
  DispatchRecord third = MustBegin("master", 2);
  DispatchRecord other = MustBegin("worker-0", 0);

  EXPECT_EQ(first.attempt, 1);
  EXPECT_EQ(second.attempt, 2);
  EXPECT_EQ(third.attempt, 3);
  EXPECT_EQ(other.attempt, 1);
  EXPECT_EQ(first.lease_version, 1);
  EXPECT_EQ(second.lease_version, 2);
  EXPECT_EQ(third.lease_version, 3);
  TargetRecord master = MustTarget("master");
  EXPECT_EQ(master.lease_version, 3);
  EXPECT_EQ(master.attempts, 2);
  EXPECT_EQ(master.state, "DISPATCHING");
  EXPECT_EQ(master.stage, "START_PROCESS");
  EXPECT_EQ(master.latest_dispatch_id, third.dispatch_id);

  DispatchRecord stored = MustGet(third.dispatch_id);
  EXPECT_EQ(stored.target_id, master.target_id);
  EXPECT_EQ(stored.deploy_uid, deploy_);
  EXPECT_EQ(stored.target_name, "master");
  EXPECT_EQ(stored.attempt, 3);
  EXPECT_EQ(stored.lease_version, 3);
  EXPECT_EQ(stored.executor, "local");
  EXPECT_EQ(stored.secret_hash, kSecretHash);
  EXPECT_EQ(stored.status, "QUEUED");
  EXPECT_EQ(stored.submit_ms, now_ms_.load());
  EXPECT_FALSE(stored.start_ms.has_value());
  EXPECT_FALSE(stored.pid.has_value());
  EXPECT_EQ(stored.log_bytes, 0);
}

TEST_P(RuntimeStoreTest, BeginAttemptRejectsBadInput) {
  StatusOr<DispatchRecord> executor =
      runtime().BeginAttempt(deploy_, "master", "ssh", kSecretHash, 0);
  StatusOr<DispatchRecord> secret = runtime().BeginAttempt(deploy_, "master", "local", "abc", 0);
  StatusOr<DispatchRecord> missing =
      runtime().BeginAttempt(deploy_, "worker-9", "local", kSecretHash, 0);

  EXPECT_EQ(executor.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(secret.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM job_dispatch"), 0);
}

TEST_P(RuntimeStoreTest, StaleLeaseIsAbortedEverywhere) {
  DispatchRecord dispatch = MustBegin("master");
  StatusOr<int64_t> bumped = runtime().BumpLease(deploy_, "master");
  ASSERT_TRUE(bumped.ok()) << bumped.status().ToString();
  int64_t stale = dispatch.lease_version;

  std::vector<std::pair<std::string, Status>> calls = {
      {"RecordStarted", runtime().RecordStarted(dispatch.dispatch_id, stale, 42, 1)},
      {"RecordHeartbeat", runtime().RecordHeartbeat(dispatch.dispatch_id, stale, {8000}, 1, 1)},
      {"RecordExit", runtime().RecordExit(dispatch.dispatch_id, stale, 0)},
      {"AppendLog(new lease)", runtime().AppendLog(dispatch.dispatch_id, *bumped, 0, "line\n")},
      {"UpdateTarget", runtime().UpdateTarget(deploy_, "master", stale,
                                              TargetUpdate{"RUNNING", {}, {}, {}}, kUser)},
      // The new lease does not make an old dispatch current either.
      {"RecordStarted(new lease)", runtime().RecordStarted(dispatch.dispatch_id, *bumped, 42, 1)},
  };

  EXPECT_EQ(*bumped, stale + 1);
  for (const auto& [name, status] : calls) {
    EXPECT_EQ(status.code(), Code::kAborted) << name << ": " << status.ToString();
  }
  DispatchRecord stored = MustGet(dispatch.dispatch_id);
  EXPECT_EQ(stored.status, "QUEUED");
  EXPECT_FALSE(stored.pid.has_value());
  EXPECT_FALSE(stored.exit_code.has_value());
  EXPECT_EQ(stored.log_bytes, 0);
  EXPECT_EQ(MustTarget("master").state, "DISPATCHING");
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM log_event"), 0);

  // The output of the stopped attempt, sent with its own lease, is kept;
  // once a newer attempt exists it is rejected.
  EXPECT_TRUE(runtime().AppendLog(dispatch.dispatch_id, stale, 0, "last words\n").ok());
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM log_event"), 1);
  MustBegin("master");
  EXPECT_EQ(runtime().AppendLog(dispatch.dispatch_id, stale, 11, "late\n").code(), Code::kAborted);
}

TEST_P(RuntimeStoreTest, SupersededDispatchIsAbortedEverywhere) {
  DispatchRecord old = MustBegin("master");
  DispatchRecord current = MustBegin("master");

  for (int64_t lease : {old.lease_version, current.lease_version}) {
    SCOPED_TRACE("lease " + std::to_string(lease));
    EXPECT_EQ(runtime().RecordStarted(old.dispatch_id, lease, 42, 1).code(), Code::kAborted);
    EXPECT_EQ(runtime().RecordHeartbeat(old.dispatch_id, lease, {}, 0, 0).code(), Code::kAborted);
    EXPECT_EQ(runtime().RecordExit(old.dispatch_id, lease, 1).code(), Code::kAborted);
    EXPECT_EQ(runtime().AppendLog(old.dispatch_id, lease, 0, "x\n").code(), Code::kAborted);
  }
  Status update = runtime().UpdateTarget(deploy_, "master", old.lease_version,
                                         TargetUpdate{"FAILED", {}, {}, {}}, kUser);
  Status current_started =
      runtime().RecordStarted(current.dispatch_id, current.lease_version, 7, 1);

  EXPECT_EQ(update.code(), Code::kAborted);
  EXPECT_TRUE(current_started.ok()) << current_started.ToString();
  EXPECT_EQ(MustGet(old.dispatch_id).status, "QUEUED");
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM log_event"), 0);
}

TEST_P(RuntimeStoreTest, UnknownDispatchIsNotFound) {
  EXPECT_EQ(runtime().GetDispatch("nope").status().code(), Code::kNotFound);
  EXPECT_EQ(runtime().RecordStarted("nope", 1, 42, 1).code(), Code::kNotFound);
  EXPECT_EQ(runtime().AppendLog("nope", 1, 0, "x\n").code(), Code::kNotFound);
  EXPECT_EQ(runtime().MarkDispatch("nope", "LOST", "").code(), Code::kNotFound);
  EXPECT_EQ(runtime().RecordPowerJobInstance("nope", 5).code(), Code::kNotFound);
  EXPECT_EQ(runtime().BumpLease(deploy_, "worker-9").status().code(), Code::kNotFound);
}

TEST_P(RuntimeStoreTest, PowerJobJobsAreRecordedPerAppWorkerAndKind) {
  const std::string worker = "10.0.0.12:27777";
  StatusOr<std::optional<int64_t>> none = runtime().LookupPowerJobJob("svcd", worker, "attempt");
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_FALSE(none->has_value());

  ASSERT_TRUE(runtime().RecordPowerJobJob("svcd", worker, "attempt", 9007199254740993).ok());
  ASSERT_TRUE(runtime().RecordPowerJobJob("svcd", worker, "stop", 12).ok());
  ASSERT_TRUE(runtime().RecordPowerJobJob("svcd", worker, "attempt", 14).ok());  // replaces
  ASSERT_TRUE(runtime().RecordPowerJobJob("other", worker, "attempt", 15).ok());

  EXPECT_EQ(*runtime().LookupPowerJobJob("svcd", worker, "attempt"), std::optional<int64_t>(14));
  EXPECT_EQ(*runtime().LookupPowerJobJob("svcd", worker, "stop"), std::optional<int64_t>(12));
  EXPECT_EQ(*runtime().LookupPowerJobJob("other", worker, "attempt"), std::optional<int64_t>(15));
  ASSERT_TRUE(runtime().RecordPowerJobJob("svcd", worker, "stop", 9007199254740993).ok());
  EXPECT_EQ(*runtime().LookupPowerJobJob("svcd", worker, "stop"),
            std::optional<int64_t>(9007199254740993));
  EXPECT_EQ(runtime().RecordPowerJobJob("svcd", worker, "inspect", 3).code(),
            Code::kInvalidArgument);
  EXPECT_EQ(runtime().RecordPowerJobJob("", worker, "stop", 3).code(), Code::kInvalidArgument);
  EXPECT_EQ(runtime().RecordPowerJobJob("svcd", worker, "stop", 0).code(), Code::kInvalidArgument);
}

TEST_P(RuntimeStoreTest, ReportsAreRecorded) {
  DispatchRecord dispatch = MustBegin("master");
  int64_t lease = dispatch.lease_version;

  ASSERT_TRUE(runtime().RecordStarted(dispatch.dispatch_id, lease, 4242, 1'700'000'000'500).ok());
  DispatchRecord started = MustGet(dispatch.dispatch_id);
  now_ms_ += 1000;
  ASSERT_TRUE(
      runtime().RecordHeartbeat(dispatch.dispatch_id, lease, {8000, 8001}, 12.5, 1 << 30).ok());
  DispatchRecord beating = MustGet(dispatch.dispatch_id);
  now_ms_ += 1000;
  ASSERT_TRUE(runtime().RecordExit(dispatch.dispatch_id, lease, 3).ok());
  ASSERT_TRUE(runtime().RecordExit(dispatch.dispatch_id, lease, 3).ok());
  ASSERT_TRUE(runtime().RecordStarted(dispatch.dispatch_id, lease, 4242, 1'700'000'009'000).ok());
  DispatchRecord exited = MustGet(dispatch.dispatch_id);

  EXPECT_EQ(started.status, "STARTED");
  EXPECT_EQ(started.pid, 4242);
  EXPECT_EQ(started.start_ms, 1'700'000'000'500);
  EXPECT_EQ(beating.ports, (std::vector<int>{8000, 8001}));
  EXPECT_EQ(beating.last_heartbeat_ms, 1'700'000'001'000);
  EXPECT_EQ(exited.status, "FAILED");  // a late start report does not move it back
  EXPECT_EQ(exited.exit_code, 3);
  EXPECT_EQ(exited.end_ms, 1'700'000'002'000);
  EXPECT_EQ(exited.start_ms, 1'700'000'000'500);
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM proc_monitor WHERE status = 'EXITED' AND pid = 4242"),
            1);
}

TEST_P(RuntimeStoreTest, ExitZeroSucceeds) {
  DispatchRecord dispatch = MustBegin("worker-0");

  ASSERT_TRUE(runtime().RecordExit(dispatch.dispatch_id, dispatch.lease_version, 0).ok());

  EXPECT_EQ(MustGet(dispatch.dispatch_id).status, "SUCCEEDED");
  EXPECT_EQ(MustGet(dispatch.dispatch_id).exit_code, 0);
}

TEST_P(RuntimeStoreTest, HeartbeatRejectsBadValues) {
  DispatchRecord dispatch = MustBegin("master");

  Status port = runtime().RecordHeartbeat(dispatch.dispatch_id, 1, {8000, 70000}, 1, 1);
  Status cpu = runtime().RecordHeartbeat(dispatch.dispatch_id, 1, {}, -1, 1);
  Status huge_cpu = runtime().RecordHeartbeat(dispatch.dispatch_id, 1, {}, 6400, 1);

  EXPECT_EQ(port.code(), Code::kInvalidArgument);
  ASSERT_EQ(port.causes().size(), 1u);
  EXPECT_EQ(port.causes()[0].field, "ports[1]");
  EXPECT_EQ(cpu.code(), Code::kInvalidArgument);
  EXPECT_TRUE(huge_cpu.ok()) << huge_cpu.ToString();  // stored as the column's maximum
}

TEST_P(RuntimeStoreTest, MarkDispatchIgnoresLease) {
  DispatchRecord dispatch = MustBegin("master");
  ASSERT_TRUE(runtime().BumpLease(deploy_, "master").ok());
  now_ms_ += 5000;

  Status sent = runtime().RecordPowerJobInstance(dispatch.dispatch_id, 77);
  Status lost = runtime().MarkDispatch(dispatch.dispatch_id, "LOST", "no heartbeat for 30 s");
  Status invalid = runtime().MarkDispatch(dispatch.dispatch_id, "GONE", "");
  DispatchRecord stored = MustGet(dispatch.dispatch_id);

  EXPECT_TRUE(sent.ok()) << sent.ToString();
  EXPECT_TRUE(lost.ok()) << lost.ToString();
  EXPECT_EQ(invalid.code(), Code::kInvalidArgument);
  EXPECT_EQ(stored.status, "LOST");
  EXPECT_EQ(stored.error, "no heartbeat for 30 s");
  EXPECT_EQ(stored.end_ms, now_ms_.load());
  EXPECT_EQ(stored.powerjob_instance_id, 77);
}

TEST_P(RuntimeStoreTest, UpdateTargetAuditsStateChanges) {
  DispatchRecord dispatch = MustBegin("master");
  int64_t lease = dispatch.lease_version;

  Status running = runtime().UpdateTarget(
      deploy_, "master", lease, TargetUpdate{"RUNNING", "HEALTH_CHECK", "started", {}}, kUser);
  Status message_only =
      runtime().UpdateTarget(deploy_, "master", lease, TargetUpdate{{}, {}, "probing", 4}, kUser);
  Status bad_state =
      runtime().UpdateTarget(deploy_, "master", lease, TargetUpdate{"DONE", {}, {}, {}}, kUser);
  TargetRecord target = MustTarget("master");

  EXPECT_TRUE(running.ok()) << running.ToString();
  EXPECT_TRUE(message_only.ok()) << message_only.ToString();
  EXPECT_EQ(bad_state.code(), Code::kInvalidArgument);
  ASSERT_EQ(bad_state.causes().size(), 1u);
  EXPECT_EQ(bad_state.causes()[0].field, "update.state");
  EXPECT_EQ(target.state, "RUNNING");
  EXPECT_EQ(target.stage, "HEALTH_CHECK");
  EXPECT_EQ(target.message, "probing");
  EXPECT_EQ(target.attempts, 4);
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM op_audit_log WHERE entity_type = 'TARGET' AND "
                      "operation_type = 'UPDATE' AND entity_name = 'qwen/master' AND "
                      "operator_user_id = 'alice'"),
            1);
}

TEST_P(RuntimeStoreTest, ResentLogBytesAreDropped) {
  DispatchRecord dispatch = MustBegin("master");
  int64_t lease = dispatch.lease_version;

  ASSERT_TRUE(runtime().AppendLog(dispatch.dispatch_id, lease, 0, "one\ntwo\n").ok());
  ASSERT_TRUE(runtime().AppendLog(dispatch.dispatch_id, lease, 0, "one\ntwo\n").ok());
  ASSERT_TRUE(runtime().AppendLog(dispatch.dispatch_id, lease, 4, "two\nthree\n").ok());
  std::vector<LogLine> lines = MustRead("master");

  EXPECT_EQ(Contents(lines), (std::vector<std::string>{"one", "two", "three"}));
  EXPECT_EQ(Seqs(lines), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(MustGet(dispatch.dispatch_id).log_bytes, 14);
  for (const LogLine& line : lines) {
    EXPECT_EQ(line.source, "SERVICE");
    EXPECT_EQ(line.attempt, 1);
    EXPECT_EQ(line.target, "master");
    EXPECT_EQ(line.time_ms, now_ms_.load());
  }
}

TEST_P(RuntimeStoreTest, LogGapIsRecorded) {
  DispatchRecord dispatch = MustBegin("master");
  int64_t lease = dispatch.lease_version;

  ASSERT_TRUE(runtime().AppendLog(dispatch.dispatch_id, lease, 0, "one\ntw").ok());
  ASSERT_TRUE(runtime().AppendLog(dispatch.dispatch_id, lease, 100, "four\n").ok());
  std::vector<LogLine> lines = MustRead("master");

  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0].content, "one");
  EXPECT_EQ(lines[1].content, "tw");  // the partial line, cut short by the gap
  EXPECT_EQ(lines[2].source, "AGENT");
  EXPECT_NE(lines[2].content.find("bytes 6 to 100"), std::string::npos) << lines[2].content;
  EXPECT_NE(lines[2].content.find("94 bytes"), std::string::npos) << lines[2].content;
  EXPECT_EQ(lines[3].content, "four");
  EXPECT_EQ(lines[3].source, "SERVICE");
  EXPECT_EQ(MustGet(dispatch.dispatch_id).log_bytes, 105);
}

TEST_P(RuntimeStoreTest, PartialLinesAreJoined) {
  DispatchRecord dispatch = MustBegin("master");
  int64_t lease = dispatch.lease_version;
  // "中" is E4 B8 AD in UTF-8; the chunks split it between its bytes.
  std::vector<std::string> chunks = {"hel", "lo\r\nwor", "ld \xE4\xB8", "\xAD\n", "tail"};

  int64_t offset = 0;
  for (const std::string& chunk : chunks) {
    ASSERT_TRUE(runtime().AppendLog(dispatch.dispatch_id, lease, offset, chunk).ok());
    offset += static_cast<int64_t>(chunk.size());
  }
  std::vector<LogLine> before_exit = MustRead("master");
  ASSERT_TRUE(runtime().RecordExit(dispatch.dispatch_id, lease, 0).ok());
  std::vector<LogLine> after_exit = MustRead("master");

  EXPECT_EQ(Contents(before_exit), (std::vector<std::string>{"hello", "world \xE4\xB8\xAD"}));
  EXPECT_EQ(Contents(after_exit),
            (std::vector<std::string>{"hello", "world \xE4\xB8\xAD", "tail"}));
  EXPECT_EQ(MustGet(dispatch.dispatch_id).log_bytes, offset);
}

TEST_P(RuntimeStoreTest, OutputAfterExitIsStoredAtOnce) {
  DispatchRecord dispatch = MustBegin("master");
  ASSERT_TRUE(runtime().RecordExit(dispatch.dispatch_id, dispatch.lease_version, 1).ok());

  ASSERT_TRUE(runtime().AppendLog(dispatch.dispatch_id, dispatch.lease_version, 0, "last").ok());

  EXPECT_EQ(Contents(MustRead("master")), (std::vector<std::string>{"last"}));
}

TEST_P(RuntimeStoreTest, LongLinesAreSplit) {
  DispatchRecord dispatch = MustBegin("master");
  std::string line(150 * 1024, 'x');

  ASSERT_TRUE(
      runtime().AppendLog(dispatch.dispatch_id, dispatch.lease_version, 0, line + "\n").ok());
  std::vector<LogLine> lines = MustRead("master");

  ASSERT_EQ(lines.size(), 3u);
  std::string joined;
  for (const LogLine& piece : lines) {
    EXPECT_LE(piece.content.size(), SqlRuntimeStore::kMaxLogLineBytes);
    joined += piece.content;
  }
  EXPECT_EQ(joined, line);
}

TEST_P(RuntimeStoreTest, InvalidUtf8IsReplaced) {
  DispatchRecord dispatch = MustBegin("master");

  ASSERT_TRUE(runtime()
                  .AppendLog(dispatch.dispatch_id, dispatch.lease_version, 0,
                             std::string("a\xFF"
                                         "b\0c\n",
                                         6))
                  .ok());

  EXPECT_EQ(Contents(MustRead("master")), (std::vector<std::string>{"a\xEF\xBF\xBD"
                                                                    "b\xEF\xBF\xBD"
                                                                    "c"}));
}

TEST_P(RuntimeStoreTest, PartialLineKeepsNulBytes) {
  DispatchRecord dispatch = MustBegin("master");
  std::string first("a\0b", 3);

  ASSERT_TRUE(runtime().AppendLog(dispatch.dispatch_id, dispatch.lease_version, 0, first).ok());
  ASSERT_TRUE(runtime().AppendLog(dispatch.dispatch_id, dispatch.lease_version, 3, "c\n").ok());

  EXPECT_EQ(Contents(MustRead("master")), (std::vector<std::string>{"a\xEF\xBF\xBD"
                                                                    "bc"}));
}

TEST_P(RuntimeStoreTest, LargeChunkOfShortLines) {
  DispatchRecord dispatch = MustBegin("master");
  std::string chunk;
  for (int i = 0; i < 20000; ++i) chunk += std::to_string(i) + "\n";

  ASSERT_TRUE(runtime().AppendLog(dispatch.dispatch_id, dispatch.lease_version, 0, chunk).ok());
  StatusOr<std::vector<LogLine>> tail = runtime().ReadLogs(deploy_, "master", 19990, 0, 100);

  ASSERT_TRUE(tail.ok()) << tail.status().ToString();
  ASSERT_EQ(tail->size(), 10u);
  EXPECT_EQ(tail->back().seq, 20000);
  EXPECT_EQ(tail->back().content, "19999");
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM log_event"), 20000);
}

TEST_P(RuntimeStoreTest, OversizedChunkIsRejected) {
  DispatchRecord dispatch = MustBegin("master");
  std::string chunk(SqlRuntimeStore::kMaxLogChunkBytes + 1, 'x');

  Status status = runtime().AppendLog(dispatch.dispatch_id, dispatch.lease_version, 0, chunk);
  Status negative = runtime().AppendLog(dispatch.dispatch_id, dispatch.lease_version, -1, "x");

  EXPECT_EQ(status.code(), Code::kResourceExhausted);
  EXPECT_EQ(negative.code(), Code::kInvalidArgument);
  EXPECT_EQ(MustGet(dispatch.dispatch_id).log_bytes, 0);
}

TEST_P(RuntimeStoreTest, SeqNeverResetsAcrossAttempts) {
  DispatchRecord first = MustBegin("master");
  ASSERT_TRUE(runtime().AppendLog(first.dispatch_id, first.lease_version, 0, "a\nb\n").ok());
  DispatchRecord second = MustBegin("master", 1);
  ASSERT_TRUE(runtime().AppendAgentLog(deploy_, "master", "dispatched attempt 2").ok());
  ASSERT_TRUE(runtime().AppendLog(second.dispatch_id, second.lease_version, 0, "c\n").ok());

  std::vector<LogLine> lines = MustRead("master");

  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(Seqs(lines), (std::vector<int64_t>{1, 2, 3, 4}));
  EXPECT_EQ(lines[0].attempt, 1);
  EXPECT_EQ(lines[1].attempt, 1);
  EXPECT_EQ(lines[2].attempt, 2);
  EXPECT_EQ(lines[2].source, "AGENT");
  EXPECT_EQ(lines[2].content, "dispatched attempt 2");
  EXPECT_EQ(lines[3].attempt, 2);
  EXPECT_EQ(lines[3].content, "c");
}

TEST_P(RuntimeStoreTest, AgentLogBeforeDispatchUsesAttemptOne) {
  ASSERT_TRUE(runtime().AppendAgentLog(deploy_, "worker-1", "rendering the command").ok());

  std::vector<LogLine> lines = MustRead("worker-1");
  Status missing = runtime().AppendAgentLog(deploy_, "worker-9", "x");
  Status empty = runtime().AppendAgentLog(deploy_, "worker-1", "");

  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].attempt, 1);
  EXPECT_EQ(lines[0].seq, 1);
  EXPECT_EQ(missing.code(), Code::kNotFound);
  EXPECT_EQ(empty.code(), Code::kInvalidArgument);
}

TEST_P(RuntimeStoreTest, ReadLogsFilters) {
  DispatchRecord master1 = MustBegin("master");
  ASSERT_TRUE(runtime().AppendLog(master1.dispatch_id, 1, 0, "m1\nm2\n").ok());
  DispatchRecord master2 = MustBegin("master", 1);
  ASSERT_TRUE(runtime().AppendLog(master2.dispatch_id, 2, 0, "m3\n").ok());
  DispatchRecord worker = MustBegin("worker-0");
  ASSERT_TRUE(runtime().AppendLog(worker.dispatch_id, 1, 0, "w1\nw2\n").ok());

  StatusOr<std::vector<LogLine>> all = runtime().ReadLogs(deploy_, "", 0, 0, 100);
  StatusOr<std::vector<LogLine>> limited = runtime().ReadLogs(deploy_, "", 0, 0, 2);
  StatusOr<std::vector<LogLine>> unknown = runtime().ReadLogs(deploy_, "worker-9", 0, 0, 10);
  StatusOr<std::vector<LogLine>> bad_limit = runtime().ReadLogs(deploy_, "", 0, 0, 0);

  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(Contents(*all), (std::vector<std::string>{"m1", "m2", "m3", "w1", "w2"}));
  ASSERT_TRUE(limited.ok());
  EXPECT_EQ(Contents(*limited), (std::vector<std::string>{"m1", "m2"}));
  EXPECT_EQ(Contents(MustRead("master", 1)), (std::vector<std::string>{"m2", "m3"}));
  EXPECT_EQ(Contents(MustRead("master", 0, 2)), (std::vector<std::string>{"m3"}));
  EXPECT_EQ(Contents(MustRead("master", 0, 1)), (std::vector<std::string>{"m1", "m2"}));
  EXPECT_EQ(Contents(MustRead("worker-0", 1)), (std::vector<std::string>{"w2"}));
  EXPECT_TRUE(MustRead("worker-1").empty());
  EXPECT_EQ(unknown.status().code(), Code::kNotFound);
  EXPECT_EQ(bad_limit.status().code(), Code::kInvalidArgument);
}

TEST_P(RuntimeStoreTest, ProbeRetentionKeepsNewest) {
  for (int i = 1; i <= 5; ++i) {
    ProbeEventRecord event;
    event.passed = i % 2 == 0;
    event.latency_ms = i;
    event.message = "probe " + std::to_string(i);
    event.time_ms = 1'700'000'000'000 + i;
    ASSERT_TRUE(runtime().AppendProbeEvent(deploy_, "master", event, 3).ok());
  }
  now_ms_ += 1000;
  ProbeEventRecord worker_event;  // time_ms 0: the store's clock
  worker_event.passed = true;
  ASSERT_TRUE(runtime().AppendProbeEvent(deploy_, "worker-0", worker_event, 3).ok());

  StatusOr<std::vector<ProbeEventRecord>> recent = runtime().RecentProbeEvents(deploy_, 10);

  ASSERT_TRUE(recent.ok()) << recent.status().ToString();
  ASSERT_EQ(recent->size(), 4u);
  EXPECT_EQ((*recent)[0].target, "worker-0");  // stored at the store's clock, the newest
  EXPECT_EQ((*recent)[0].time_ms, now_ms_.load());
  EXPECT_EQ((*recent)[1].message, "probe 5");
  EXPECT_EQ((*recent)[1].latency_ms, 5);
  EXPECT_FALSE((*recent)[1].passed);
  EXPECT_EQ((*recent)[2].message, "probe 4");
  EXPECT_TRUE((*recent)[2].passed);
  EXPECT_EQ((*recent)[3].message, "probe 3");
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM health_probe_event"), 4);
}

TEST_P(RuntimeStoreTest, ProbeEventRejectsBadInput) {
  ProbeEventRecord event;

  Status keep = runtime().AppendProbeEvent(deploy_, "master", event, 0);
  Status missing = runtime().AppendProbeEvent(deploy_, "worker-9", event, 3);
  StatusOr<std::vector<ProbeEventRecord>> limit = runtime().RecentProbeEvents(deploy_, -1);

  EXPECT_EQ(keep.code(), Code::kInvalidArgument);
  EXPECT_EQ(missing.code(), Code::kNotFound);
  EXPECT_EQ(limit.status().code(), Code::kInvalidArgument);
}

TEST_P(RuntimeStoreTest, ConcurrentAppendsNeverDuplicateSeq) {
  DispatchRecord dispatch = MustBegin("master");
  std::unique_ptr<Store> other = OpenTestStore();  // a second connection
  ASSERT_NE(other, nullptr);
  constexpr int kRounds = 40;
  std::atomic<int> failures{0};

  std::thread service([&] {
    int64_t offset = 0;
    for (int i = 0; i < kRounds; ++i) {
      std::string chunk = "service " + std::to_string(i) + "\n";
      Status status = runtime().AppendLog(dispatch.dispatch_id, 1, offset, chunk);
      if (!status.ok()) ++failures;
      offset += static_cast<int64_t>(chunk.size());
    }
  });
  std::thread agent([&] {
    for (int i = 0; i < kRounds; ++i) {
      Status status =
          other->runtime().AppendAgentLog(deploy_, "master", "agent " + std::to_string(i));
      if (!status.ok()) ++failures;
    }
  });
  service.join();
  agent.join();
  std::vector<LogLine> lines = MustRead("master", 0, 0, 1000);

  EXPECT_EQ(failures.load(), 0);
  ASSERT_EQ(lines.size(), 2u * kRounds);
  std::set<int64_t> seqs;
  for (const LogLine& line : lines) seqs.insert(line.seq);
  EXPECT_EQ(seqs.size(), lines.size());
  EXPECT_EQ(*seqs.begin(), 1);
  EXPECT_EQ(*seqs.rbegin(), 2 * kRounds);
}

TEST_P(RuntimeStoreTest, ConcurrentWritersNeverDeadlock) {
  std::unique_ptr<Store> second = OpenTestStore();
  std::unique_ptr<Store> third = OpenTestStore();
  ASSERT_NE(second, nullptr);
  ASSERT_NE(third, nullptr);
  DispatchRecord first = MustBegin("master");
  std::mutex mutex;
  DispatchRecord current = first;   // guarded by mutex
  std::vector<std::string> errors;  // guarded by mutex
  // Aborted is expected for reports of a superseded dispatch; any other
  // error, a deadlock among them, is a failure.
  auto check = [&](const char* call, const Status& status) {
    bool superseded =
        status.code() == Code::kAborted && status.message().find("superseded") != std::string::npos;
    if (status.ok() || superseded) return;
    std::lock_guard<std::mutex> lock(mutex);
    errors.push_back(std::string(call) + ": " + status.ToString());
  };
  auto latest = [&] {
    std::lock_guard<std::mutex> lock(mutex);
    return current;
  };
  constexpr int kRounds = 25;

  std::thread launcher([&] {
    for (int i = 0; i < kRounds; ++i) {
      DispatchRecord dispatch = latest();
      int64_t offset = MustGet(dispatch.dispatch_id).log_bytes;
      check("AppendLog", runtime().AppendLog(dispatch.dispatch_id, dispatch.lease_version, offset,
                                             "line " + std::to_string(i) + "\n"));
      check("RecordHeartbeat",
            runtime().RecordHeartbeat(dispatch.dispatch_id, dispatch.lease_version, {8000}, 1, 1));
    }
  });
  std::thread controller([&] {
    for (int i = 0; i < kRounds; ++i) {
      DispatchRecord previous = latest();
      StatusOr<DispatchRecord> next =
          second->runtime().BeginAttempt(deploy_, "master", "local", kSecretHash, i);
      check("BeginAttempt", next.status());
      if (!next.ok()) continue;
      {
        std::lock_guard<std::mutex> lock(mutex);
        current = *next;
      }
      check("MarkDispatch", second->runtime().MarkDispatch(previous.dispatch_id, "LOST", "gone"));
    }
  });
  std::thread syncer([&] {
    for (int i = 0; i < kRounds; ++i) {
      check("SyncTargets",
            third->runtime().SyncTargets(deploy_, {MakePlan(0), MakePlan(1), MakePlan(2)}, kUser));
      check("AppendAgentLog", third->runtime().AppendAgentLog(deploy_, "master", "sync"));
    }
  });
  launcher.join();
  controller.join();
  syncer.join();

  EXPECT_TRUE(errors.empty()) << errors.front();
  std::vector<LogLine> lines = MustRead("master", 0, 0, 10000);
  std::set<int64_t> seqs;
  for (const LogLine& line : lines) seqs.insert(line.seq);
  EXPECT_EQ(seqs.size(), lines.size());
  EXPECT_EQ(MustTarget("master").lease_version, kRounds + 1);
}

INSTANTIATE_TEST_SUITE_P(Backends, RuntimeStoreTest,
                         ::testing::Values(sql::Dialect::kSqlite, sql::Dialect::kMysql),
                         ::svcd::testing::ParamName);

}  // namespace
}  // namespace svcd::store
