// End-to-end tests of the deploy policies that change when targets start:
// suspend, a disabled Host and the MasterReady startup policy.

#include <signal.h>

#include <algorithm>
#include <optional>
#include <thread>

#include "tests/e2e/deploy_fixture.h"

namespace svcd::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;

using DeployPolicyTest = DeployE2eTest;

// Returns the index of the first event with `reason` whose message starts
// with `prefix`, or -1.
int EventIndex(const std::vector<std::pair<std::string, std::string>>& events,
               const std::string& reason, const std::string& prefix) {
  for (size_t i = 0; i < events.size(); ++i) {
    if (events[i].first == reason && events[i].second.rfind(prefix, 0) == 0) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

TEST_P(DeployPolicyTest, SuspendStopsTargetsAndKeepsTheObject) {
  ApplyWithSvcctl(QuickstartYaml({}), "quickstart");
  const TargetMap before = Targets(WaitReady("quickstart"));
  ASSERT_THAT(before, SizeIs(3));
  std::vector<int64_t> pids;
  for (const auto& [name, target] : before) pids.push_back(target["pid"].get<int64_t>());

  DeployKnobs suspended;
  suspended.suspend = true;
  ApplyWithSvcctl(QuickstartYaml(suspended), "quickstart");
  nlohmann::json deploy;
  ASSERT_TRUE(WaitForDeploy(
      "quickstart",
      [](const nlohmann::json& d) {
        const TargetMap targets = Targets(d);
        return targets.size() == 3 &&
               std::all_of(targets.begin(), targets.end(), [](const auto& entry) {
                 return entry.second.value("state", "") == "CANCELLED";
               });
      },
      std::chrono::seconds(30), &deploy))
      << deploy.dump(2);
  for (int64_t pid : pids) EXPECT_FALSE(ProcessAlive(pid)) << pid;
  EXPECT_FALSE(TcpConnects(master_port_));

  // Resuming starts every target again.
  ApplyWithSvcctl(QuickstartYaml({}), "quickstart");
  const TargetMap after = Targets(WaitReady("quickstart"));
  TrackTargets(GetDeploy("quickstart"));
  ASSERT_THAT(after, SizeIs(3));
  for (const auto& [name, target] : after) {
    EXPECT_TRUE(ProcessAlive(target["pid"].get<int64_t>())) << name;
  }
}

TEST_P(DeployPolicyTest, DisabledHostGetsNoDispatches) {
  DeployKnobs knobs;
  knobs.host_spec = "  address: 127.0.0.1\n  executor: local\n  disabled: true\n";
  ApplyWithSvcctl(QuickstartYaml(knobs), "quickstart");
  nlohmann::json deploy;
  ASSERT_TRUE(WaitForDeploy(
      "quickstart",
      [](const nlohmann::json& d) {
        const TargetMap targets = Targets(d);
        return targets.count("master") > 0 &&
               targets.at("master").value("message", "").find("disabled") != std::string::npos;
      },
      std::chrono::seconds(20), &deploy))
      << deploy.dump(2);
  EXPECT_THAT(Targets(deploy).at("master").value("message", ""),
              HasSubstr("Host local is disabled"));
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_THAT(DispatchMessages("quickstart"), IsEmpty());

  // Enabling the Host lets the deploy start.
  ApplyWithSvcctl(QuickstartYaml({}), "quickstart");
  TrackTargets(WaitReady("quickstart"));
  EXPECT_THAT(DispatchMessages("quickstart"), SizeIs(3));
}

// The master loads for 2 s before its probe passes: with MasterReady the
// workers stay PENDING that long after the master process started, where
// MasterStarted would start them at once.
TEST_P(DeployPolicyTest, MasterReadyHoldsWorkersUntilTheMasterIsReady) {
  DeployKnobs knobs;
  knobs.startup_policy = "MasterReady";
  knobs.master_load_delay = "2";
  ApplyWithSvcctl(QuickstartYaml(knobs), "quickstart");
  using Clock = std::chrono::steady_clock;
  std::optional<Clock::time_point> master_started;
  std::optional<Clock::time_point> worker_left_pending;
  ASSERT_TRUE(WaitUntil(
      [&] {
        const TargetMap targets = Targets(GetDeploy("quickstart"));
        if (targets.size() != 3) return false;
        if (!master_started && targets.at("master").contains("pid")) master_started = Clock::now();
        if (!worker_left_pending && targets.at("worker-0").value("state", "") != "PENDING") {
          worker_left_pending = Clock::now();
        }
        return master_started && worker_left_pending;
      },
      std::chrono::seconds(30)));
  EXPECT_GE(*worker_left_pending - *master_started, std::chrono::milliseconds(1500));
  const auto events = Events("quickstart");
  EXPECT_LT(EventIndex(events, "Dispatched", "master"),
            EventIndex(events, "Dispatched", "worker-0"));
  TrackTargets(WaitReady("quickstart"));
}

// Resuming while the suspend still stops targets converges all the same.
TEST_P(DeployPolicyTest, ResumeDuringSuspendConverges) {
  ApplyWithSvcctl(QuickstartYaml({}), "quickstart");
  TrackTargets(WaitReady("quickstart"));
  DeployKnobs suspended;
  suspended.suspend = true;
  ApplyWithSvcctl(QuickstartYaml(suspended), "quickstart");
  ApplyWithSvcctl(QuickstartYaml({}), "quickstart");
  const TargetMap after = Targets(WaitReady("quickstart"));
  TrackTargets(GetDeploy("quickstart"));
  EXPECT_THAT(after, SizeIs(3));
}

// describe shows the newest probe results per target, the probes route
// filters by target, and events without an object lists the namespace.
TEST_P(DeployPolicyTest, DescribeShowsProbesAndEventsListTheNamespace) {
  ApplyWithSvcctl(QuickstartYaml({}), "quickstart");
  TrackTargets(WaitReady("quickstart"));

  const CommandResult described = Ctl({"describe", "sd", "quickstart"});
  ASSERT_EQ(described.exit_code, 0) << described.err;
  EXPECT_THAT(described.out, HasSubstr("Probes:\n"));
  EXPECT_THAT(described.out, ::testing::ContainsRegex("master +passed +[0-9]+ms"));
  // The first dispatch is attempt 1 and counts as no restart.
  EXPECT_THAT(described.out, ::testing::ContainsRegex("NAME +HOST +STATE +RESTARTS +PID"));
  EXPECT_THAT(described.out, ::testing::ContainsRegex("master +local +READY +0 +[0-9]+"));

  const std::string probes = Url() + kApiPrefix + "/namespaces/default/servicedeploys/quickstart";
  const HttpReply some = SendRequest("GET", probes + "/probes?target=master&limit=2", "");
  ASSERT_EQ(some.status, 200) << some.body;
  const nlohmann::json items = some.Json()["items"];
  ASSERT_THAT(items, SizeIs(2));
  for (const auto& item : items) EXPECT_EQ(item["target"], "master");
  EXPECT_EQ(SendRequest("GET", probes + "/probes?target=worker-9", "").status, 404);
  EXPECT_EQ(SendRequest("GET", probes + "/probes?limit=0", "").status, 400);

  const CommandResult listed = Ctl({"events"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_THAT(listed.out, HasSubstr("OBJECT"));
  EXPECT_THAT(listed.out, ::testing::ContainsRegex("Dispatched +servicedeploy/quickstart"));
  const CommandResult everywhere = Ctl({"events", "-A"});
  ASSERT_EQ(everywhere.exit_code, 0) << everywhere.err;
  EXPECT_THAT(everywhere.out, HasSubstr("default/servicedeploy/quickstart"));
  const CommandResult elsewhere = Ctl({"-n", "other", "events"});
  ASSERT_EQ(elsewhere.exit_code, 0) << elsewhere.err;
  EXPECT_THAT(elsewhere.out, Not(HasSubstr("quickstart")));
}

// A probe that fails before its first success shows its newest result
// in the target's message, so the cause is visible while svcd waits.
TEST_P(DeployPolicyTest, FailingProbeShowsItsResultWhileStarting) {
  DeployKnobs knobs;
  knobs.template_extra =
      "  workerProbe:\n    exec: {command: [no-such-probe-command-xyz]}\n"
      "    periodSeconds: 1\n";
  ApplyWithSvcctl(QuickstartYaml(knobs), "quickstart");
  nlohmann::json deploy;
  EXPECT_TRUE(WaitForDeploy(
      "quickstart",
      [](const nlohmann::json& d) {
        const TargetMap targets = Targets(d);
        return targets.count("worker-0") > 0 &&
               targets.at("worker-0").value("message", "").find("exit 127: not found") !=
                   std::string::npos;
      },
      std::chrono::seconds(30), &deploy))
      << deploy.dump(2);
  TrackTargets(deploy);
  EXPECT_THAT(Targets(deploy).at("worker-0").value("message", ""),
              HasSubstr("waiting for the probe; last result: "));
}

// Parallel starts the workers without waiting for the master: they run
// while the master still loads.
TEST_P(DeployPolicyTest, ParallelStartsWorkersBeforeTheMasterIsReady) {
  DeployKnobs knobs;
  knobs.startup_policy = "Parallel";
  knobs.master_load_delay = "4";
  ApplyWithSvcctl(QuickstartYaml(knobs), "quickstart");
  nlohmann::json deploy;
  EXPECT_TRUE(WaitForDeploy(
      "quickstart",
      [](const nlohmann::json& d) {
        const TargetMap t = Targets(d);
        return t.size() == 3 && t.at("worker-0").contains("pid") &&
               t.at("worker-1").contains("pid") && t.at("master").value("state", "") != "READY";
      },
      std::chrono::seconds(15), &deploy))
      << deploy.dump(2);
  TrackTargets(WaitReady("quickstart"));
}

// A deploy that stays Ready for resetAfterSeconds gets its retry budget
// back, so a later failure restarts the target instead of failing the
// deploy.
TEST_P(DeployPolicyTest, ResetAfterSecondsGivesTheBudgetBack) {
  DeployKnobs knobs;
  knobs.scope = "Target";
  knobs.max_retries = 1;
  knobs.reset_after_seconds = 2;
  ApplyWithSvcctl(QuickstartYaml(knobs), "quickstart");
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE("kill " + std::to_string(round + 1));
    const TargetMap ready = Targets(WaitReady("quickstart"));
    ASSERT_FALSE(HasFailure());
    TrackTargets(GetDeploy("quickstart"));
    const int64_t worker = ready.at("worker-0")["pid"].get<int64_t>();
    ASSERT_EQ(kill(static_cast<pid_t>(worker), SIGKILL), 0);
    nlohmann::json deploy;
    ASSERT_TRUE(WaitForDeploy(
        "quickstart",
        [&](const nlohmann::json& d) {
          const TargetMap t = Targets(d);
          return d["status"].value("phase", "") == "Ready" &&
                 t.at("worker-0").value("attempts", 0) == 1 &&
                 t.at("worker-0").value("pid", int64_t{0}) != worker;
        },
        std::chrono::seconds(30), &deploy))
        << deploy.dump(2);
    // Ready for resetAfterSeconds: the budget is back.
    ASSERT_TRUE(WaitForDeploy(
        "quickstart",
        [](const nlohmann::json& d) {
          return Targets(d).at("worker-0").value("attempts", -1) == 0;
        },
        std::chrono::seconds(20), &deploy))
        << deploy.dump(2);
  }
  TrackTargets(GetDeploy("quickstart"));
}

// On a local Host, too, the exec probe runs in the launcher, in the
// attempt's directory.
TEST_P(DeployPolicyTest, ExecProbeRunsInTheLauncher) { CheckExecProbeRunsInTheLauncher({}); }

SVCD_E2E_INSTANTIATE(DeployPolicyTest);

}  // namespace
}  // namespace svcd::e2e
