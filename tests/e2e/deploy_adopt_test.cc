// End-to-end test of svcd restarts: after SIGKILL of svcd, a new svcd on
// the same store and data dir adopts the running targets.

#include <signal.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "tests/e2e/deploy_fixture.h"

namespace svcd::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

using DeployAdoptTest = DeployE2eTest;

int64_t PidOf(const TargetMap& targets, const std::string& name) {
  auto it = targets.find(name);
  if (it == targets.end() || !it->second.contains("pid")) return 0;
  return it->second["pid"].get<int64_t>();
}

TEST_P(DeployAdoptTest, RestartedSvcdAdoptsTargets) {
  const uint16_t port = PickFreePort();
  ASSERT_EQ(StartOwnSvcd(port), "");

  // worker-1 exits with code 7 five seconds after it starts, so while svcd is
  // down. maxRetries 0 keeps that exit in the status.
  DeployKnobs knobs;
  knobs.scope = "Target";
  knobs.max_retries = 0;
  knobs.worker1_args = {"{name: crash-after, value: \"5\"}", "{name: exit-code, value: \"7\"}"};
  ApplyWithSvcctl(QuickstartYaml(knobs), "quickstart");
  const TargetMap before = Targets(WaitReady("quickstart"));
  ASSERT_THAT(before, SizeIs(3));
  const int64_t worker1 = PidOf(before, "worker-1");

  KillOwnSvcd();
  ASSERT_TRUE(WaitUntil([&] { return !ProcessAlive(worker1); }, std::chrono::seconds(15)));
  // The killed svcd's lease (3 s) has expired by now.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ASSERT_EQ(StartOwnSvcd(port), "");

  nlohmann::json deploy;
  ASSERT_TRUE(WaitForDeploy(
      "quickstart",
      [](const nlohmann::json& d) {
        const TargetMap targets = Targets(d);
        return targets.count("worker-1") > 0 && targets.at("worker-1").contains("exitCode");
      },
      std::chrono::seconds(20), &deploy))
      << deploy.dump(2);
  TrackTargets(deploy);
  TargetMap after = Targets(deploy);
  EXPECT_EQ(after.at("worker-1").value("exitCode", -1), 7);
  EXPECT_EQ(after.at("worker-1").value("state", ""), "FAILED");
  EXPECT_THAT(after.at("worker-1").value("message", ""), HasSubstr("code 7"));

  // The others were adopted: same pids, ready, and not started twice.
  ASSERT_TRUE(WaitForDeploy(
      "quickstart",
      [](const nlohmann::json& d) {
        const TargetMap targets = Targets(d);
        return targets.at("master").value("state", "") == "READY" &&
               targets.at("worker-0").value("state", "") == "READY";
      },
      std::chrono::seconds(15), &deploy))
      << deploy.dump(2);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  after = Targets(GetDeploy("quickstart"));
  for (const char* name : {"master", "worker-0"}) {
    EXPECT_EQ(PidOf(after, name), PidOf(before, name)) << name;
    EXPECT_EQ(after.at(name).value("attempts", -1), 0) << name;
  }
  const std::vector<int64_t> expected = [&] {
    std::vector<int64_t> pids = {PidOf(before, "master"), PidOf(before, "worker-0")};
    std::sort(pids.begin(), pids.end());
    return pids;
  }();
  EXPECT_EQ(StandinsUnder(temp_dir()), expected);
  EXPECT_THAT(DispatchMessages("quickstart"), SizeIs(3));
}

// A target Ready for longer than startupTimeoutSeconds keeps running across
// an svcd restart: probe state lives in memory, and the new svcd must not
// judge the old dispatch against the startup deadline again.
// svcd started again at once after kill -9 takes over the lease of the
// dead svcd on this machine instead of waiting for it to run out.
TEST_P(DeployAdoptTest, ImmediateRestartAfterKillTakesTheLeaseOver) {
  const uint16_t port = PickFreePort();
  ASSERT_EQ(StartOwnSvcd(port), "");
  ApplyWithSvcctl(QuickstartYaml({}), "quickstart");
  const TargetMap before = Targets(WaitReady("quickstart"));
  TrackTargets(GetDeploy("quickstart"));
  KillOwnSvcd();
  ASSERT_EQ(StartOwnSvcd(port), "");
  std::ifstream log(options().data_dir + "/own-svcd.log");
  std::stringstream text;
  text << log.rdbuf();
  EXPECT_THAT(text.str(), HasSubstr("taking over the lease of svcd"));
  const TargetMap after = Targets(WaitReady("quickstart"));
  for (const auto& [name, target] : before) {
    EXPECT_EQ(after.at(name)["pid"], target["pid"]) << name << " was started again";
  }
}

// A killed svcd that its parent has not reaped yet is a zombie that runs
// no more code: its lease is taken over at once too.
TEST_P(DeployAdoptTest, ZombieSvcdLeaseIsTakenOver) {
  const uint16_t port = PickFreePort();
  ASSERT_EQ(StartOwnSvcd(port), "");
  ApplyWithSvcctl(QuickstartYaml({}), "quickstart");
  TrackTargets(WaitReady("quickstart"));
  KillOwnSvcd(/*reap=*/false);
  ASSERT_EQ(StartOwnSvcd(port), "");
  std::ifstream log(options().data_dir + "/own-svcd.log");
  std::stringstream text;
  text << log.rdbuf();
  EXPECT_THAT(text.str(), HasSubstr("taking over the lease of svcd"));
  WaitReady("quickstart");
}

TEST_P(DeployAdoptTest, RestartAfterStartupDeadlineKeepsReadyTargets) {
  const uint16_t port = PickFreePort();
  ASSERT_EQ(StartOwnSvcd(port), "");
  DeployKnobs knobs;
  knobs.startup_timeout_seconds = 3;
  ApplyWithSvcctl(QuickstartYaml(knobs), "quickstart");
  const TargetMap before = Targets(WaitReady("quickstart"));
  ASSERT_THAT(before, SizeIs(3));
  std::this_thread::sleep_for(std::chrono::seconds(4));

  KillOwnSvcd();
  std::this_thread::sleep_for(std::chrono::milliseconds(3500));
  ASSERT_EQ(StartOwnSvcd(port), "");
  std::this_thread::sleep_for(std::chrono::seconds(4));
  const TargetMap after = Targets(WaitReady("quickstart"));
  TrackTargets(GetDeploy("quickstart"));
  for (const char* name : {"master", "worker-0", "worker-1"}) {
    EXPECT_EQ(PidOf(after, name), PidOf(before, name)) << name;
    EXPECT_EQ(after.at(name).value("attempts", -1), 0) << name;
  }
  for (const auto& [reason, message] : Events("quickstart")) {
    EXPECT_NE(reason, "StartupTimeout") << message;
  }
}

SVCD_E2E_INSTANTIATE(DeployAdoptTest);

}  // namespace
}  // namespace svcd::e2e
