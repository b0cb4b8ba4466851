// End-to-end tests of deploys on Hosts with executor powerjob: the real svcd
// dispatches through the PowerJob stand-in (tools/powerjob-standin), whose
// worker runs each launcher with /bin/sh on this machine, so the services
// are real processes. Both server lines (4.3 and 5.1) are covered.

#include <signal.h>

#include <set>
#include <thread>

#include "tests/e2e/deploy_fixture.h"
#include "tests/powerjob/standin.h"

namespace svcd::e2e {
namespace {

using ::svcd::powerjob::testing::Standin;
using ::svcd::powerjob::testing::StandinOptions;
using ::testing::HasSubstr;
using ::testing::SizeIs;

constexpr char kPowerJobHost[] =
    "  address: 127.0.0.1\n  executor: powerjob\n  powerjob:\n"
    "    workerAddress: 127.0.0.1:27777\n";

class DeployPowerJobTest : public DeployE2eTest {
 protected:
  // Starts the stand-in before svcd: the profile and faults come from the
  // test's name ("...V43", "...V51", "NoWorker...").
  void ConfigureServer(SvcdOptions& options) override {
    const std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    StandinOptions standin;
    standin.profile = name.find("V43") != std::string::npos ? "4.3" : "5.1";
    if (name.find("NoWorker") != std::string::npos) standin.faults = {"no-worker"};
    if (name.find("Stuck") != std::string::npos) standin.faults = {"stuck-dispatch"};
    if (name.find("Flipping") != std::string::npos) standin.faults.push_back("flip-running=3");
    if (name.find("Duplicate") != std::string::npos) standin.faults = {"duplicate-delivery"};
    standin_ = std::make_unique<Standin>(standin);
    ASSERT_TRUE(standin_->Start()) << standin_->log();
    options.extra_args = {"--powerjob-url",      standin_->url(),
                          "--powerjob-app",      powerjob::testing::kApp,
                          "--powerjob-version",  standin.profile,
                          "--powerjob-run-root", (temp_dir() / "remote-run").string()};
    options.extra_env = {std::string("SVCD_POWERJOB_PASSWORD=") + powerjob::testing::kPassword};
    if (name.find("SlowAnswer") != std::string::npos) {
      options.extra_args.insert(options.extra_args.end(), {"--powerjob-timeout-seconds", "1"});
    }
  }

  DeployKnobs Knobs() const {
    DeployKnobs knobs;
    knobs.host_spec = kPowerJobHost;
    return knobs;
  }

  nlohmann::json GetHost() const {
    const HttpReply reply = SendRequest("GET", Url() + kApiPrefix + "/hosts/local", "");
    return reply.status == 200 ? reply.Json() : nlohmann::json();
  }

  // Applies the quickstart on the PowerJob host, waits for Ready, and
  // checks that every service responds and runs under a PowerJob instance.
  void ConvergesRestartsAndDeletes() {
    DeployKnobs knobs = Knobs();
    knobs.scope = "Target";
    ApplyWithSvcctl(QuickstartYaml(knobs), "quickstart");
    const TargetMap ready = Targets(WaitReady("quickstart", std::chrono::seconds(60)));
    ASSERT_THAT(ready, SizeIs(3));
    TrackTargets(GetDeploy("quickstart"));
    EXPECT_EQ(standin_->Count("runJob"), 3) << standin_->Calls().dump(2);
    // Each target shows the PowerJob instance of its attempt, an int64 id
    // that the stand-in draws above 2^53.
    std::set<int64_t> instances;
    for (const auto& [name, target] : ready) {
      ASSERT_TRUE(target.contains("powerjobInstanceId")) << name << ": " << target.dump();
      instances.insert(target["powerjobInstanceId"].get<int64_t>());
    }
    EXPECT_THAT(instances, SizeIs(3));
    EXPECT_GT(*instances.begin(), int64_t{1} << 53);
    EXPECT_TRUE(TcpConnects(master_port_));
    const HttpReply completion =
        SendRequest("POST", "http://127.0.0.1:" + std::to_string(master_port_) + "/v1/completions",
                    R"({"model":"qwen2-7b","prompt":"Paris is the capital of","max_tokens":4})",
                    RequestOptions().WithContentType("application/json"));
    EXPECT_THAT(completion.body, HasSubstr("France"));
    const nlohmann::json host = GetHost();
    EXPECT_EQ(host["status"].value("dispatchReady", false), true) << host.dump(2);
    EXPECT_NE(host["status"].value("lastDispatchTime", ""), "") << host.dump(2);

    // kill -9 of a service: that target alone is dispatched again.
    const int64_t worker0 = ready.at("worker-0")["pid"].get<int64_t>();
    const int64_t master = ready.at("master")["pid"].get<int64_t>();
    ASSERT_EQ(kill(static_cast<pid_t>(worker0), SIGKILL), 0);
    nlohmann::json deploy;
    ASSERT_TRUE(WaitForDeploy(
        "quickstart",
        [&](const nlohmann::json& d) {
          const TargetMap t = Targets(d);
          return d["status"].value("phase", "") == "Ready" && t.count("worker-0") > 0 &&
                 t.at("worker-0").value("attempts", 0) == 1 && t.at("worker-0").contains("pid") &&
                 t.at("worker-0")["pid"].get<int64_t>() != worker0;
        },
        std::chrono::seconds(60), &deploy))
        << deploy.dump(2);
    TrackTargets(deploy);
    EXPECT_EQ(Targets(deploy).at("master")["pid"].get<int64_t>(), master);
    EXPECT_EQ(standin_->Count("runJob"), 4) << standin_->Calls().dump(2);

    // Delete: every service is stopped through PowerJob, then the object goes.
    std::vector<int64_t> pids;
    for (const auto& [name, target] : Targets(deploy)) pids.push_back(target["pid"].get<int64_t>());
    const CommandResult deleted = Ctl({"delete", "sd", "quickstart", "--wait", "--timeout", "90s"});
    ASSERT_EQ(deleted.exit_code, 0) << deleted.out << deleted.err;
    for (int64_t pid : pids) EXPECT_FALSE(ProcessAlive(pid)) << pid;
    EXPECT_FALSE(TcpConnects(master_port_));
    // One stop job run per live target; the attempts' instances ended with
    // their launchers, so none needed stopInstance.
    EXPECT_EQ(standin_->Count("runJob"), 7) << standin_->Calls().dump(2);
    EXPECT_EQ(standin_->Count("saveJob"), 2) << standin_->Calls().dump(2);
  }

  std::unique_ptr<Standin> standin_;
};

TEST_P(DeployPowerJobTest, QuickstartConvergesRestartsAndDeletesV43) {
  ConvergesRestartsAndDeletes();
}

TEST_P(DeployPowerJobTest, QuickstartConvergesRestartsAndDeletesV51) {
  ConvergesRestartsAndDeletes();
}

// With no worker online every runJob ends FAILED "no worker available":
// maxRetries 3 allows exactly four runJob calls, then the deploy is Failed.
TEST_P(DeployPowerJobTest, NoWorkerSpendsTheBudgetWithoutRunawayCallsV51) {
  DeployKnobs knobs = Knobs();
  knobs.max_retries = 3;
  knobs.backoff_seconds = 1;
  ApplyWithSvcctl(QuickstartYaml(knobs), "quickstart");
  const nlohmann::json deploy = WaitPhase("quickstart", "Failed", std::chrono::seconds(60));
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(Condition(deploy, "Stalled"), "True");
  EXPECT_THAT(Targets(deploy).at("master").value("message", ""), HasSubstr("no worker available"));
  EXPECT_EQ(standin_->Count("runJob"), 4) << standin_->Calls().dump(2);
  std::this_thread::sleep_for(std::chrono::seconds(3));
  EXPECT_EQ(standin_->Count("runJob"), 4);
}

// A Host that is not loopback cannot reach a loopback advertise URL: svcd
// reports this on the Host and fails the dispatch without calling runJob.
TEST_P(DeployPowerJobTest, RemoteHostWithLoopbackAdvertiseUrlFailsAtOnceV51) {
  DeployKnobs knobs = Knobs();
  // A documentation address (RFC 5737): nothing is ever sent to it.
  knobs.host_spec =
      "  address: 192.0.2.10\n  executor: powerjob\n  powerjob:\n"
      "    workerAddress: 192.0.2.10:27777\n";
  knobs.max_retries = 0;
  ApplyWithSvcctl(QuickstartYaml(knobs), "quickstart");
  const nlohmann::json deploy = WaitPhase("quickstart", "Failed", std::chrono::seconds(30));
  ASSERT_FALSE(HasFailure());
  EXPECT_THAT(Targets(deploy).at("master").value("message", ""), HasSubstr("--advertise-url"));
  const nlohmann::json host = GetHost();
  EXPECT_EQ(host["status"].value("dispatchReady", true), false) << host.dump(2);
  EXPECT_EQ(host["status"].value("reason", ""), "AdvertiseUrlUnreachable") << host.dump(2);
  EXPECT_EQ(standin_->Count("runJob"), 0);
}

// kill -9 of svcd right after the master's runJob, before its launcher
// reported: the next svcd on the same port adopts the attempt from the
// launcher's reports and starts no second process.
TEST_P(DeployPowerJobTest, SvcdKilledDuringDispatchStartsNoSecondProcessV51) {
  const uint16_t port = PickFreePort();
  ASSERT_EQ(StartOwnSvcd(port), "");
  DeployKnobs knobs = Knobs();
  // MasterReady and a 5 s load keep the workers undispatched when svcd is
  // killed, so only the master's attempt is in flight.
  knobs.startup_policy = "MasterReady";
  knobs.master_load_delay = "5";
  ApplyWithSvcctl(QuickstartYaml(knobs), "quickstart");
  ASSERT_TRUE(WaitUntil([&] { return standin_->Count("runJob") >= 1; }, std::chrono::seconds(20)))
      << standin_->Calls().dump(2);
  KillOwnSvcd();
  const int run_jobs = standin_->Count("runJob");
  // The killed svcd's lease lasts 3 s; its launchers keep retrying meanwhile.
  std::this_thread::sleep_for(std::chrono::milliseconds(3500));
  ASSERT_EQ(StartOwnSvcd(port), "");
  const TargetMap ready = Targets(WaitReady("quickstart", std::chrono::seconds(60)));
  TrackTargets(GetDeploy("quickstart"));
  ASSERT_THAT(ready, SizeIs(3));
  EXPECT_EQ(ready.at("master").value("attempts", -1), 0);
  // Three services, each started once: the master's attempt was adopted.
  EXPECT_THAT(StandinsUnder(temp_dir()), SizeIs(3));
  EXPECT_EQ(standin_->Count("runJob"), 3) << "runJob calls before the kill: " << run_jobs;
  // The restarted svcd reads the attempt job from the store and confirms
  // it with fetchJob instead of saving another one.
  EXPECT_EQ(standin_->Count("saveJob"), 1) << standin_->Calls().dump(2);
  EXPECT_GE(standin_->Count("fetchJob"), 1);
}

// An instance that stays waiting for its worker (status 2) gets no report:
// at dispatchTimeoutSeconds svcd stops the instance and retries with
// backoff, within the budget.
TEST_P(DeployPowerJobTest, StuckInstanceIsStoppedAndRetriedV43) {
  DeployKnobs knobs = Knobs();
  knobs.dispatch_timeout_seconds = 2;
  knobs.max_retries = 1;
  ApplyWithSvcctl(QuickstartYaml(knobs), "quickstart");
  const nlohmann::json deploy = WaitPhase("quickstart", "Failed", std::chrono::seconds(40));
  ASSERT_FALSE(HasFailure());
  EXPECT_THAT(Targets(deploy).at("master").value("message", ""), HasSubstr("still waits"));
  EXPECT_EQ(standin_->Count("runJob"), 2) << standin_->Calls().dump(2);
  EXPECT_EQ(standin_->Count("stopInstance"), 2) << standin_->Calls().dump(2);
  for (const nlohmann::json& instance : standin_->Instances()) {
    EXPECT_EQ(instance.value("status", 0), 10) << instance.dump();
  }
}

// Stopped instances that read RUNNING again (a stop that did not reach the
// worker) change nothing: liveness comes from launcher reports, so no
// extra runJob is sent and the budget ends the deploy as before.
TEST_P(DeployPowerJobTest, StuckAndFlippingInstancesSpendOnlyTheBudgetV51) {
  DeployKnobs knobs = Knobs();
  knobs.dispatch_timeout_seconds = 2;
  knobs.max_retries = 1;
  ApplyWithSvcctl(QuickstartYaml(knobs), "quickstart");
  const nlohmann::json deploy = WaitPhase("quickstart", "Failed", std::chrono::seconds(40));
  ASSERT_FALSE(HasFailure());
  std::this_thread::sleep_for(std::chrono::seconds(3));
  EXPECT_EQ(standin_->Count("runJob"), 2) << standin_->Calls().dump(2);
  EXPECT_EQ(GetDeploy("quickstart")["status"].value("phase", ""), "Failed");
  EXPECT_THAT(StandinsUnder(temp_dir()), SizeIs(0));
}

// PowerJob delivers at least once: a second run of the same launcher finds
// the attempt claimed and starts nothing.
TEST_P(DeployPowerJobTest, DuplicateDeliveryStartsOneProcessPerTargetV51) {
  ApplyWithSvcctl(QuickstartYaml(Knobs()), "quickstart");
  TrackTargets(WaitReady("quickstart", std::chrono::seconds(60)));
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_THAT(StandinsUnder(temp_dir()), SizeIs(3));
  EXPECT_EQ(standin_->Count("runJob"), 3);
}

// runJob's response arrives after the client's timeout: svcd never sends it again and
// takes the launcher's first report as the proof that it runs.
TEST_P(DeployPowerJobTest, SlowAnswerIsNeverResentV51) {
  DeployKnobs knobs = Knobs();
  knobs.startup_policy = "MasterReady";
  knobs.master_load_delay = "2";
  ApplyWithSvcctl(QuickstartYaml(knobs), "quickstart");
  ASSERT_TRUE(WaitUntil([&] { return standin_->Count("runJob") >= 1; }, std::chrono::seconds(20)));
  standin_->SetFaults({{"slow", 3}});
  TrackTargets(WaitPhase("quickstart", "Ready", std::chrono::seconds(60)));
  ASSERT_FALSE(HasFailure());
  standin_->SetFaults(nlohmann::json::object(), {"slow"});
  int lost = 0;
  for (const auto& [reason, message] : Events("quickstart")) lost += reason == "DispatchAnswerLost";
  EXPECT_EQ(lost, 2);
  EXPECT_THAT(StandinsUnder(temp_dir()), SizeIs(3));
  EXPECT_EQ(standin_->Instances().size(), 3u) << standin_->Instances().dump(2);
  // The launchers reported after the lost responses, which shows that
  // dispatch to the Host works.
  EXPECT_TRUE(WaitUntil([&] { return GetHost()["status"].value("dispatchReady", false); },
                        std::chrono::seconds(40)))
      << GetHost().dump(2);
  const CommandResult wide = Ctl({"get", "host", "-o", "wide"});
  EXPECT_THAT(wide.out, HasSubstr("DISPATCH")) << wide.out;
  EXPECT_THAT(wide.out, ::testing::ContainsRegex("127.0.0.1:27777 +Ready")) << wide.out;
}

// A PowerJob server that is down fails dispatches at once, counted against
// the budget. The Host status gives the reason. Once the server is back,
// svcctl retry converges.
TEST_P(DeployPowerJobTest, ServerDownFailsDispatchesThenRetryConvergesV51) {
  standin_->SetFaults({{"server-down", true}});
  DeployKnobs knobs = Knobs();
  knobs.max_retries = 1;
  ApplyWithSvcctl(QuickstartYaml(knobs), "quickstart");
  const nlohmann::json deploy = WaitPhase("quickstart", "Failed", std::chrono::seconds(60));
  ASSERT_FALSE(HasFailure());
  const nlohmann::json host = GetHost();
  EXPECT_EQ(host["status"].value("dispatchReady", true), false) << host.dump(2);
  EXPECT_EQ(host["status"].value("reason", ""), "DispatchFailing") << host.dump(2);
  standin_->SetFaults(nlohmann::json::object(), {"server-down"});
  const CommandResult retried = Ctl({"retry", "sd/quickstart"});
  ASSERT_EQ(retried.exit_code, 0) << retried.err;
  TrackTargets(WaitReady("quickstart", std::chrono::seconds(60)));
  EXPECT_EQ(GetHost()["status"].value("dispatchReady", false), true);
}

// A password changed on the server while svcd runs: the dispatch fails
// naming the authentication error, and the old password appears in no
// message or log line.
TEST_P(DeployPowerJobTest, ChangedPasswordFailsWithoutLeakingItV51) {
  standin_->SetFaults({{"openapi-auth", true}, {"password", "changed-on-the-server"}});
  DeployKnobs knobs = Knobs();
  knobs.max_retries = 0;
  ApplyWithSvcctl(QuickstartYaml(knobs), "quickstart");
  const nlohmann::json deploy = WaitPhase("quickstart", "Failed", std::chrono::seconds(30));
  ASSERT_FALSE(HasFailure());
  const std::string message = Targets(deploy).at("master").value("message", "");
  EXPECT_THAT(message, HasSubstr("PowerJob"));
  const std::string everything = deploy.dump() + GetHost().dump() + server().Log();
  EXPECT_EQ(everything.find(powerjob::testing::kPassword), std::string::npos);
  EXPECT_EQ(standin_->Count("runJob"), 0);
}

// Wrong credentials at start: svcd exits at once with the authentication
// error and the flags that set the credentials, without the password.
TEST_P(DeployPowerJobTest, BadPasswordStopsSvcdAtStartV51) {
  SvcdOptions options = this->options();
  options.store_url = "sqlite:" + (temp_dir() / "second.db").string();
  options.store_password.clear();
  options.data_dir = (temp_dir() / "second").string();
  for (std::string& entry : options.extra_env) {
    if (entry.rfind("SVCD_POWERJOB_PASSWORD=", 0) == 0) {
      entry = "SVCD_POWERJOB_PASSWORD=wrong-password-in-test";
    }
  }
  SvcdServer second;
  const std::string failed = second.Start(options, std::chrono::seconds(20));
  ASSERT_NE(failed, "");
  EXPECT_FALSE(second.Running());
  EXPECT_THAT(failed, HasSubstr("Unauthenticated"));
  EXPECT_THAT(failed, HasSubstr("--powerjob-password-file"));
  EXPECT_EQ(failed.find("wrong-password-in-test"), std::string::npos) << failed;
  EXPECT_EQ(standin_->Count("runJob"), 0);
}

// PowerJob down while a deploy is deleted: the stop cannot run, and a
// Warning event and the Host's status show it. Once PowerJob is back, the
// delete finishes and no process is left.
TEST_P(DeployPowerJobTest, ServerDownDuringDeleteWarnsThenFinishesV51) {
  ApplyWithSvcctl(QuickstartYaml(Knobs()), "quickstart");
  const nlohmann::json ready = WaitReady("quickstart", std::chrono::seconds(60));
  ASSERT_FALSE(HasFailure());
  TrackTargets(ready);
  standin_->SetFaults({{"server-down", true}});
  const CommandResult deleted = Ctl({"delete", "sd", "quickstart"});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.err;

  std::string warning;
  for (int i = 0; i < 300 && warning.empty(); ++i) {
    for (const auto& [reason, message] : Events("quickstart")) {
      if (reason == "StopFailed") warning = message;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_THAT(warning, HasSubstr("could not be stopped")) << server().Log();
  const nlohmann::json host = GetHost();
  EXPECT_EQ(host["status"].value("dispatchReady", true), false) << host.dump(2);
  for (const auto& [name, target] : Targets(ready)) {
    EXPECT_TRUE(ProcessAlive(target["pid"].get<int64_t>())) << name << " stopped without PowerJob";
  }
  // The deploy's status is written although the pass failed: it shows the
  // deletion under way.
  EXPECT_TRUE(WaitForDeploy(
      "quickstart",
      [](const nlohmann::json& d) { return d["status"].value("phase", "") == "Terminating"; },
      std::chrono::seconds(20)))
      << GetDeploy("quickstart").dump(2);
  // The failed stop is retried with backoff; each repeat raises the count
  // of one event instead of adding a row.
  CommandResult events;
  EXPECT_TRUE(WaitUntil(
      [&] {
        events = Ctl({"events", "sd/quickstart"});
        return events.out.find("(x") != std::string::npos;
      },
      std::chrono::seconds(30)))
      << events.out << events.err;
  EXPECT_THAT(events.out,
              ::testing::ContainsRegex("\\(x[0-9]+ over [0-9]+s\\) +Warning +StopFailed"));

  standin_->SetFaults(nlohmann::json::object(), {"server-down"});
  const CommandResult waited = Ctl({"wait", "--for=delete", "sd/quickstart", "--timeout", "120s"});
  EXPECT_EQ(waited.exit_code, 0) << waited.out << waited.err;
  for (const auto& [name, target] : Targets(ready)) {
    EXPECT_FALSE(ProcessAlive(target["pid"].get<int64_t>())) << name;
  }
}

// A stop that comes before the launcher's first report still stops the
// service: restarts in quick succession leave one process per target.
TEST_P(DeployPowerJobTest, RestartBeforeTheFirstReportLeavesNoProcessV43) {
  ApplyWithSvcctl(QuickstartYaml(Knobs()), "quickstart");
  TrackTargets(WaitReady("quickstart", std::chrono::seconds(60)));
  // Restarts 150 ms apart land while launchers of the previous restart
  // start, before their first report.
  for (int i = 0; i < 6; ++i) {
    const CommandResult restarted = Ctl({"rollout", "restart", "sd/quickstart"});
    ASSERT_EQ(restarted.exit_code, 0) << restarted.err;
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
  }
  const CommandResult waited =
      Ctl({"wait", "--for=condition=Ready", "sd/quickstart", "--timeout", "90s"});
  ASSERT_EQ(waited.exit_code, 0) << waited.out << waited.err;
  TrackTargets(GetDeploy("quickstart"));
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_THAT(StandinsUnder(temp_dir()), SizeIs(3)) << standin_->Calls().dump(2);
}

// The workers' exec probe runs in their launchers on the PowerJob worker,
// which report each result; a failing probe restarts the workers there.
TEST_P(DeployPowerJobTest, ExecProbeRunsInTheLauncherOnTheHostV51) {
  CheckExecProbeRunsInTheLauncher(Knobs());
  EXPECT_EQ(standin_->Count("runJob"), 5 + 2) << "3 starts, 2 restarts, 2 stop jobs";
}

SVCD_E2E_INSTANTIATE(DeployPowerJobTest);

}  // namespace
}  // namespace svcd::e2e
