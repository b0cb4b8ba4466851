// End-to-end tests of the ServiceDeploy reconcile loop with real processes:
// startup, restarts after a crash, the retry budget and startup timeouts.

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/e2e/deploy_fixture.h"

namespace svcd::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;
using ::testing::StartsWith;

using DeployRestartTest = DeployE2eTest;

int64_t PidOf(const TargetMap& targets, const std::string& name) {
  auto it = targets.find(name);
  if (it == targets.end() || !it->second.contains("pid")) return 0;
  return it->second["pid"].get<int64_t>();
}

int AttemptsOf(const TargetMap& targets, const std::string& name) {
  auto it = targets.find(name);
  if (it == targets.end()) return -1;
  return it->second.value("attempts", -1);
}

TEST_P(DeployRestartTest, QuickstartBecomesReady) {
  ApplyWithSvcctl(QuickstartYaml({}), "quickstart");
  const CommandResult waited =
      Svcctl({"wait", "sd/quickstart", "--for=condition=Ready", "--timeout", "30s"});
  EXPECT_EQ(waited.exit_code, 0) << waited.out << waited.err;
  const CommandResult rollout = Svcctl({"rollout", "status", "sd/quickstart"});
  EXPECT_EQ(rollout.exit_code, 0) << rollout.out << rollout.err;
  EXPECT_EQ(rollout.out, "servicedeploy/quickstart condition met: Ready\n");
  const nlohmann::json deploy = WaitReady("quickstart");
  const TargetMap targets = Targets(deploy);
  ASSERT_THAT(targets, SizeIs(3));
  for (const char* name : {"master", "worker-0", "worker-1"}) {
    EXPECT_TRUE(ProcessAlive(PidOf(targets, name))) << name;
    EXPECT_EQ(AttemptsOf(targets, name), 0) << name;
  }
  EXPECT_EQ(deploy["status"].value("endpoint", ""),
            "http://127.0.0.1:" + std::to_string(master_port_));

  // The master answers a completion; the workers accept connections.
  const HttpReply completion =
      SendRequest("POST", "http://127.0.0.1:" + std::to_string(master_port_) + "/v1/completions",
                  R"({"model":"qwen2-7b","prompt":"Paris is the capital of","max_tokens":4})",
                  RequestOptions().WithContentType("application/json"));
  EXPECT_EQ(completion.status, 200) << completion.Describe();
  EXPECT_THAT(completion.body, HasSubstr("France"));
  EXPECT_TRUE(TcpConnects(worker_ports_[0]));
  EXPECT_TRUE(TcpConnects(worker_ports_[1]));

  // The launcher ships log lines in batches, so the line may come later.
  const std::string listening = "listening on http://127.0.0.1:" + std::to_string(master_port_);
  CommandResult logs;
  EXPECT_TRUE(WaitUntil(
      [&] {
        logs = Svcctl({"logs", "sd/quickstart", "--target", "master"});
        return logs.out.find(listening) != std::string::npos;
      },
      std::chrono::seconds(15)))
      << logs.out << logs.err;
  EXPECT_EQ(logs.exit_code, 0) << logs.err;

  // Every stage of the master's way to Ready has an audit row, in order.
  const std::string& url = options().store_url;
  if (url.rfind("sqlite:", 0) != 0) return;
  const CommandResult audit = RunCommand(
      {"sqlite3", url.substr(7),
       "SELECT json_extract(new_data, '$.stage') FROM op_audit_log a JOIN svc_deploy_target t "
       "ON a.entity_id = t.target_id WHERE a.entity_type = 'TARGET' AND t.target_name = 'master' "
       "AND a.changed_fields LIKE '%stage%' ORDER BY a.op_time, a.rowid"},
      {}, "");
  ASSERT_EQ(audit.exit_code, 0) << audit.err;
  EXPECT_EQ(audit.out, "RENDER_ENV\nRENDER_CMD\nSTART_PROCESS\nHEALTH_CHECK\nREADY\n");
}

TEST_P(DeployRestartTest, GroupScopeRestartsEveryTargetInOrder) {
  DeployKnobs knobs;
  knobs.scope = "Group";
  ApplyWithSvcctl(QuickstartYaml(knobs), "quickstart");
  const TargetMap before = Targets(WaitReady("quickstart"));
  ASSERT_THAT(before, SizeIs(3));
  const size_t dispatches_before = DispatchMessages("quickstart").size();
  ASSERT_EQ(dispatches_before, 3u);

  ASSERT_EQ(kill(static_cast<pid_t>(PidOf(before, "worker-0")), SIGKILL), 0);
  nlohmann::json deploy;
  ASSERT_TRUE(WaitForDeploy(
      "quickstart",
      [](const nlohmann::json& d) {
        const TargetMap targets = Targets(d);
        if (d["status"].value("phase", "") != "Ready" || targets.size() != 3) return false;
        return std::all_of(targets.begin(), targets.end(), [](const auto& entry) {
          return entry.second.value("attempts", 0) == 1 &&
                 entry.second.value("state", "") == "READY";
        });
      },
      std::chrono::seconds(30), &deploy))
      << deploy.dump(2);
  TrackTargets(deploy);
  const TargetMap after = Targets(deploy);
  for (const char* name : {"master", "worker-0", "worker-1"}) {
    EXPECT_NE(PidOf(after, name), PidOf(before, name)) << name;
    EXPECT_FALSE(ProcessAlive(PidOf(before, name))) << name;
    EXPECT_TRUE(ProcessAlive(PidOf(after, name))) << name;
  }

  // The restart dispatches in startup order: the master, then the workers.
  const std::vector<std::string> dispatches = DispatchMessages("quickstart");
  ASSERT_THAT(dispatches, SizeIs(6));
  EXPECT_THAT(dispatches[3], StartsWith("master "));
  EXPECT_THAT(dispatches[4], StartsWith("worker-0 "));
  EXPECT_THAT(dispatches[5], StartsWith("worker-1 "));
}

TEST_P(DeployRestartTest, TargetScopeRestartsOnlyTheDeadWorker) {
  DeployKnobs knobs;
  knobs.scope = "Target";
  ApplyWithSvcctl(QuickstartYaml(knobs), "quickstart");
  const TargetMap before = Targets(WaitReady("quickstart"));
  ASSERT_THAT(before, SizeIs(3));

  ASSERT_EQ(kill(static_cast<pid_t>(PidOf(before, "worker-1")), SIGKILL), 0);
  nlohmann::json deploy;
  ASSERT_TRUE(WaitForDeploy(
      "quickstart",
      [&](const nlohmann::json& d) {
        const TargetMap targets = Targets(d);
        return d["status"].value("phase", "") == "Ready" && AttemptsOf(targets, "worker-1") == 1 &&
               targets.at("worker-1").value("state", "") == "READY";
      },
      std::chrono::seconds(30), &deploy))
      << deploy.dump(2);
  TrackTargets(deploy);
  const TargetMap after = Targets(deploy);
  EXPECT_NE(PidOf(after, "worker-1"), PidOf(before, "worker-1"));
  EXPECT_TRUE(ProcessAlive(PidOf(after, "worker-1")));
  for (const char* name : {"master", "worker-0"}) {
    EXPECT_EQ(PidOf(after, name), PidOf(before, name)) << name;
    EXPECT_EQ(AttemptsOf(after, name), 0) << name;
    EXPECT_TRUE(ProcessAlive(PidOf(after, name))) << name;
  }
  EXPECT_THAT(DispatchMessages("quickstart"), SizeIs(4));
}

// kill -9 of a worker's launcher leaves the worker running without
// reports. svcd records a LauncherLost event, and once the worker dies it
// restarts it within a few seconds instead of at the next 30 s recheck.
TEST_P(DeployRestartTest, LostLauncherThenDeadServiceIsRestartedSoon) {
  DeployKnobs knobs;
  knobs.scope = "Target";
  // Each service's group also prints a tick every 0.2 s.
  knobs.prefix_before = "(while :; do echo tick; sleep 0.2; done) & ";
  ApplyWithSvcctl(QuickstartYaml(knobs), "quickstart");
  const nlohmann::json ready = WaitReady("quickstart");
  ASSERT_FALSE(HasFailure());
  const TargetMap before = Targets(ready);
  const std::filesystem::path attempt = std::filesystem::path(options().data_dir) / "run" /
                                        ready["metadata"].value("uid", "") / "worker-0" /
                                        "attempts" / before.at("worker-0").value("dispatchId", "");
  std::ifstream pid_file(attempt / "launcher.pid");
  int64_t launcher = 0;
  pid_file >> launcher;
  ASSERT_GT(launcher, 0) << attempt;

  ASSERT_EQ(kill(static_cast<pid_t>(launcher), SIGKILL), 0);
  bool warned = false;
  for (int i = 0; i < 150 && !warned; ++i) {
    for (const auto& [reason, message] : Events("quickstart")) warned |= reason == "LauncherLost";
    if (!warned) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_TRUE(warned) << "no LauncherLost event within 30 s";
  EXPECT_TRUE(ProcessAlive(PidOf(before, "worker-0")));

  // Output written after the launcher died still reaches the log.
  auto ticks = [&] {
    const CommandResult logs = Ctl({"logs", "sd/quickstart", "--target", "worker-0"});
    size_t count = 0;
    for (size_t at = logs.out.find("tick"); at != std::string::npos;
         at = logs.out.find("tick", at + 1)) {
      ++count;
    }
    return count;
  };
  const size_t ticks_after_loss = ticks();
  EXPECT_TRUE(WaitUntil([&] { return ticks() >= ticks_after_loss + 10; }, std::chrono::seconds(15)))
      << "worker-0's output stopped at " << ticks_after_loss << " ticks";

  ASSERT_EQ(kill(static_cast<pid_t>(PidOf(before, "worker-0")), SIGKILL), 0);
  nlohmann::json deploy;
  ASSERT_TRUE(WaitForDeploy(
      "quickstart",
      [&](const nlohmann::json& d) {
        const TargetMap targets = Targets(d);
        return AttemptsOf(targets, "worker-0") == 1 &&
               targets.at("worker-0").value("state", "") == "READY";
      },
      std::chrono::seconds(20), &deploy))
      << "the dead worker was not restarted within 20 s: " << deploy.dump(2);
  TrackTargets(deploy);
  EXPECT_EQ(AttemptsOf(Targets(deploy), "master"), 0);
}

TEST_P(DeployRestartTest, CrashingWorkerSpendsBudgetThenRetryStartsIt) {
  DeployKnobs knobs;
  knobs.scope = "Target";
  knobs.max_retries = 2;
  knobs.worker0_args = {"{name: crash-after, value: \"0.2\"}"};
  ApplyWithSvcctl(QuickstartYaml(knobs), "quickstart");
  const nlohmann::json deploy = WaitPhase("quickstart", "Failed", std::chrono::seconds(40));
  TrackTargets(deploy);
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(Condition(deploy, "Stalled"), "True");
  EXPECT_EQ(AttemptsOf(Targets(deploy), "worker-0"), 2);
  EXPECT_EQ(Targets(deploy).at("worker-0").value("state", ""), "FAILED");

  // maxRetries 2 allows three dispatches of worker-0, and no more follow.
  auto worker0_dispatches = [&] {
    const std::vector<std::string> all = DispatchMessages("quickstart");
    return std::count_if(all.begin(), all.end(),
                         [](const std::string& m) { return m.rfind("worker-0 ", 0) == 0; });
  };
  EXPECT_EQ(worker0_dispatches(), 3);
  std::this_thread::sleep_for(std::chrono::seconds(3));
  EXPECT_EQ(worker0_dispatches(), 3);
  EXPECT_EQ(GetDeploy("quickstart")["status"].value("phase", ""), "Failed");

  const CommandResult retried = Svcctl({"retry", "sd/quickstart"});
  ASSERT_EQ(retried.exit_code, 0) << retried.err;
  EXPECT_TRUE(WaitUntil([&] { return worker0_dispatches() >= 4; }, std::chrono::seconds(15)))
      << GetDeploy("quickstart").dump(2);
}

TEST_P(DeployRestartTest, NeverReadyMasterTimesOut) {
  DeployKnobs knobs;
  knobs.startup_timeout_seconds = 3;
  knobs.master_args = {"{name: never-ready, flag: true}"};
  ApplyWithSvcctl(QuickstartYaml(knobs), "quickstart");
  const auto applied = std::chrono::steady_clock::now();
  nlohmann::json deploy;
  ASSERT_TRUE(WaitForDeploy(
      "quickstart",
      [](const nlohmann::json& d) {
        return Targets(d).count("master") > 0 &&
               Targets(d).at("master").value("state", "") == "TIMEOUT";
      },
      std::chrono::seconds(20), &deploy))
      << deploy.dump(2);
  const auto elapsed = std::chrono::steady_clock::now() - applied;
  TrackTargets(deploy);
  EXPECT_GE(elapsed, std::chrono::milliseconds(2500));
  EXPECT_LE(elapsed, std::chrono::seconds(8));
  EXPECT_EQ(Condition(deploy, "Stalled"), "True");
  EXPECT_EQ(Condition(deploy, "Ready"), "False");
  EXPECT_THAT(Targets(deploy).at("master").value("message", ""),
              HasSubstr("startupTimeoutSeconds"));
}

// A port still held by someone else (as by a process of the generation
// being replaced) is waited out with restarts of that target alone, and the
// retry budget is left untouched, even with maxRetries 0.
TEST_P(DeployRestartTest, BusyPortIsRetriedWithoutSpendingTheBudget) {
  const int holder = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(holder, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(worker_ports_[0]);
  ASSERT_EQ(bind(holder, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(listen(holder, 4), 0);

  DeployKnobs knobs;
  knobs.scope = "Group";
  knobs.max_retries = 0;
  ApplyWithSvcctl(QuickstartYaml(knobs), "quickstart");
  auto busy_retries = [&] {
    int count = 0;
    for (const auto& [reason, message] : Events("quickstart")) count += reason == "PortBusyRetry";
    return count;
  };
  // worker-0 has no probe, so it is Ready for a moment at each start. The
  // busy-port restarts must still count up to their cap instead of
  // starting again at 1 each time.
  const bool retried = WaitUntil([&] { return busy_retries() >= 3; }, std::chrono::seconds(40));
  const nlohmann::json during = GetDeploy("quickstart");
  TrackTargets(during);
  close(holder);
  ASSERT_TRUE(retried) << during.dump(2);
  std::vector<std::string> restarts;
  for (const auto& [reason, message] : Events("quickstart")) {
    if (reason == "PortBusyRetry") restarts.push_back(message);
  }
  ASSERT_GE(restarts.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_THAT(restarts[i], HasSubstr("restart " + std::to_string(i + 1) + " of 8")) << i;
  }
  EXPECT_NE(during["status"].value("phase", ""), "Failed") << during.dump(2);
  EXPECT_NE(Condition(during, "Stalled"), "True");

  const TargetMap targets = Targets(WaitReady("quickstart"));
  for (const char* name : {"master", "worker-0", "worker-1"}) {
    EXPECT_EQ(AttemptsOf(targets, name), 0) << name;
  }
  // Only worker-0 was started again: the master has one dispatch.
  const std::vector<std::string> dispatches = DispatchMessages("quickstart");
  EXPECT_EQ(std::count_if(dispatches.begin(), dispatches.end(),
                          [](const std::string& m) { return m.rfind("master ", 0) == 0; }),
            1);
}

SVCD_E2E_INSTANTIATE(DeployRestartTest);

}  // namespace
}  // namespace svcd::e2e
