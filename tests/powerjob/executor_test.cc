// The PowerJob executor through the stand-in server: real launchers run by
// the stand-in's workers with /bin/sh, reporting to a real report route on
// loopback, and stop scripts that kill real processes.

#include <gtest/gtest.h>
#include <signal.h>

#include <map>
#include <set>
#include <thread>

#include "dispatch/process_table.h"
#include "dispatch/run_dir.h"
#include "powerjob/powerjob_executor.h"
#include "tests/dispatch/test_support.h"
#include "tests/powerjob/standin.h"

namespace svcd::powerjob {
namespace {

using dispatch::AttemptInfo;
using dispatch::AttemptState;
using dispatch::ReadIntFile;
using dispatch::testing::ProcessAlive;
using dispatch::testing::ReadFile;
using dispatch::testing::WaitUntil;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::Standin;
using testing::StandinOptions;

constexpr char kSecret[] = "s3cret-0123456789abcdef";
constexpr int64_t kLease = 4;
constexpr char kUid[] = "uid-pj";
constexpr char kHostName[] = "gpu-1";
constexpr int64_t k2Pow53 = int64_t{1} << 53;

// A service that ignores TERM and leaves a grandchild that called setsid
// and also ignores TERM, so only KILL and the descendant search end it.
constexpr char kStubbornScript[] =
    "trap '' TERM\n"
    "setsid sh -c 'trap \"\" TERM; echo $$ > grandchild.pid; while :; do sleep 1; done' &\n"
    "sleep 1000 &\n"
    "echo service-up\n"
    "while :; do sleep 1; done\n";

api::Host PowerJobHost() {
  api::Host host;
  host.metadata.name = kHostName;
  host.spec.address = "127.0.0.1";
  host.spec.executor = "powerjob";
  host.spec.powerjob = api::HostPowerJob{testing::kWorker};
  return host;
}

class PowerJobExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(report_.Start());
    StartStandin({});
  }

  void TearDown() override {
    // The stand-in, like PowerJob, leaves the processes of its instances
    // running; a failed test must not leave them behind.
    for (const std::string& id : dispatched_) {
      for (pid_t leader : dispatch::testing::MarkedSessionLeaders(id)) kill(-leader, SIGKILL);
    }
    if (standin_) {
      for (const auto& record : standin_->Instances()) {
        for (const auto& pid : record["pids"]) kill(pid.get<pid_t>(), SIGKILL);
      }
    }
  }

  void StartStandin(std::vector<std::string> faults, std::string profile = "5.1") {
    StandinOptions options;
    options.profile = std::move(profile);
    options.faults = std::move(faults);
    standin_ = std::make_unique<Standin>(options);
    ASSERT_TRUE(standin_->Start()) << standin_->log();
    client_ = MakeClient({standin_->url()}, seconds(10));
  }

  std::unique_ptr<Client> MakeClient(std::vector<std::string> servers, milliseconds timeout) {
    ClientOptions options;
    options.servers = std::move(servers);
    options.app_name = testing::kApp;
    options.password = testing::kPassword;
    options.timeout = timeout;
    StatusOr<std::unique_ptr<Client>> client = Client::Create(options);
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    return std::move(*client);
  }

  PowerJobExecutorOptions Options() {
    PowerJobExecutorOptions options;
    options.remote_run_root = (dir_.path() / "run").string();
    options.record_instance = [this](const std::string& id, int64_t instance) {
      std::lock_guard<std::mutex> lock(mu_);
      instances_[id] = instance;
    };
    options.record_job = [this](const std::string& worker, JobKind kind, int64_t job) {
      std::lock_guard<std::mutex> lock(mu_);
      jobs_[{worker, kind}] = job;
    };
    options.final_report_seconds = 10;
    options.launcher_exit_timeout = seconds(10);
    options.kill_timeout = seconds(3);
    options.poll_interval = milliseconds(100);
    options.delivery_allowance = seconds(20);
    return options;
  }

  dispatch::DispatchRequest Request(const std::string& id, const std::string& script) {
    report_.sink().AddAttempt(id, kSecret, kLease);
    dispatched_.insert(id);
    dispatch::DispatchRequest request;
    request.attempt = {kUid, "master", id};
    request.host = PowerJobHost();
    request.script = script;
    request.description = "deploy test/pj, target master";
    request.secret = kSecret;
    request.lease = kLease;
    request.report_url = report_.BaseUrl();
    request.heartbeat_seconds = 1;
    request.stop_grace_seconds = 1;
    return request;
  }

  std::filesystem::path AttemptPath(const std::string& id, const std::string& file) const {
    return dir_.path() / "run" / kUid / "master" / "attempts" / id / file;
  }

  std::optional<int64_t> RecordedInstance(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = instances_.find(id);
    return it == instances_.end() ? std::nullopt : std::optional<int64_t>(it->second);
  }

  bool WaitStarted(const std::string& id) {
    return report_.sink().WaitFor(
        id, [](const auto& attempt) { return !attempt.started.empty(); }, seconds(20));
  }

  dispatch::testing::TempDir dir_;
  dispatch::testing::ReportServer report_;
  reconciler::RealClock clock_;
  std::unique_ptr<Standin> standin_;
  std::unique_ptr<Client> client_;
  std::set<std::string> dispatched_;
  std::mutex mu_;
  std::map<std::string, int64_t> instances_;
  std::map<std::pair<std::string, JobKind>, int64_t> jobs_;
};

TEST_F(PowerJobExecutorTest, DispatchReportsAndStopEndsEveryProcess) {
  PowerJobExecutor executor(Options(), *client_, clock_);
  ASSERT_TRUE(executor.Dispatch(Request("d1", kStubbornScript)).ok());
  std::optional<int64_t> instance = RecordedInstance("d1");
  ASSERT_TRUE(instance.has_value());
  EXPECT_GT(*instance, k2Pow53);

  ASSERT_TRUE(WaitStarted("d1")) << standin_->log();
  ASSERT_TRUE(WaitUntil(
      [&] { return ReadIntFile(AttemptPath("d1", "grandchild.pid")).has_value(); }, seconds(10)));
  const pid_t grandchild = static_cast<pid_t>(*ReadIntFile(AttemptPath("d1", "grandchild.pid")));
  const pid_t service = static_cast<pid_t>(*ReadIntFile(AttemptPath("d1", "service.pid")));
  ASSERT_EQ(dispatch::ReadProcess(grandchild)->session, grandchild);
  StatusOr<InstanceInfo> running = executor.InstanceStatus("d1");
  ASSERT_TRUE(running.ok()) << running.status().ToString();
  EXPECT_EQ(running->status, kRunning);

  StatusOr<dispatch::StopResult> result =
      executor.Stop({{kUid, "master", "d1"}, milliseconds(500)});
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_TRUE(result->stopped);
  EXPECT_TRUE(result->survivors.empty());
  EXPECT_GE(result->signalled, 2);
  EXPECT_EQ(result->exit_status, 137);
  EXPECT_FALSE(ProcessAlive(grandchild));
  EXPECT_FALSE(ProcessAlive(service));
  EXPECT_TRUE(dispatch::testing::MarkedSessionLeaders("d1").empty());
  EXPECT_TRUE(report_.sink().WaitFor(
      "d1", [](const auto& a) { return a.exits.size() == 1 && a.exits[0].exit_code == 137; },
      seconds(15)));
  EXPECT_NE(report_.sink().Get("d1")->log.find("service-up"), std::string::npos);

  StatusOr<InstanceInfo> finished = executor.InstanceStatus("d1");
  ASSERT_TRUE(finished.ok());
  EXPECT_TRUE(IsFinished(finished->status)) << InstanceStatusName(finished->status);
  ASSERT_TRUE(executor.HostHealth(kHostName).has_value());
  EXPECT_TRUE(executor.HostHealth(kHostName)->ok());
  EXPECT_EQ(standin_->Count("saveJob"), 2);  // the attempt job and the stop job
}

TEST_F(PowerJobExecutorTest, SecondDeliveryStartsNoSecondProcess) {
  standin_->SetFaults({{"duplicate-delivery", 0.5}});
  PowerJobExecutor executor(Options(), *client_, clock_);
  ASSERT_TRUE(executor.Dispatch(Request("d2", "echo once >> starts\nsleep 1000\n")).ok());
  ASSERT_TRUE(WaitStarted("d2"));
  // The same attempt dispatched once more, as a retrying controller would.
  ASSERT_TRUE(executor.Dispatch(Request("d2", "echo once >> starts\nsleep 1000\n")).ok());

  // Each of the two runJob calls is delivered twice, 0.5 s apart, so four
  // shells run in all. Waiting for fewer raced with the later deliveries.
  nlohmann::json instances;
  ASSERT_TRUE(WaitUntil(
      [&] {
        instances = standin_->Instances();
        size_t shells = 0;
        for (const auto& record : instances) shells += record["pids"].size();
        return shells == 4;
      },
      seconds(10)))
      << instances.dump();
  std::this_thread::sleep_for(seconds(2));
  EXPECT_EQ(dispatch::testing::MarkedSessionLeaders("d2").size(), 1u);
  EXPECT_EQ(ReadFile(AttemptPath("d2", "starts")), "once\n");
  std::string logs;
  for (const auto& record : instances) logs += ReadFile(record["logFile"].get<std::string>());
  EXPECT_NE(logs.find("attempt already claimed"), std::string::npos) << logs;

  StatusOr<dispatch::StopResult> result =
      executor.Stop({{kUid, "master", "d2"}, milliseconds(500)});
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_TRUE(result->stopped);
  EXPECT_TRUE(dispatch::testing::MarkedSessionLeaders("d2").empty());
}

TEST_F(PowerJobExecutorTest, StopBeforeDeliveryLeavesNothingRunning) {
  PowerJobExecutorOptions options = Options();
  options.lookup_host = [](const dispatch::AttemptRef&) { return PowerJobHost(); };
  PowerJobExecutor executor(options, *client_, clock_);

  StatusOr<dispatch::StopResult> result =
      executor.Stop({{kUid, "master", "d3"}, milliseconds(500)});
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_TRUE(result->stopped);
  EXPECT_EQ(ReadFile(AttemptPath("d3", dispatch::kStopReasonFile)), "cancelled\n");

  // The late delivery finds the attempt claimed and starts nothing.
  ASSERT_TRUE(executor.Dispatch(Request("d3", "echo ran > ran\nsleep 1000\n")).ok());
  StatusOr<InstanceInfo> info = Status::NotFound("not fetched yet");
  ASSERT_TRUE(WaitUntil(
      [&] {
        info = executor.InstanceStatus("d3");
        return info.ok() && IsFinished(info->status);
      },
      seconds(20)));
  EXPECT_EQ(info->status, kSucceed) << info->result;
  EXPECT_NE(info->result.find("attempt already claimed"), std::string::npos) << info->result;
  EXPECT_FALSE(std::filesystem::exists(AttemptPath("d3", "ran")));
  EXPECT_TRUE(dispatch::testing::MarkedSessionLeaders("d3").empty());
  EXPECT_TRUE(report_.sink().Get("d3")->started.empty());

  StatusOr<AttemptInfo> inspected = executor.Inspect({kUid, "master", "d3"});
  ASSERT_TRUE(inspected.ok()) << inspected.status().ToString();
  EXPECT_EQ(inspected->state, AttemptState::kCancelled)
      << dispatch::AttemptStateName(inspected->state);
  EXPECT_EQ(inspected->stop_reason, "cancelled");
}

TEST_F(PowerJobExecutorTest, InspectReadsRunningThenExitedAttempt) {
  PowerJobExecutor executor(Options(), *client_, clock_);
  ASSERT_TRUE(executor.Dispatch(Request("d4", "echo hi\nsleep 1000\n")).ok());
  ASSERT_TRUE(WaitStarted("d4"));

  StatusOr<AttemptInfo> running = executor.Inspect({kUid, "master", "d4"});
  ASSERT_TRUE(running.ok()) << running.status().ToString();
  EXPECT_EQ(running->state, AttemptState::kRunning) << dispatch::AttemptStateName(running->state);
  EXPECT_TRUE(running->alive);
  EXPECT_TRUE(running->launcher_alive);
  EXPECT_EQ(running->pid, ReadIntFile(AttemptPath("d4", "service.pid")));
  EXPECT_EQ(running->attempt_dir, AttemptPath("d4", "").parent_path().string());

  ASSERT_TRUE(executor.Stop({{kUid, "master", "d4"}, milliseconds(500)}).ok());
  StatusOr<AttemptInfo> exited = executor.Inspect({kUid, "master", "d4"});
  ASSERT_TRUE(exited.ok()) << exited.status().ToString();
  EXPECT_EQ(exited->state, AttemptState::kExited) << dispatch::AttemptStateName(exited->state);
  EXPECT_EQ(exited->exit_status, 143);
  EXPECT_FALSE(exited->alive);
  EXPECT_EQ(exited->log_bytes, 3);
}

TEST_F(PowerJobExecutorTest, NoWorkerShowsInStatusAndHealth) {
  standin_->SetFaults({{"no-worker", true}});
  PowerJobExecutor executor(Options(), *client_, clock_);
  ASSERT_TRUE(executor.Dispatch(Request("d5", "sleep 1000\n")).ok());

  StatusOr<InstanceInfo> info = executor.InstanceStatus("d5");
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->status, kFailed);
  EXPECT_EQ(info->result, kNoWorkerAvailable);
  std::optional<DispatchHealth> health = executor.HostHealth(kHostName);
  ASSERT_TRUE(health.has_value());
  EXPECT_FALSE(health->ok());
  EXPECT_NE(health->last_error.find("no worker available"), std::string::npos);

  StatusOr<AttemptInfo> inspected = executor.Inspect({kUid, "master", "d5"});
  ASSERT_TRUE(inspected.ok()) << inspected.status().ToString();
  EXPECT_EQ(inspected->state, AttemptState::kNotClaimed);
  StatusOr<dispatch::StopResult> stop = executor.Stop({{kUid, "master", "d5"}, milliseconds(500)});
  ASSERT_FALSE(stop.ok());
  EXPECT_EQ(stop.status().code(), Code::kUnavailable) << stop.status().ToString();
  EXPECT_NE(stop.status().message().find("no worker " + std::string(testing::kWorker)),
            std::string::npos);
}

TEST_F(PowerJobExecutorTest, UnreachableServerIsUnavailable) {
  std::unique_ptr<Client> dead = MakeClient({testing::DeadUrl()}, seconds(2));
  PowerJobExecutor executor(Options(), *dead, clock_);
  Status status = executor.Dispatch(Request("d6", "sleep 1\n"));
  EXPECT_EQ(status.code(), Code::kUnavailable) << status.ToString();
  EXPECT_NE(status.message().find("dispatch d6 to worker 127.0.0.1:27777"), std::string::npos);
  ASSERT_TRUE(executor.HostHealth(kHostName).has_value());
  EXPECT_FALSE(executor.HostHealth(kHostName)->ok());
  EXPECT_FALSE(RecordedInstance("d6").has_value());
}

TEST_F(PowerJobExecutorTest, LostRunJobAnswerIsDeadlineExceeded) {
  std::unique_ptr<Client> client = MakeClient({standin_->url()}, milliseconds(1000));
  PowerJobExecutor executor(Options(), *client, clock_);
  ASSERT_TRUE(executor.Dispatch(Request("d7a", "exit 0\n")).ok());

  standin_->SetFaults({{"slow", 2.0}});
  Status status = executor.Dispatch(Request("d7", "sleep 1000\n"));
  EXPECT_EQ(status.code(), Code::kDeadlineExceeded) << status.ToString();
  EXPECT_NE(status.message().find("not repeated automatically"), std::string::npos);
  EXPECT_FALSE(RecordedInstance("d7").has_value());
  // The launcher was delivered all the same, exactly once. The stand-in
  // leaves a call whose late response could not be written out of its call
  // log, so its instances are counted instead.
  EXPECT_TRUE(WaitStarted("d7"));
  EXPECT_EQ(standin_->Instances().size(), 2u);

  standin_->SetFaults(nlohmann::json::object(), {"slow"});
  StatusOr<dispatch::StopResult> result =
      executor.Stop({{kUid, "master", "d7"}, milliseconds(500)});
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_TRUE(result->stopped);
  EXPECT_TRUE(dispatch::testing::MarkedSessionLeaders("d7").empty());
}

TEST_F(PowerJobExecutorTest, RestartedExecutorStopsThroughLookups) {
  {
    PowerJobExecutor first(Options(), *client_, clock_);
    ASSERT_TRUE(first.Dispatch(Request("d8", "sleep 1000\n")).ok());
  }
  ASSERT_TRUE(WaitStarted("d8"));

  // A new svcd: a new client and executor that know the dispatch only
  // through the stored instance id and job ids.
  std::unique_ptr<Client> client = MakeClient({standin_->url()}, seconds(10));
  PowerJobExecutorOptions options = Options();
  options.lookup_instance = [this](const std::string& id) { return RecordedInstance(id); };
  options.lookup_job = [this](const std::string& worker, JobKind kind) -> std::optional<int64_t> {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = jobs_.find({worker, kind});
    return it == jobs_.end() ? std::nullopt : std::optional<int64_t>(it->second);
  };
  PowerJobExecutor second(options, *client, clock_);
  StatusOr<AttemptInfo> adopted = second.Inspect({kUid, "master", "d8"});
  ASSERT_TRUE(adopted.ok()) << adopted.status().ToString();
  EXPECT_EQ(adopted->state, AttemptState::kRunning);

  StatusOr<dispatch::StopResult> result = second.Stop({{kUid, "master", "d8"}, milliseconds(500)});
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_TRUE(result->stopped);
  EXPECT_TRUE(dispatch::testing::MarkedSessionLeaders("d8").empty());
  // The attempt job was confirmed with fetchJob, not saved again.
  EXPECT_EQ(standin_->Count("saveJob"), 2);
  EXPECT_GE(standin_->Count("fetchJob"), 1);
}

TEST_F(PowerJobExecutorTest, DispatchRejectsHostWithoutWorker) {
  PowerJobExecutor executor(Options(), *client_, clock_);
  dispatch::DispatchRequest request = Request("d9", "true\n");
  request.host.spec.powerjob.reset();
  Status status = executor.Dispatch(request);
  EXPECT_EQ(status.code(), Code::kInvalidArgument);
  ASSERT_FALSE(status.causes().empty());
  EXPECT_EQ(status.causes()[0].field, "host.spec.powerjob.workerAddress");

  request = Request("d9", "true\n");
  request.host.spec.powerjob->worker_address = "10.0.0.1:1,10.0.0.2:1";
  EXPECT_EQ(executor.Dispatch(request).code(), Code::kInvalidArgument);
  request = Request("../d9", "true\n");
  EXPECT_EQ(executor.Dispatch(request).code(), Code::kInvalidArgument);
  EXPECT_EQ(standin_->Count("runJob"), 0);
}

TEST_F(PowerJobExecutorTest, WorksWithOldServerProfile) {
  StartStandin({}, "4.3");
  PowerJobExecutor executor(Options(), *client_, clock_);
  ASSERT_TRUE(executor.Dispatch(Request("d10", "sleep 1000\n")).ok());
  ASSERT_TRUE(WaitStarted("d10"));
  StatusOr<dispatch::StopResult> result =
      executor.Stop({{kUid, "master", "d10"}, milliseconds(500)});
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_TRUE(result->stopped);
  EXPECT_TRUE(dispatch::testing::MarkedSessionLeaders("d10").empty());
  EXPECT_EQ(client_->profile(), Profile::kV4);
}

}  // namespace
}  // namespace svcd::powerjob
