// TCP and exec checks of SystemProber against real sockets and processes.

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include "probe/system_prober.h"
#include "tests/probe/test_servers.h"

namespace svcd::probe {
namespace {

ProbeTarget TcpTarget(int port) {
  ProbeTarget target;
  target.address = "127.0.0.1";
  target.probe.tcp = api::TcpProbe{port};
  target.probe.timeout_seconds = 2;
  return target;
}

ProbeTarget ExecTarget(std::vector<std::string> command, int timeout_seconds = 5) {
  ProbeTarget target;
  target.probe.exec = api::ExecProbe{std::move(command)};
  target.probe.timeout_seconds = timeout_seconds;
  return target;
}

// Whether `pid` is gone or a zombie, which a SIGKILL leaves until its parent
// (here possibly PID 1) reaps it.
bool ProcessDead(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  if (text.empty()) return true;
  std::size_t paren = text.rfind(')');
  return paren != std::string::npos && paren + 2 < text.size() && text[paren + 2] == 'Z';
}

TEST(TcpProbeTest, OpenPortSucceeds) {
  testing::ScriptedHttpServer server("127.0.0.1", [](const testing::ScriptedConnection&) {});
  ASSERT_TRUE(server.ok());

  ProbeResult result = SystemProber().Run(TcpTarget(server.port()));

  EXPECT_TRUE(result.success) << result.message;
  EXPECT_GT(result.latency.count(), 0);
}

TEST(TcpProbeTest, ClosedPortRefused) {
  testing::RefusingPort port;

  ProbeResult result = SystemProber().Run(TcpTarget(port.port()));

  EXPECT_FALSE(result.success);
  EXPECT_EQ(result.failure, FailureKind::kConnectionRefused) << result.message;
}

TEST(TcpProbeTest, UnresolvableNameIsNetworkError) {
  ProbeTarget target = TcpTarget(80);
  target.address = "no-such-host.invalid";

  ProbeResult result = SystemProber().Run(target);

  EXPECT_EQ(result.failure, FailureKind::kNetworkError) << result.message;
  EXPECT_NE(result.message.find("cannot resolve no-such-host.invalid"), std::string::npos)
      << result.message;
}

TEST(ExecProbeTest, ZeroExitSucceeds) {
  ProbeResult result = SystemProber().Run(ExecTarget({"sh", "-c", "echo all good"}));

  EXPECT_TRUE(result.success) << result.message;
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_NE(result.message.find("all good"), std::string::npos) << result.message;
  // The output's final newline is dropped, not shown as a space.
  EXPECT_NE(result.message.find("\"all good\""), std::string::npos) << result.message;
}

TEST(ExecProbeTest, NonZeroExitFailsWithOutput) {
  ProbeResult result =
      SystemProber().Run(ExecTarget({"sh", "-c", "echo out; echo 'not ready' >&2; exit 3"}));

  EXPECT_FALSE(result.success);
  EXPECT_EQ(result.failure, FailureKind::kExitCode);
  EXPECT_EQ(result.exit_code, 3);
  EXPECT_NE(result.message.find("exited with 3"), std::string::npos) << result.message;
  EXPECT_NE(result.message.find("not ready"), std::string::npos) << result.message;
}

TEST(ExecProbeTest, ArgumentsReachProgramUnsplit) {
  // No shell runs between the probe and the program: "a b" stays one word.
  ProbeResult result = SystemProber().Run(
      ExecTarget({"sh", "-c", "test \"$#\" = 1 && test \"$1\" = 'a b'", "sh", "a b"}));

  EXPECT_TRUE(result.success) << result.message;
}

TEST(ExecProbeTest, OutputCapped) {
  SystemProberOptions options;
  options.max_exec_output_bytes = 100;
  // 1 MiB of output must neither block the command nor grow the message.
  ProbeResult result = SystemProber(options).Run(
      ExecTarget({"sh", "-c", "head -c 1048576 /dev/zero | tr '\\0' y; exit 1"}));

  EXPECT_EQ(result.exit_code, 1) << result.message;
  EXPECT_LT(result.message.size(), 300u) << result.message;
}

TEST(ExecProbeTest, MissingProgramFailsToStart) {
  ProbeResult result = SystemProber().Run(ExecTarget({"/nonexistent/probe-program"}));

  EXPECT_EQ(result.failure, FailureKind::kExecStartFailed);
  EXPECT_NE(result.message.find("No such file"), std::string::npos) << result.message;
}

TEST(ExecProbeTest, TimeoutKillsProcessGroup) {
  char pid_file[] = "/tmp/probe-exec-pid-XXXXXX";
  int fd = mkstemp(pid_file);
  ASSERT_GE(fd, 0);
  close(fd);
  // The background sleep is a grandchild in the command's process group.
  std::string script = std::string("sleep 30 & echo $! > ") + pid_file + "; sleep 30";

  auto start = std::chrono::steady_clock::now();
  ProbeResult result = SystemProber().Run(ExecTarget({"sh", "-c", script}, 1));
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  EXPECT_EQ(result.failure, FailureKind::kTimeout);
  EXPECT_NE(result.message.find("process group was killed"), std::string::npos) << result.message;
  EXPECT_GE(elapsed, 0.9);
  EXPECT_LT(elapsed, 2.5);
  std::ifstream in(pid_file);
  pid_t background = 0;
  in >> background;
  std::remove(pid_file);
  ASSERT_GT(background, 0);
  bool dead = false;
  for (int i = 0; i < 100 && !dead; ++i) {
    dead = ProcessDead(background);
    if (!dead) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(dead) << "background process " << background << " survived";
  if (!dead) kill(background, SIGKILL);
}

TEST(ExecProbeTest, KilledBySignalFails) {
  ProbeResult result = SystemProber().Run(ExecTarget({"sh", "-c", "kill -TERM $$"}));

  EXPECT_EQ(result.failure, FailureKind::kExitCode);
  EXPECT_EQ(result.exit_code, 128 + SIGTERM);
  EXPECT_NE(result.message.find("killed by signal 15"), std::string::npos) << result.message;
}

}  // namespace
}  // namespace svcd::probe
