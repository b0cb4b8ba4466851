// svcctl wait and retry against deploys that svcd really runs: a Stalled
// deploy ends a wait at once, and retry names the targets it resets or
// rejects a target the deploy does not have.

#include <chrono>

#include "tests/e2e/deploy_fixture.h"

namespace svcd::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

using SvcctlWaitTest = DeployE2eTest;

// Returns the knobs of a deploy whose worker-0 exits 0.2 s after start and
// that may restart nothing, so it is Stalled soon after its first dispatch.
// Its master never passes its probe, so the deploy is never Ready on the way.
DeployKnobs CrashingWorker() {
  DeployKnobs knobs;
  knobs.scope = "Target";
  knobs.max_retries = 0;
  knobs.master_args = {"{name: never-ready, flag: true}"};
  knobs.worker0_args = {"{name: crash-after, value: \"0.2\"}"};
  return knobs;
}

TEST_P(SvcctlWaitTest, StalledDeployEndsWaitAtOnce) {
  ApplyWithSvcctl(QuickstartYaml(CrashingWorker()), "quickstart");
  const auto started = std::chrono::steady_clock::now();
  const CommandResult waited =
      Ctl({"wait", "sd/quickstart", "--for=condition=Ready", "--timeout", "50s"});
  const auto elapsed = std::chrono::steady_clock::now() - started;
  TrackTargets(GetDeploy("quickstart"));

  EXPECT_EQ(waited.exit_code, 1) << waited.err;
  EXPECT_LT(elapsed, std::chrono::seconds(45));
  EXPECT_THAT(waited.err, HasSubstr("error: servicedeploy/quickstart is stalled"));
  EXPECT_THAT(waited.err, HasSubstr("phase Failed"));
  EXPECT_THAT(waited.err, HasSubstr("RetryBudgetExhausted"));
  EXPECT_THAT(waited.err, HasSubstr("worker-0"));
  EXPECT_THAT(waited.err, Not(HasSubstr("timed out")));
  EXPECT_EQ(Condition(GetDeploy("quickstart"), "Stalled"), "True");

  // Waiting for Stalled itself succeeds, and other conditions fail at once.
  const CommandResult stalled =
      Ctl({"wait", "sd/quickstart", "--for=condition=Stalled", "--timeout", "10s"});
  EXPECT_EQ(stalled.exit_code, 0) << stalled.err;
  EXPECT_EQ(stalled.out, "servicedeploy/quickstart condition met: Stalled\n");
  const CommandResult stalled_true =
      Ctl({"wait", "sd/quickstart", "--for=condition=Stalled=True", "--timeout", "10s"});
  EXPECT_EQ(stalled_true.exit_code, 0) << stalled_true.err;
  const auto again = std::chrono::steady_clock::now();
  const CommandResult progressing =
      Ctl({"wait", "sd/quickstart", "--for=condition=Progressing", "--timeout", "30s"});
  EXPECT_EQ(progressing.exit_code, 1) << progressing.err;
  EXPECT_LT(std::chrono::steady_clock::now() - again, std::chrono::seconds(10));
  EXPECT_THAT(progressing.err, HasSubstr("is stalled"));
}

TEST_P(SvcctlWaitTest, RetryNamesTargets) {
  ApplyWithSvcctl(QuickstartYaml(CrashingWorker()), "quickstart");
  const nlohmann::json deploy = WaitPhase("quickstart", "Failed", std::chrono::seconds(40));
  TrackTargets(deploy);
  ASSERT_FALSE(HasFailure());

  const CommandResult unknown = Ctl({"retry", "sd/quickstart", "--target", "worker-7"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_EQ(unknown.out, "");
  EXPECT_THAT(unknown.err, HasSubstr("no target \"worker-7\""));
  EXPECT_THAT(unknown.err, HasSubstr("error: target: "));
  EXPECT_THAT(unknown.err, HasSubstr("master, worker-0, worker-1"));

  // The master runs and has not restarted, so it has nothing to reset.
  const CommandResult master = Ctl({"retry", "sd/quickstart", "--target", "master"});
  EXPECT_EQ(master.exit_code, 0) << master.err;
  EXPECT_THAT(master.out, HasSubstr("unchanged"));

  const CommandResult worker = Ctl({"retry", "--target", "worker-0", "sd/quickstart"});
  EXPECT_EQ(worker.exit_code, 0) << worker.err;
  EXPECT_EQ(worker.out, "servicedeploy/quickstart retry budget reset for worker-0\n");
}

SVCD_E2E_INSTANTIATE(SvcctlWaitTest);

}  // namespace
}  // namespace svcd::e2e
