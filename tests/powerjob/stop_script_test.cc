// The stop script run directly under dash and under bash, against attempts
// that the local executor started, without PowerJob in between.

#include "powerjob/stop_script.h"

#include <gtest/gtest.h>

#include <thread>

#include "dispatch/local_executor.h"
#include "dispatch/process_table.h"
#include "dispatch/run_dir.h"
#include "tests/dispatch/test_support.h"

namespace svcd::powerjob {
namespace {

using dispatch::ReadIntFile;
using dispatch::testing::ProcessAlive;
using dispatch::testing::ReadFile;
using dispatch::testing::Shell;
using dispatch::testing::WaitUntil;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kSecret[] = "s3cret-0123456789abcdef";
constexpr char kUid[] = "uid-stop";

class StopScriptRunTest : public ::testing::TestWithParam<Shell> {
 protected:
  void SetUp() override { ASSERT_TRUE(report_.Start()); }

  std::filesystem::path RunDir() const {
    return dispatch::TargetRunDir(dir_.path() / "data", kUid, "master");
  }

  // Runs the script of `spec` under the shell being tested and returns its
  // stdout and stderr.
  std::string Run(StopScriptSpec spec, const std::string& path_prefix = "") {
    spec.run_dir = RunDir().string();
    spec.poll = milliseconds(100);
    StatusOr<std::string> script = RenderStopScript(spec);
    EXPECT_TRUE(script.ok()) << script.status().ToString();
    const std::filesystem::path file = dir_.path() / ("stop-" + std::to_string(++runs_) + ".sh");
    dispatch::testing::WriteFile(file, *script);
    const std::filesystem::path output = file.string() + ".out";
    dispatch::testing::ChildProcess child(
        {GetParam().path, file.string()},
        {"PATH=" + path_prefix + "/usr/local/bin:/usr/bin:/bin", "LANG=C"}, output);
    EXPECT_TRUE(child.Wait(seconds(60)).has_value());
    return ReadFile(output);
  }

  dispatch::DispatchRequest Request(const std::string& id, const std::string& script) {
    report_.sink().AddAttempt(id, kSecret, 1);
    dispatch::DispatchRequest request;
    request.attempt = {kUid, "master", id};
    request.script = script;
    request.secret = kSecret;
    request.lease = 1;
    request.report_url = report_.BaseUrl();
    request.heartbeat_seconds = 1;
    request.stop_grace_seconds = 1;
    return request;
  }

  dispatch::LocalExecutorOptions LocalOptions() const {
    dispatch::LocalExecutorOptions options;
    options.data_dir = dir_.path() / "data";
    options.final_report_seconds = 10;
    return options;
  }

  dispatch::testing::TempDir dir_;
  dispatch::testing::ReportServer report_;
  reconciler::RealClock clock_;
  int runs_ = 0;
};

TEST_P(StopScriptRunTest, StopsSetsidGrandchildAndReportsGone) {
  dispatch::LocalExecutor local(LocalOptions(), clock_);
  const std::string script =
      "trap '' TERM\n"
      "setsid sh -c 'trap \"\" TERM; echo $$ > grandchild.pid; while :; do sleep 1; done' &\n"
      "while :; do sleep 1; done\n";
  ASSERT_TRUE(local.Dispatch(Request("s1", script)).ok());
  const std::filesystem::path attempt = dispatch::AttemptDir(RunDir(), "s1");
  ASSERT_TRUE(
      WaitUntil([&] { return ReadIntFile(attempt / "grandchild.pid").has_value(); }, seconds(10)));
  const pid_t grandchild = static_cast<pid_t>(*ReadIntFile(attempt / "grandchild.pid"));

  StopScriptSpec spec;
  spec.dispatch_id = "s1";
  spec.grace = milliseconds(500);
  spec.launcher_exit = seconds(10);
  spec.kill = seconds(3);
  const std::string output = Run(spec);
  StatusOr<StopOutput> parsed = ParseStopOutput(output);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_TRUE(parsed->result.stopped) << output;
  EXPECT_FALSE(parsed->claimed);
  EXPECT_EQ(parsed->result.exit_status, 137);
  EXPECT_FALSE(ProcessAlive(grandchild));
  EXPECT_TRUE(dispatch::testing::MarkedSessionLeaders("s1").empty());
}

// A daemon whose parent exited is found only through SVCD_DISPATCH_ID in
// its environment. With a grep that has no -z, the script still finds it.
TEST_P(StopScriptRunTest, FindsOrphanedDaemonWithoutGrepZ) {
  const std::filesystem::path bin = dir_.path() / "no-grep-z";
  std::filesystem::create_directories(bin);
  dispatch::testing::WriteFile(bin / "grep",
                               "#!/bin/sh\n"
                               "for arg in \"$@\"; do\n"
                               "  case $arg in -z) echo \"grep: invalid option -- 'z'\" >&2; "
                               "exit 2 ;; esac\n"
                               "done\n"
                               "exec /bin/grep \"$@\"\n");
  std::filesystem::permissions(bin / "grep", std::filesystem::perms::owner_all);
  dispatch::LocalExecutor local(LocalOptions(), clock_);
  const std::string script =
      "setsid sh -c 'trap \"\" TERM; echo $$ > daemon.pid; while :; do sleep 1; done' &\n"
      "sleep 1\n"
      "exit 0\n";
  ASSERT_TRUE(local.Dispatch(Request("s4", script)).ok());
  const std::filesystem::path attempt = dispatch::AttemptDir(RunDir(), "s4");
  ASSERT_TRUE(WaitUntil([&] { return ReadIntFile(attempt / dispatch::kExitFile).has_value(); },
                        seconds(20)));
  const pid_t daemon = static_cast<pid_t>(ReadIntFile(attempt / "daemon.pid").value_or(0));
  ASSERT_GT(daemon, 0);
  ASSERT_TRUE(ProcessAlive(daemon));

  StopScriptSpec spec;
  spec.dispatch_id = "s4";
  spec.grace = milliseconds(500);
  spec.launcher_exit = seconds(10);
  spec.kill = seconds(3);
  const std::string output = Run(spec, bin.string() + ":");
  StatusOr<StopOutput> parsed = ParseStopOutput(output);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString() << "\n" << output;
  EXPECT_TRUE(parsed->result.stopped) << output;
  EXPECT_TRUE(WaitUntil([&] { return !ProcessAlive(daemon); }, seconds(5))) << output;
}

TEST_P(StopScriptRunTest, ClaimsUnclaimedAttemptSoDeliveryStartsNothing) {
  StopScriptSpec spec;
  spec.dispatch_id = "s2";
  StatusOr<StopOutput> parsed = ParseStopOutput(Run(spec));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_TRUE(parsed->claimed);
  EXPECT_TRUE(parsed->result.stopped);
  const std::filesystem::path attempt = dispatch::AttemptDir(RunDir(), "s2");
  EXPECT_EQ(ReadFile(attempt / dispatch::kStopReasonFile), "cancelled\n");

  dispatch::LocalExecutor local(LocalOptions(), clock_);
  ASSERT_TRUE(local.Dispatch(Request("s2", "echo ran > ran\n")).ok());
  std::this_thread::sleep_for(seconds(1));
  EXPECT_FALSE(std::filesystem::exists(attempt / "ran"));

  spec.mode = StopScriptSpec::Mode::kInspect;
  StatusOr<dispatch::AttemptInfo> info = ParseInspectOutput(Run(spec), attempt.string());
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->state, dispatch::AttemptState::kCancelled);
}

TEST_P(StopScriptRunTest, InspectChangesNothing) {
  StopScriptSpec spec;
  spec.mode = StopScriptSpec::Mode::kInspect;
  spec.dispatch_id = "s3";
  StatusOr<dispatch::AttemptInfo> info = ParseInspectOutput(Run(spec), "x");
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->state, dispatch::AttemptState::kNotClaimed);
  EXPECT_FALSE(std::filesystem::exists(RunDir()));

  dispatch::LocalExecutor local(LocalOptions(), clock_);
  ASSERT_TRUE(local.Dispatch(Request("s3", "echo hello\nexit 3\n")).ok());
  ASSERT_TRUE(report_.sink().WaitFor(
      "s3", [](const auto& a) { return !a.exits.empty(); }, seconds(15)));
  info = ParseInspectOutput(Run(spec), "x");
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->state, dispatch::AttemptState::kExited);
  EXPECT_EQ(info->exit_status, 3);
  EXPECT_EQ(info->log_bytes, 6);
  EXPECT_EQ(info->log_bytes_reported, 6);
  EXPECT_FALSE(info->alive);
}

INSTANTIATE_TEST_SUITE_P(Shells, StopScriptRunTest,
                         ::testing::ValuesIn(dispatch::testing::TestShells()),
                         [](const ::testing::TestParamInfo<Shell>& info) {
                           return info.param.label;
                         });

}  // namespace
}  // namespace svcd::powerjob
