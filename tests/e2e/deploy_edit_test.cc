// End-to-end tests of the ServiceDeploy reconcile loop with real processes:
// spec edits, re-applies, template edits with rollout restart, and delete.

#include <signal.h>

#include <algorithm>
#include <fstream>
#include <thread>
#include <vector>

#include "tests/e2e/deploy_fixture.h"

namespace svcd::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

using DeployEditTest = DeployE2eTest;

int64_t PidOf(const TargetMap& targets, const std::string& name) {
  auto it = targets.find(name);
  if (it == targets.end() || !it->second.contains("pid")) return 0;
  return it->second["pid"].get<int64_t>();
}

std::map<std::string, int64_t> PidsOf(const nlohmann::json& deploy) {
  std::map<std::string, int64_t> pids;
  for (const auto& [name, target] : DeployE2eTest::Targets(deploy)) {
    pids[name] = target.contains("pid") ? target["pid"].get<int64_t>() : 0;
  }
  return pids;
}

// Returns the command line of `pid` with NUL separators turned to spaces.
std::string CommandLine(int64_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (char& c : text) c = c == '\0' ? ' ' : c;
  return text;
}

TEST_P(DeployEditTest, ChangedWorkerArgRestartsOnlyThatWorker) {
  DeployKnobs knobs;
  knobs.scope = "Target";
  ApplyWithSvcctl(QuickstartYaml(knobs), "quickstart");
  const TargetMap before = Targets(WaitReady("quickstart"));
  ASSERT_THAT(before, SizeIs(3));

  knobs.worker0_args = {"{name: keyword, value: Lyon}"};
  EXPECT_THAT(ApplyWithSvcctl(QuickstartYaml(knobs), "quickstart"),
              HasSubstr("servicedeploy/quickstart configured"));
  nlohmann::json deploy;
  ASSERT_TRUE(WaitForDeploy(
      "quickstart",
      [&](const nlohmann::json& d) {
        const TargetMap targets = Targets(d);
        return d["status"].value("observedGeneration", 0) == 2 &&
               d["status"].value("phase", "") == "Ready" && targets.size() == 3 &&
               PidOf(targets, "worker-0") != PidOf(before, "worker-0") &&
               targets.at("worker-0").value("state", "") == "READY";
      },
      std::chrono::seconds(30), &deploy))
      << deploy.dump(2);
  TrackTargets(deploy);
  const TargetMap after = Targets(deploy);
  EXPECT_FALSE(ProcessAlive(PidOf(before, "worker-0")));
  EXPECT_THAT(CommandLine(PidOf(after, "worker-0")), HasSubstr("--keyword Lyon"));
  for (const char* name : {"master", "worker-1"}) {
    EXPECT_EQ(PidOf(after, name), PidOf(before, name)) << name;
    EXPECT_TRUE(ProcessAlive(PidOf(after, name))) << name;
  }
}

TEST_P(DeployEditTest, UnchangedAndReorderedEnvsKeepEverything) {
  DeployKnobs knobs;
  ApplyWithSvcctl(QuickstartYaml(knobs), "quickstart");
  const nlohmann::json ready = WaitReady("quickstart");
  const std::map<std::string, int64_t> pids = PidsOf(ready);
  const std::string resource_version = ready["metadata"].value("resourceVersion", "");

  EXPECT_THAT(ApplyWithSvcctl(QuickstartYaml(knobs), "quickstart"),
              HasSubstr("servicedeploy/quickstart unchanged"));
  std::reverse(knobs.envs.begin(), knobs.envs.end());
  EXPECT_THAT(ApplyWithSvcctl(QuickstartYaml(knobs), "quickstart"),
              HasSubstr("servicedeploy/quickstart unchanged"));

  // Several reconciles later nothing has been restarted.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  const nlohmann::json deploy = GetDeploy("quickstart");
  EXPECT_EQ(deploy["metadata"].value("generation", 0), 1);
  EXPECT_EQ(deploy["metadata"].value("resourceVersion", ""), resource_version);
  EXPECT_EQ(deploy["status"].value("phase", ""), "Ready");
  EXPECT_EQ(PidsOf(deploy), pids);
  for (const auto& [name, pid] : pids) EXPECT_TRUE(ProcessAlive(pid)) << name;
  EXPECT_THAT(DispatchMessages("quickstart"), SizeIs(3));
}

TEST_P(DeployEditTest, TemplateEditWaitsForRolloutRestart) {
  DeployKnobs knobs;
  ApplyWithSvcctl(QuickstartYaml(knobs), "quickstart");
  const std::map<std::string, int64_t> pids = PidsOf(WaitReady("quickstart"));
  ASSERT_THAT(pids, SizeIs(3));

  knobs.master_load_delay = "0.4";
  ApplyWithSvcctl(TemplateDocument(knobs), "quickstart");
  nlohmann::json deploy;
  ASSERT_TRUE(WaitForDeploy(
      "quickstart", [](const nlohmann::json& d) { return Condition(d, "UpToDate") == "False"; },
      std::chrono::seconds(15), &deploy))
      << deploy.dump(2);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  deploy = GetDeploy("quickstart");
  EXPECT_EQ(PidsOf(deploy), pids);
  EXPECT_EQ(deploy["status"].value("phase", ""), "Ready");
  EXPECT_EQ(Condition(deploy, "UpToDate"), "False");
  EXPECT_EQ(ConditionReason(deploy, "UpToDate"), "TemplateChanged");

  const CommandResult restarted = Ctl({"rollout", "restart", "sd/quickstart"});
  ASSERT_EQ(restarted.exit_code, 0) << restarted.err;
  // The restart is a new generation, so a wait right after it waits for
  // the restarted targets instead of returning on the old Ready.
  const CommandResult waited =
      Ctl({"wait", "--for=condition=Ready", "sd/quickstart", "--timeout", "60s"});
  ASSERT_EQ(waited.exit_code, 0) << waited.out << waited.err;
  deploy = GetDeploy("quickstart");
  for (const auto& [name, pid] : PidsOf(deploy)) EXPECT_NE(pid, pids.at(name)) << name;
  EXPECT_EQ(deploy["metadata"].value("generation", 0), 2);
  ASSERT_TRUE(WaitForDeploy(
      "quickstart",
      [&](const nlohmann::json& d) {
        const std::map<std::string, int64_t> now = PidsOf(d);
        if (d["status"].value("phase", "") != "Ready" || now.size() != 3) return false;
        for (const auto& [name, pid] : now) {
          if (pid == 0 || pid == pids.at(name)) return false;
        }
        return Condition(d, "UpToDate") == "True";
      },
      std::chrono::seconds(30), &deploy))
      << deploy.dump(2);
  TrackTargets(deploy);
  for (const auto& [name, pid] : pids) EXPECT_FALSE(ProcessAlive(pid)) << name;
  EXPECT_THAT(CommandLine(PidOf(Targets(deploy), "master")), HasSubstr("--load-delay 0.4"));
}

// A Host whose address changes marks the deploy not up to date, naming the
// Host as the cause, and restarts nothing.
TEST_P(DeployEditTest, HostAddressEditShowsHostChanged) {
  DeployKnobs knobs;
  ApplyWithSvcctl(QuickstartYaml(knobs), "quickstart");
  const std::map<std::string, int64_t> pids = PidsOf(WaitReady("quickstart"));
  ASSERT_THAT(pids, SizeIs(3));

  ApplyWithSvcctl(
      "apiVersion: svcd.io/v1alpha1\nkind: Host\nmetadata:\n  name: local\nspec:\n"
      "  address: 127.0.0.2\n  executor: local\n",
      "quickstart");
  nlohmann::json deploy;
  ASSERT_TRUE(WaitForDeploy(
      "quickstart", [](const nlohmann::json& d) { return Condition(d, "UpToDate") == "False"; },
      std::chrono::seconds(15), &deploy))
      << deploy.dump(2);
  EXPECT_EQ(ConditionReason(deploy, "UpToDate"), "HostChanged");
  EXPECT_EQ(PidsOf(deploy), pids);
}

// What a service writes while it is being stopped reaches its log: the
// launcher sends it after the stop, and svcd keeps it.
TEST_P(DeployEditTest, OutputWrittenDuringAStopIsKept) {
  DeployKnobs knobs;
  knobs.prefix_before = "(trap \"echo got-term-$$; exit 0\" TERM; while :; do sleep 1; done) & ";
  ApplyWithSvcctl(QuickstartYaml(knobs), "quickstart");
  TrackTargets(WaitReady("quickstart"));

  const CommandResult restarted = Ctl({"rollout", "restart", "sd/quickstart"});
  ASSERT_EQ(restarted.exit_code, 0) << restarted.err;
  const CommandResult waited =
      Ctl({"wait", "--for=condition=Ready", "sd/quickstart", "--timeout", "60s"});
  ASSERT_EQ(waited.exit_code, 0) << waited.out << waited.err;
  TrackTargets(GetDeploy("quickstart"));

  const CommandResult logs = Ctl({"logs", "sd/quickstart", "--target", "master", "--previous"});
  ASSERT_EQ(logs.exit_code, 0) << logs.err;
  EXPECT_THAT(logs.out, HasSubstr("got-term-")) << logs.out;
}

// Deleting a deploy whose processes ignore TERM: each stop waits out the
// 10 s grace before KILL, so the targets are stopped at the same time,
// not one after another.
TEST_P(DeployEditTest, DeleteStopsTargetsAtTheSameTime) {
  const std::string marks = (temp_dir() / "term-times").string();
  DeployKnobs knobs;
  knobs.prefix_before = "(trap \"date +%s%N >> " + marks + "\" TERM; while :; do sleep 1; done) & ";
  ApplyWithSvcctl(QuickstartYaml(knobs), "quickstart");
  TrackTargets(WaitReady("quickstart"));

  const CommandResult deleted = Ctl({"delete", "sd", "quickstart", "--wait", "--timeout", "90s"});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.out << deleted.err;
  std::ifstream in(marks);
  std::vector<int64_t> times;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) times.push_back(std::stoll(line));
  }
  // TERM may reach a target's group more than once during its stop, so a
  // target may record more than one.
  ASSERT_GE(times.size(), 3u) << "a TERM per target";
  const auto [first, last] = std::minmax_element(times.begin(), times.end());
  // One after another, the TERMs would come 10 s apart.
  EXPECT_LT(*last - *first, int64_t{5'000'000'000})
      << "TERMs " << (*last - *first) / 1'000'000 << " ms apart";
}

// svcd killed right after a restart request: the restarted svcd finishes
// the restart instead of leaving targets waiting for a retry.
TEST_P(DeployEditTest, SvcdKilledRightAfterARestartFinishesIt) {
  const uint16_t port = PickFreePort();
  ASSERT_EQ(StartOwnSvcd(port), "");
  ApplyWithSvcctl(QuickstartYaml({}), "quickstart");
  TrackTargets(WaitReady("quickstart"));
  const CommandResult restarted = Ctl({"rollout", "restart", "sd/quickstart"});
  ASSERT_EQ(restarted.exit_code, 0) << restarted.err;
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  KillOwnSvcd();
  std::this_thread::sleep_for(std::chrono::milliseconds(3500));
  ASSERT_EQ(StartOwnSvcd(port), "");
  const CommandResult waited =
      Ctl({"wait", "--for=condition=Ready", "sd/quickstart", "--timeout", "60s"});
  EXPECT_EQ(waited.exit_code, 0) << waited.out << waited.err;
  TrackTargets(GetDeploy("quickstart"));
}

// A deploy that spent its retry budget comes back with a rollout restart
// once the cause is gone: the new generation starts with a fresh budget.
TEST_P(DeployEditTest, RolloutRestartRecoversAFailedDeploy) {
  const std::filesystem::path flag = temp_dir() / "ready-to-run";
  DeployKnobs knobs;
  knobs.max_retries = 0;
  knobs.prefix_before = "test -f " + flag.string() + " || exit 3; ";
  ApplyWithSvcctl(QuickstartYaml(knobs), "quickstart");
  const nlohmann::json failed = WaitPhase("quickstart", "Failed", std::chrono::seconds(30));
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(Condition(failed, "Stalled"), "True");

  std::ofstream(flag).put('1');
  const CommandResult restarted = Ctl({"rollout", "restart", "sd/quickstart"});
  ASSERT_EQ(restarted.exit_code, 0) << restarted.err;
  const CommandResult waited =
      Ctl({"wait", "--for=condition=Ready", "sd/quickstart", "--timeout", "60s"});
  ASSERT_EQ(waited.exit_code, 0) << waited.out << waited.err;
  const nlohmann::json ready = GetDeploy("quickstart");
  TrackTargets(ready);
  EXPECT_EQ(ready["status"].value("phase", ""), "Ready");
  bool event_seen = false;
  for (const auto& [reason, message] : Events("quickstart")) {
    event_seen = event_seen || reason == "RolloutRestart";
  }
  EXPECT_TRUE(event_seen);
}

TEST_P(DeployEditTest, DeleteStopsEveryProcessThenTheObject) {
  DeployKnobs knobs;
  // Each target leaves a descendant in a session of its own, which only the
  // walk over parent links finds.
  knobs.prefix_before = "setsid sleep 300 & ";
  ApplyWithSvcctl(QuickstartYaml(knobs), "quickstart");
  WaitReady("quickstart");
  std::vector<int64_t> sleepers;
  std::vector<int64_t> all;
  ASSERT_TRUE(WaitUntil(
      [&] {
        sleepers.clear();
        all.clear();
        all = ProcessesUnder(temp_dir());
        for (int64_t pid : all) {
          if (CommandLine(pid).rfind("sleep 300", 0) == 0) sleepers.push_back(pid);
        }
        return sleepers.size() == 3;
      },
      std::chrono::seconds(10)))
      << "sleepers: " << sleepers.size();
  for (int64_t pid : all) TrackPid(pid);

  const CommandResult deleted = Ctl({"delete", "sd", "quickstart", "--wait", "--timeout", "60s"});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.out << deleted.err;
  for (int64_t pid : all) EXPECT_FALSE(ProcessAlive(pid)) << CommandLine(pid);
  EXPECT_TRUE(GetDeploy("quickstart").is_discarded());
  EXPECT_FALSE(TcpConnects(master_port_));
}

SVCD_E2E_INSTANTIATE(DeployEditTest);

}  // namespace
}  // namespace svcd::e2e
