// The launcher as a real process under dash and under bash started as `sh`,
// reporting to a real HTTP server on 127.0.0.1.

#include "dispatch/launcher.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <thread>

#include "dispatch/process_table.h"
#include "dispatch/run_dir.h"
#include "render/shell.h"
#include "tests/dispatch/test_support.h"

namespace svcd::dispatch {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::ChildProcess;
using testing::ReadFile;
using testing::ReportServer;
using testing::Shell;
using testing::TempDir;
using testing::WaitUntil;

constexpr char kId[] = "attempt-1";
constexpr char kSecret[] = "s3cret-0123456789abcdef";
constexpr int64_t kLease = 4;

class LauncherTest : public ::testing::TestWithParam<Shell> {
 protected:
  void SetUp() override {
    env_ = testing::ShellEnvironment(GetParam(), dir_.path());
    ASSERT_TRUE(server_.Start());
    server_.sink().AddAttempt(kId, kSecret, kLease);
  }

  LaunchSpec Spec(const std::string& script) const {
    LaunchSpec spec;
    spec.script = script;
    spec.run_dir = (dir_.path() / "run").string();
    spec.report_url = server_.BaseUrl();
    spec.dispatch_id = kId;
    spec.secret = kSecret;
    spec.lease = kLease;
    spec.description = "deploy test/launcher, target master";
    spec.heartbeat_seconds = 1;
    spec.stop_grace_seconds = 1;
    spec.final_report_seconds = 20;
    return spec;
  }

  // Writes the launcher for `spec` and starts it under the test's shell.
  std::unique_ptr<ChildProcess> Launch(const LaunchSpec& spec, const std::string& name = "l") {
    StatusOr<std::string> text = RenderLauncher(spec);
    EXPECT_TRUE(text.ok()) << text.status().ToString();
    const std::filesystem::path file = dir_.path() / (name + ".sh");
    testing::WriteFile(file, text.ok() ? *text : "exit 99\n");
    return std::make_unique<ChildProcess>(
        std::vector<std::string>{(dir_.path() / "bin" / "sh").string(), file.string()}, env_,
        Output(name));
  }

  std::filesystem::path Output(const std::string& name) const {
    return dir_.path() / (name + ".out");
  }
  std::filesystem::path AttemptFile(const char* name) const {
    return dir_.path() / "run" / "attempts" / kId / name;
  }

  // Waits for service.pid and returns it, or 0.
  pid_t ServicePid() const {
    WaitUntil([&] { return ReadIntFile(AttemptFile(kServicePidFile)).has_value(); }, seconds(10));
    return static_cast<pid_t>(ReadIntFile(AttemptFile(kServicePidFile)).value_or(0));
  }

  FakeObservationSink::Attempt Reports() const { return *server_.sink().Get(kId); }

  bool WaitReports(const std::function<bool(const FakeObservationSink::Attempt&)>& condition) {
    return server_.sink().WaitFor(kId, condition, seconds(15));
  }

  // True when some live process is still in process group `group`.
  static bool GroupAlive(pid_t group) {
    for (const ProcessInfo& info : ListProcesses()) {
      if (info.pgrp == group && info.live()) return true;
    }
    return false;
  }

  TempDir dir_;
  std::vector<std::string> env_;
  mutable ReportServer server_;
};

TEST_P(LauncherTest, ReportsEveryEventWithSecretAndLease) {
  // The comment contains quotes, a command substitution, a backslash and a
  // heredoc-like word, which must all reach script.sh unchanged.
  const std::string script =
      "# it's \"quoted\" $(exit 3) \\ EOF '\n"
      "echo first line\n"
      "sleep 2\n"
      "printf 'second line\\n'\n"
      "exit 7\n";
  auto launcher = Launch(Spec(script));

  ASSERT_EQ(launcher->Wait(seconds(30)), 7) << ReadFile(Output("l"));
  EXPECT_EQ(ReadFile(AttemptFile(kExitFile)), "7\n");
  EXPECT_EQ(ReadFile(AttemptFile(kScriptFile)), script);
  const pid_t pid = static_cast<pid_t>(ReadIntFile(AttemptFile(kServicePidFile)).value_or(0));
  ASSERT_GT(pid, 0);

  FakeObservationSink::Attempt reports = Reports();
  ASSERT_EQ(reports.started.size(), 1u);
  EXPECT_EQ(reports.started[0].pid, pid);
  EXPECT_FALSE(reports.started[0].hostname.empty());
  const int64_t now_ms =
      std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  EXPECT_LT(std::abs(now_ms - reports.started[0].start_time_ms), 60 * 1000);
  ASSERT_FALSE(reports.heartbeats.empty());
  EXPECT_EQ(reports.heartbeats[0].pid, pid);
  EXPECT_GT(reports.heartbeats[0].mem_bytes, 0);
  EXPECT_EQ(reports.log, "first line\nsecond line\n");
  ASSERT_EQ(reports.exits.size(), 1u);
  EXPECT_EQ(reports.exits[0].exit_code, 7);
  EXPECT_TRUE(reports.rejected.empty());
}

TEST_P(LauncherTest, ReportsServiceThatExitsAtOnce) {
  auto launcher = Launch(Spec("exit 5\n"));

  ASSERT_EQ(launcher->Wait(seconds(30)), 5) << ReadFile(Output("l"));
  EXPECT_EQ(ReadFile(AttemptFile(kExitFile)), "5\n");
  FakeObservationSink::Attempt reports = Reports();
  // The report loop and the final report may both send "started" when the
  // service exits at once; reports may repeat, so each copy must agree.
  ASSERT_GE(reports.started.size(), 1u);
  for (const auto& started : reports.started) EXPECT_EQ(started.pid, reports.started[0].pid);
  ASSERT_EQ(reports.exits.size(), 1u);
  EXPECT_EQ(reports.exits[0].exit_code, 5);
}

TEST_P(LauncherTest, RecordsKillSignalAs137) {
  auto launcher = Launch(Spec("echo ready\nsleep 1000\n"));
  const pid_t pid = ServicePid();
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(WaitReports([](const auto& a) { return !a.started.empty(); }));

  ASSERT_EQ(kill(pid, SIGKILL), 0);

  ASSERT_EQ(launcher->Wait(seconds(30)), 137) << ReadFile(Output("l"));
  EXPECT_EQ(ReadFile(AttemptFile(kExitFile)), "137\n");
  ASSERT_TRUE(WaitReports([](const auto& a) { return !a.exits.empty(); }));
  EXPECT_EQ(Reports().exits[0].exit_code, 137);
  // The sleep that the killed shell left in its group is stopped as well.
  EXPECT_TRUE(WaitUntil([&] { return !GroupAlive(pid); }, seconds(10)));
}

TEST_P(LauncherTest, ReportsListeningPorts) {
  auto launcher = Launch(Spec(render::ShellQuote(SVCD_LISTEN_HELPER) + " port.txt &\nwait\n"));
  ASSERT_TRUE(
      WaitUntil([&] { return ReadIntFile(AttemptFile("port.txt")).has_value(); }, seconds(10)));
  const int port = static_cast<int>(*ReadIntFile(AttemptFile("port.txt")));

  EXPECT_TRUE(WaitReports([port](const auto& a) {
    return std::any_of(a.heartbeats.begin(), a.heartbeats.end(), [port](const auto& h) {
      return std::find(h.ports.begin(), h.ports.end(), port) != h.ports.end();
    });
  })) << "no heartbeat listed port "
      << port;

  const pid_t pid = ServicePid();
  ASSERT_GT(pid, 0);
  kill(-pid, SIGTERM);
  EXPECT_EQ(launcher->Wait(seconds(30)), 143);
}

TEST_P(LauncherTest, SendsLogBytesCompleteAndInOrder) {
  // Two bursts of lines with bytes that are neither text nor UTF-8.
  const std::string script =
      "i=0\n"
      "while [ $i -lt 3000 ]; do printf 'line %05d \\001\\377\\000\\n' $i; i=$((i+1)); done\n"
      "sleep 1\n"
      "i=0\n"
      "while [ $i -lt 3000 ]; do printf 'more %05d\\n' $i; i=$((i+1)); done\n";
  std::string expected;
  char line[64];
  for (int i = 0; i < 3000; ++i) {
    std::snprintf(line, sizeof(line), "line %05d \001\377", i);
    expected += line;
    expected += std::string("\0\n", 2);
  }
  for (int i = 0; i < 3000; ++i) {
    std::snprintf(line, sizeof(line), "more %05d\n", i);
    expected += line;
  }
  LaunchSpec spec = Spec(script);
  spec.max_log_chunk_bytes = 4096;
  auto launcher = Launch(spec);

  ASSERT_EQ(launcher->Wait(seconds(60)), 0) << ReadFile(Output("l"));
  FakeObservationSink::Attempt reports = Reports();
  EXPECT_EQ(reports.log.size(), expected.size());
  EXPECT_TRUE(reports.log == expected) << "the log bytes differ from what the script wrote";
  EXPECT_EQ(reports.missing_log_bytes, 0);
  int64_t end = 0;
  for (const auto& chunk : reports.log_chunks) {
    EXPECT_LE(chunk.size, 4096u);
    EXPECT_FALSE(chunk.resend);
    EXPECT_EQ(chunk.offset, end);
    end += static_cast<int64_t>(chunk.size);
  }
  EXPECT_EQ(ReadIntFile(AttemptFile(kLogOffsetFile)), static_cast<int64_t>(expected.size()));
  ASSERT_EQ(reports.exits.size(), 1u);
  EXPECT_EQ(reports.exits[0].exit_code, 0);
}

TEST_P(LauncherTest, SecondDeliveryStartsNoSecondProcess) {
  const LaunchSpec spec = Spec("sleep 1000\n");
  auto first = Launch(spec, "first");
  const pid_t pid = ServicePid();
  ASSERT_GT(pid, 0);

  auto second = Launch(spec, "second");
  ASSERT_EQ(second->Wait(seconds(10)), 0);
  EXPECT_NE(ReadFile(Output("second")).find("already claimed"), std::string::npos)
      << ReadFile(Output("second"));
  EXPECT_EQ(testing::MarkedSessionLeaders(kId), std::vector<pid_t>{pid});
  EXPECT_TRUE(testing::ProcessAlive(pid));

  ASSERT_TRUE(WaitReports([](const auto& a) { return a.heartbeats.size() >= 2; }));
  EXPECT_EQ(Reports().started.size(), 1u);
  kill(-pid, SIGKILL);
  EXPECT_EQ(first->Wait(seconds(30)), 137);
}

TEST_P(LauncherTest, ReportLoopEndsWhenTheLauncherIsKilled) {
  auto launcher = Launch(Spec("sleep 1000\n"));
  const pid_t pid = ServicePid();
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(WaitReports([](const auto& a) { return a.heartbeats.size() >= 1; }));

  ASSERT_EQ(kill(launcher->pid(), SIGKILL), 0);
  ASSERT_EQ(launcher->Wait(seconds(10)), 137);
  // One heartbeat may be in flight; after that the orphaned loop must stop.
  std::this_thread::sleep_for(seconds(2));
  const size_t heartbeats = Reports().heartbeats.size();
  std::this_thread::sleep_for(seconds(3));
  EXPECT_EQ(Reports().heartbeats.size(), heartbeats);
  kill(-pid, SIGKILL);
}

TEST_P(LauncherTest, ConflictStopsServiceThatIgnoresTerm) {
  auto launcher = Launch(Spec("trap '' TERM\nwhile :; do sleep 1; done\n"));
  const pid_t pid = ServicePid();
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(WaitReports([](const auto& a) { return !a.started.empty(); }));

  server_.sink().SetLease(kId, kLease + 1);

  // TERM is ignored, so the launcher has to send KILL after the grace period.
  ASSERT_EQ(launcher->Wait(seconds(30)), 137) << ReadFile(Output("l"));
  EXPECT_FALSE(GroupAlive(pid));
  EXPECT_EQ(ReadSmallFile(AttemptFile(kStopReasonFile)), kStopReasonSuperseded);
  EXPECT_NE(ReadFile(Output("l")).find("409"), std::string::npos);
  FakeObservationSink::Attempt reports = Reports();
  EXPECT_GE(reports.rejected[Code::kAborted], 1);
  EXPECT_TRUE(reports.exits.empty());
}

TEST_P(LauncherTest, WrongSecretStopsService) {
  server_.sink().AddAttempt(kId, "another-secret-0123456789", kLease);
  auto launcher = Launch(Spec("sleep 1000\n"));

  ASSERT_EQ(launcher->Wait(seconds(30)), 143) << ReadFile(Output("l"));
  EXPECT_EQ(ReadSmallFile(AttemptFile(kStopReasonFile)), kStopReasonUnauthenticated);
  EXPECT_GE(Reports().rejected[Code::kUnauthenticated], 1);
  EXPECT_TRUE(Reports().started.empty());
}

TEST_P(LauncherTest, KeepsServiceRunningWhileSvcdIsDown) {
  ReportServer later(testing::FreePort());
  later.sink().AddAttempt(kId, kSecret, kLease);
  LaunchSpec spec =
      Spec("i=0\nwhile [ $i -lt 20 ]; do echo tick $i; i=$((i+1)); sleep 0.1; done\nsleep 1000\n");
  spec.report_url = "http://127.0.0.1:" + std::to_string(later.port());
  auto launcher = Launch(spec);
  const pid_t pid = ServicePid();
  ASSERT_GT(pid, 0);

  // Three heartbeat periods with no server listening: the service keeps running.
  std::this_thread::sleep_for(seconds(3));
  EXPECT_TRUE(testing::ProcessAlive(pid));
  EXPECT_FALSE(launcher->Wait(milliseconds(0)).has_value());

  ASSERT_TRUE(later.Start());
  std::string expected;
  for (int i = 0; i < 20; ++i) expected += "tick " + std::to_string(i) + "\n";
  EXPECT_TRUE(later.sink().WaitFor(
      kId,
      [&](const auto& a) {
        return a.started.size() == 1 && !a.heartbeats.empty() && a.log == expected;
      },
      seconds(15)))
      << "reports did not resume";

  kill(-pid, SIGTERM);
  EXPECT_EQ(launcher->Wait(seconds(30)), 143);
  EXPECT_TRUE(later.sink().WaitFor(
      kId, [](const auto& a) { return a.exits.size() == 1 && a.exits[0].exit_code == 143; },
      seconds(15)));
}

// Reads a pid from a file the probe command wrote, or 0.
pid_t PidIn(const std::filesystem::path& file) {
  return static_cast<pid_t>(ReadIntFile(file).value_or(0));
}

TEST_P(LauncherTest, RunsExecProbeOnTheHostAndReportsEachRun) {
  LaunchSpec spec = Spec("sleep 1000\n");
  spec.probe_command = {"sh", "-c",
                        "echo \"pid=$SVCD_SERVICE_PID id=$SVCD_DISPATCH_ID\"; test -f ready"};
  spec.probe_period_seconds = 1;
  spec.probe_timeout_seconds = 5;
  auto launcher = Launch(spec);
  const pid_t pid = ServicePid();
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(WaitReports([](const auto& a) { return a.probes.size() >= 2; }))
      << ReadFile(Output("l"));

  // The command runs in the attempt directory, so the file flips it.
  testing::WriteFile(AttemptFile("ready"), "");
  ASSERT_TRUE(WaitReports(
      [](const auto& a) { return !a.probes.empty() && a.probes.back().exit_code == 0; }));
  kill(-pid, SIGKILL);
  ASSERT_EQ(launcher->Wait(seconds(30)), 137) << ReadFile(Output("l"));

  const FakeObservationSink::Attempt reports = Reports();
  const int64_t now_ms =
      std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  for (size_t i = 0; i < reports.probes.size(); ++i) {
    const ProbeReport& probe = reports.probes[i];
    EXPECT_EQ(probe.seq, static_cast<int64_t>(i + 1));
    EXPECT_FALSE(probe.timed_out);
    EXPECT_LT(probe.latency_ms, 5000);
    EXPECT_LT(std::abs(now_ms - probe.started_ms), 60 * 1000);
    EXPECT_EQ(probe.output, "pid=" + std::to_string(pid) + " id=" + kId + "\n");
  }
  EXPECT_EQ(reports.probes.front().exit_code, 1);
  // The probe loop ends with the launcher.
  const size_t runs = reports.probes.size();
  std::this_thread::sleep_for(seconds(3));
  EXPECT_EQ(Reports().probes.size(), runs);
}

TEST_P(LauncherTest, ExecProbeArgumentsReachTheCommandUnchanged) {
  const std::string hostile = "a'b \"c\" $(touch pwned) `id` ;| \\ *";
  LaunchSpec spec = Spec("sleep 1000\n");
  spec.probe_command = {"printf", "%s", hostile};
  spec.probe_period_seconds = 1;
  auto launcher = Launch(spec);
  const pid_t pid = ServicePid();
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(WaitReports([](const auto& a) { return !a.probes.empty(); }))
      << ReadFile(Output("l"));
  kill(-pid, SIGKILL);
  launcher->Wait(seconds(30));
  EXPECT_EQ(Reports().probes.front().output, hostile);
  EXPECT_EQ(Reports().probes.front().exit_code, 0);
  EXPECT_FALSE(std::filesystem::exists(AttemptFile("pwned")));
}

TEST_P(LauncherTest, ExecProbeTimeoutKillsTheProbesSession) {
  LaunchSpec spec = Spec("sleep 1000\n");
  // The probe leaves a child behind, then hangs past its timeout.
  spec.probe_command = {"sh", "-c", "sleep 600 & echo $! >probe-child; sleep 600"};
  spec.probe_period_seconds = 1;
  spec.probe_timeout_seconds = 1;
  spec.probe_max_output_bytes = 0;
  auto launcher = Launch(spec);
  const pid_t pid = ServicePid();
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(WaitReports([](const auto& a) { return !a.probes.empty(); }))
      << ReadFile(Output("l"));

  const ProbeReport first = Reports().probes.front();
  EXPECT_TRUE(first.timed_out);
  EXPECT_NE(first.exit_code, 0);
  EXPECT_GE(first.latency_ms, 900);
  EXPECT_EQ(first.output, "");
  const pid_t child = PidIn(AttemptFile("probe-child"));
  ASSERT_GT(child, 0);
  EXPECT_TRUE(WaitUntil([&] { return !testing::ProcessAlive(child); }, seconds(10)))
      << "the probe's child survived the timeout";
  // The service itself is not touched by the probe's timeout.
  EXPECT_TRUE(testing::ProcessAlive(pid));
  kill(-pid, SIGKILL);
  launcher->Wait(seconds(30));
}

INSTANTIATE_TEST_SUITE_P(Shells, LauncherTest, ::testing::ValuesIn(testing::TestShells()),
                         [](const auto& info) { return info.param.label; });

TEST(LauncherTextTest, StartsWithCommentAndPassesSyntaxCheck) {
  TempDir dir;
  LaunchSpec spec;
  spec.script = "echo hi\n";
  spec.run_dir = "/var/lib/svcd/run/uid/master";
  spec.report_url = "http://127.0.0.1:7070/";
  spec.dispatch_id = "d-1";
  spec.secret = kSecret;
  StatusOr<std::string> text = RenderLauncher(spec);
  ASSERT_TRUE(text.ok()) << text.status().ToString();

  EXPECT_EQ(text->rfind("#!/bin/sh\n# svcd launcher", 0), 0u);
  EXPECT_NE(text->find("report_url='http://127.0.0.1:7070/apis/svcd.io/v1alpha1/reports/d-1'"),
            std::string::npos);
  testing::WriteFile(dir.path() / "l.sh", *text);
  for (const Shell& shell : testing::TestShells()) {
    ChildProcess check({shell.path, "-n", (dir.path() / "l.sh").string()}, {},
                       dir.path() / "check.out");
    EXPECT_EQ(check.Wait(seconds(10)), 0)
        << shell.label << ": " << ReadFile(dir.path() / "check.out");
  }
}

TEST(LauncherTextTest, RejectsHostileProbeNamingEachField) {
  LaunchSpec spec;
  spec.script = "sleep 1\n";
  spec.run_dir = "/run/x";
  spec.report_url = "http://127.0.0.1:7070";
  spec.dispatch_id = "d-1";
  spec.secret = kSecret;
  spec.probe_command = {"", std::string("a\0b", 3)};
  spec.probe_period_seconds = 0;
  spec.probe_timeout_seconds = 100000;
  spec.probe_max_output_bytes = 1 << 20;
  StatusOr<std::string> text = RenderLauncher(spec);
  ASSERT_FALSE(text.ok());
  std::vector<std::string> fields;
  for (const Cause& cause : text.status().causes()) fields.push_back(cause.field);
  EXPECT_EQ(fields, (std::vector<std::string>{"probe_command[0]", "probe_command[1]",
                                              "probe_period_seconds", "probe_timeout_seconds",
                                              "probe_max_output_bytes"}));
}

TEST(LauncherTextTest, RejectsHostileSpecNamingEachField) {
  LaunchSpec spec;
  spec.script = std::string("echo a\0b", 8);
  spec.run_dir = "relative/run";
  spec.report_url = "ftp://example.invalid/";
  spec.dispatch_id = "../escape";
  spec.secret = "short";
  spec.lease = -1;
  spec.heartbeat_seconds = 0;
  StatusOr<std::string> text = RenderLauncher(spec);
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.status().code(), Code::kInvalidArgument);
  std::vector<std::string> fields;
  for (const Cause& cause : text.status().causes()) fields.push_back(cause.field);
  EXPECT_EQ(fields, (std::vector<std::string>{"script", "run_dir", "report_url", "dispatch_id",
                                              "secret", "lease", "heartbeat_seconds"}));
  EXPECT_EQ(text.status().message().find("short"), std::string::npos) << "the secret leaked";
}

}  // namespace
}  // namespace svcd::dispatch
