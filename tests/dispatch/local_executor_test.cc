// The local executor with real launchers, real services and a real report
// server on 127.0.0.1.

#include "dispatch/local_executor.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <thread>

#include "dispatch/process_table.h"
#include "dispatch/run_dir.h"
#include "tests/dispatch/test_support.h"

namespace svcd::dispatch {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::ReadFile;
using testing::WaitUntil;

constexpr char kSecret[] = "s3cret-0123456789abcdef";
constexpr int64_t kLease = 2;
constexpr char kUid[] = "uid-1";

bool ProcEntryExists(int64_t pid) {
  return std::filesystem::exists("/proc/" + std::to_string(pid));
}

class LocalExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.Start()); }

  LocalExecutorOptions Options() const {
    LocalExecutorOptions options;
    options.data_dir = dir_.path() / "data";
    options.poll_interval = milliseconds(50);
    options.launcher_exit_timeout = seconds(10);
    options.kill_timeout = seconds(3);
    options.final_report_seconds = 10;
    return options;
  }

  DispatchRequest Request(const std::string& id, const std::string& script) {
    server_.sink().AddAttempt(id, kSecret, kLease);
    DispatchRequest request;
    request.attempt = {kUid, "master", id};
    request.script = script;
    request.description = "deploy test/local, target master";
    request.secret = kSecret;
    request.lease = kLease;
    request.report_url = server_.BaseUrl();
    request.heartbeat_seconds = 1;
    request.stop_grace_seconds = 1;
    return request;
  }

  std::filesystem::path AttemptPath(const std::string& id, const std::string& file) const {
    return AttemptDir(TargetRunDir(dir_.path() / "data", kUid, "master"), id) / file;
  }

  // Polls Inspect until `condition` returns true; returns the last AttemptInfo.
  AttemptInfo InspectUntil(Executor& executor, const std::string& id,
                           const std::function<bool(const AttemptInfo&)>& condition) {
    AttemptInfo info;
    WaitUntil(
        [&] {
          StatusOr<AttemptInfo> read = executor.Inspect({kUid, "master", id});
          if (read.ok()) info = *read;
          return read.ok() && condition(info);
        },
        seconds(20));
    return info;
  }

  testing::TempDir dir_;
  testing::ReportServer server_;
  reconciler::RealClock clock_;
};

TEST_F(LocalExecutorTest, DispatchRunsScriptAndReapsLauncher) {
  LocalExecutor executor(Options(), clock_);
  ASSERT_TRUE(executor.Dispatch(Request("a1", "echo hello\nexit 3\n")).ok());

  AttemptInfo info = InspectUntil(executor, "a1", [](const AttemptInfo& i) {
    return i.state == AttemptState::kExited && !i.launcher_alive;
  });
  EXPECT_EQ(info.state, AttemptState::kExited) << AttemptStateName(info.state);
  EXPECT_EQ(info.exit_status, 3);
  EXPECT_EQ(info.log_bytes, 6);
  ASSERT_TRUE(server_.sink().WaitFor(
      "a1", [](const auto& a) { return a.exits.size() == 1 && a.log == "hello\n"; }, seconds(15)));
  ASSERT_TRUE(info.launcher_pid.has_value());
  EXPECT_TRUE(WaitUntil([&] { return !ProcEntryExists(*info.launcher_pid); }, seconds(10)))
      << "the launcher was not reaped";
}

TEST_F(LocalExecutorTest, StopKillsTreeWithSetsidGrandchild) {
  LocalExecutor executor(Options(), clock_);
  const std::string script =
      "trap '' TERM\n"
      "setsid sh -c 'trap \"\" TERM; echo $$ > grandchild.pid; while :; do sleep 1; done' &\n"
      "sleep 1000 &\n"
      "while :; do sleep 1; done\n";
  ASSERT_TRUE(executor.Dispatch(Request("a2", script)).ok());
  ASSERT_TRUE(WaitUntil(
      [&] { return ReadIntFile(AttemptPath("a2", "grandchild.pid")).has_value(); }, seconds(10)));
  const pid_t grandchild = static_cast<pid_t>(*ReadIntFile(AttemptPath("a2", "grandchild.pid")));
  const pid_t service = static_cast<pid_t>(*ReadIntFile(AttemptPath("a2", kServicePidFile)));
  ASSERT_EQ(ReadProcess(grandchild)->session, grandchild) << "the grandchild did not call setsid";

  StatusOr<StopResult> result = executor.Stop({{kUid, "master", "a2"}, milliseconds(500)});

  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_TRUE(result->stopped);
  EXPECT_TRUE(result->survivors.empty());
  EXPECT_GE(result->signalled, 2);
  EXPECT_FALSE(testing::ProcessAlive(grandchild));
  EXPECT_FALSE(testing::ProcessAlive(service));
  EXPECT_EQ(result->exit_status, 137);
  EXPECT_TRUE(testing::MarkedSessionLeaders("a2").empty());
  EXPECT_TRUE(server_.sink().WaitFor(
      "a2", [](const auto& a) { return a.exits.size() == 1 && a.exits[0].exit_code == 137; },
      seconds(15)));
}

// A cgroup v1 freezer group: a frozen process cannot die, even from KILL,
// until it is thawed, which makes it a real survivor.
class FrozenGroup {
 public:
  FrozenGroup() : dir_("/sys/fs/cgroup/freezer/svcd-test-" + std::to_string(getpid())) {
    std::error_code error;
    usable_ = std::filesystem::create_directory(dir_, error);
  }
  ~FrozenGroup() {
    if (!usable_) return;
    std::ofstream(dir_ / "freezer.state") << "THAWED\n";
    WaitUntil([&] { return ReadFile(dir_ / "tasks").empty(); }, seconds(5));
    std::error_code error;
    std::filesystem::remove(dir_, error);
  }
  bool usable() const { return usable_; }
  bool Freeze(pid_t pid) {
    std::ofstream(dir_ / "tasks") << pid << "\n";
    std::ofstream(dir_ / "freezer.state") << "FROZEN\n";
    return WaitUntil([&] { return ReadFile(dir_ / "freezer.state") == "FROZEN\n"; }, seconds(5));
  }

 private:
  std::filesystem::path dir_;
  bool usable_ = false;
};

TEST_F(LocalExecutorTest, StopReportsSurvivorItCannotKill) {
  FrozenGroup frozen;
  if (!frozen.usable()) {
    GTEST_SKIP() << "needs a writable cgroup v1 freezer at /sys/fs/cgroup/freezer";
  }
  LocalExecutor executor(Options(), clock_);
  ASSERT_TRUE(executor.Dispatch(Request("a3", "sleep 1000 &\necho $! > child.pid\nwait\n")).ok());
  ASSERT_TRUE(WaitUntil([&] { return ReadIntFile(AttemptPath("a3", "child.pid")).has_value(); },
                        seconds(10)));
  const pid_t child = static_cast<pid_t>(*ReadIntFile(AttemptPath("a3", "child.pid")));
  ASSERT_TRUE(frozen.Freeze(child));

  StatusOr<StopResult> result = executor.Stop({{kUid, "master", "a3"}, milliseconds(500)});

  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_FALSE(result->stopped);
  ASSERT_EQ(result->survivors.size(), 1u);
  EXPECT_EQ(result->survivors[0].pid, child);
  EXPECT_EQ(result->survivors[0].command, "sleep");
  EXPECT_EQ(result->survivors[0].role, "descendant");
}

TEST_F(LocalExecutorTest, InspectAdoptsAttemptsAfterExecutorRestart) {
  pid_t running = 0;
  {
    LocalExecutor first(Options(), clock_);
    ASSERT_TRUE(first.Dispatch(Request("long", "sleep 1000\n")).ok());
    ASSERT_TRUE(first.Dispatch(Request("short", "sleep 2\nexit 3\n")).ok());
    AttemptInfo info = InspectUntil(
        first, "long", [](const AttemptInfo& i) { return i.state == AttemptState::kRunning; });
    ASSERT_TRUE(info.pid.has_value());
    running = static_cast<pid_t>(*info.pid);
  }

  // A new executor, as after an svcd restart, finds the attempt still running.
  LocalExecutor second(Options(), clock_);
  StatusOr<AttemptInfo> info = second.Inspect({kUid, "master", "long"});
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->state, AttemptState::kRunning);
  EXPECT_EQ(info->pid, running);
  EXPECT_TRUE(info->alive);
  EXPECT_TRUE(info->launcher_alive);

  // Delivering the running attempt again starts no second process.
  ASSERT_TRUE(second.Dispatch(Request("long", "sleep 1000\n")).ok());
  std::this_thread::sleep_for(seconds(1));
  EXPECT_EQ(testing::MarkedSessionLeaders("long"), std::vector<pid_t>{running});

  // The attempt that ended while no executor existed shows its exit code.
  AttemptInfo short_info = InspectUntil(
      second, "short", [](const AttemptInfo& i) { return i.state == AttemptState::kExited; });
  EXPECT_EQ(short_info.exit_status, 3);

  // A later kill -9 of the service is recorded by its adopted launcher.
  kill(running, SIGKILL);
  AttemptInfo killed = InspectUntil(second, "long", [](const AttemptInfo& i) {
    return i.state == AttemptState::kExited && !i.launcher_alive;
  });
  EXPECT_EQ(killed.exit_status, 137);
  EXPECT_TRUE(WaitUntil([&] { return !ProcEntryExists(*killed.launcher_pid); }, seconds(10)))
      << "the adopted launcher was not reaped";
}

TEST_F(LocalExecutorTest, ServiceOutlivesKilledSvcd) {
  const std::string id = "survive";
  server_.sink().AddAttempt(id, kSecret, kLease);
  testing::WriteFile(dir_.path() / "script.sh", "sleep 1000\n");
  const std::filesystem::path ready = dir_.path() / "ready";
  testing::ChildProcess svcd({SVCD_FAKE_SVCD, (dir_.path() / "data").string(), kUid, "master", id,
                              kSecret, std::to_string(kLease), server_.BaseUrl(),
                              (dir_.path() / "script.sh").string(), ready.string()},
                             {"PATH=/usr/local/bin:/usr/bin:/bin"}, dir_.path() / "svcd.out");
  ASSERT_TRUE(WaitUntil([&] { return std::filesystem::exists(ready); }, seconds(10)))
      << ReadFile(dir_.path() / "svcd.out");
  ASSERT_TRUE(server_.sink().WaitFor(
      id, [](const auto& a) { return !a.heartbeats.empty(); }, seconds(15)));

  svcd.Kill(SIGKILL);
  ASSERT_EQ(svcd.Wait(seconds(10)), 137);
  const size_t heartbeats = server_.sink().Get(id)->heartbeats.size();
  EXPECT_TRUE(server_.sink().WaitFor(
      id, [&](const auto& a) { return a.heartbeats.size() >= heartbeats + 2; }, seconds(15)))
      << "reports stopped with svcd";

  LocalExecutor executor(Options(), clock_);
  StatusOr<AttemptInfo> info = executor.Inspect({kUid, "master", id});
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->state, AttemptState::kRunning);
  EXPECT_TRUE(info->alive);
  StatusOr<StopResult> result = executor.Stop({{kUid, "master", id}, seconds(2)});
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->stopped);
  EXPECT_EQ(result->exit_status, 143);
}

TEST_F(LocalExecutorTest, StopBeforeDispatchCancelsAttempt) {
  LocalExecutor executor(Options(), clock_);
  StatusOr<StopResult> result = executor.Stop({{kUid, "master", "late"}, seconds(1)});
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_TRUE(result->stopped);

  ASSERT_TRUE(executor.Dispatch(Request("late", "sleep 1000\n")).ok());
  const std::filesystem::path output =
      TargetRunDir(dir_.path() / "data", kUid, "master") / "launchers" / "late.out";
  EXPECT_TRUE(WaitUntil(
      [&] { return ReadFile(output).find("already claimed") != std::string::npos; }, seconds(10)))
      << ReadFile(output);
  EXPECT_TRUE(testing::MarkedSessionLeaders("late").empty());
  StatusOr<AttemptInfo> info = executor.Inspect({kUid, "master", "late"});
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->state, AttemptState::kCancelled);
  EXPECT_EQ(info->stop_reason, kStopReasonCancelled);
}

TEST_F(LocalExecutorTest, RejectsHostileIdsAndWritesNothing) {
  LocalExecutor executor(Options(), clock_);
  DispatchRequest request = Request("ok-id", "true\n");
  request.attempt.deploy_uid = "../etc";
  request.attempt.target = "a/b";
  Status status = executor.Dispatch(request);
  ASSERT_EQ(status.code(), Code::kInvalidArgument);
  ASSERT_EQ(status.causes().size(), 2u);
  EXPECT_EQ(status.causes()[0].field, "attempt.deploy_uid");
  EXPECT_EQ(status.causes()[1].field, "attempt.target");
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "data"));

  EXPECT_EQ(executor.Stop({{kUid, "master", ".."}, seconds(1)}).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(executor.Inspect({kUid, "", "x"}).status().code(), Code::kInvalidArgument);
}

TEST_F(LocalExecutorTest, ServiceGetsNoSvcdSecretsFromEnvironment) {
  setenv("SVCD_STORE_PASSWORD", "do-not-leak", 1);
  LocalExecutor executor(Options(), clock_);
  ASSERT_TRUE(executor.Dispatch(Request("env", "env > env.txt\n")).ok());
  InspectUntil(executor, "env",
               [](const AttemptInfo& i) { return i.state == AttemptState::kExited; });
  unsetenv("SVCD_STORE_PASSWORD");

  const std::string env = ReadFile(AttemptPath("env", "env.txt"));
  EXPECT_EQ(env.find("do-not-leak"), std::string::npos);
  EXPECT_NE(env.find("SVCD_DISPATCH_ID=env\n"), std::string::npos) << env;
  EXPECT_EQ(env.find(kSecret), std::string::npos) << "the report secret reached the service";
}

}  // namespace
}  // namespace svcd::dispatch
