// The fixture of the end-to-end tests of the ServiceDeploy controller: the
// real svcd runs deploys of the stand-in model server (a master and two
// workers) through the local executor, on ports picked at run time.
//
// Every process a test starts through svcd is found again in TearDown: the
// deploys are deleted, then any process whose working directory lies in the
// test's temporary directory gets SIGKILL, by process group and by pid.

#ifndef SVCD_TESTS_E2E_DEPLOY_FIXTURE_H_
#define SVCD_TESTS_E2E_DEPLOY_FIXTURE_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/e2e/e2e_fixture.h"

namespace svcd::e2e {

// Path of the stand-in model server script, set by tests/e2e/CMakeLists.txt.
inline constexpr char kStandinBinary[] = SVCD_STANDIN_SERVER;

// The knobs of the deploy that QuickstartYaml writes. The defaults keep a
// test fast: short load delay, backoff and probe period.
struct DeployKnobs {
  std::string name = "quickstart";
  std::string scope = "Group";  // restartPolicy.scope
  int max_retries = 3;
  int backoff_seconds = 1;
  int startup_timeout_seconds = 60;
  int dispatch_timeout_seconds = 120;
  bool suspend = false;
  int worker_stagger_seconds = 0;
  std::string startup_policy = "MasterStarted";
  // Extra flow-style arg items ("{name: x, value: \"1\"}") per node.
  std::vector<std::string> master_args;
  std::vector<std::string> worker0_args;
  std::vector<std::string> worker1_args;
  // The deploy's envs as flow-style items, in order.
  std::vector<std::string> envs = {"{name: CUDA_VISIBLE_DEVICES, value: \"0,1\"}",
                                   "{name: TOKENIZERS_PARALLELISM, value: \"false\"}"};
  std::string master_load_delay = "0.3";  // the template's --load-delay of the master
  // Shell text run before the stand-in; "" for none.
  std::string prefix_before = "";
  // The spec of Host "local", indented for the document.
  std::string host_spec = "  address: 127.0.0.1\n  executor: local\n";
  int reset_after_seconds = 600;  // restartPolicy.resetAfterSeconds
  // Lines appended to the template's spec, indented for the document.
  std::string template_extra = "";
};

// The target entries of a deploy's status, keyed by target name.
using TargetMap = std::map<std::string, nlohmann::json>;

class DeployE2eTest : public E2eTest {
 public:
  // Returns status.targets keyed by name.
  static TargetMap Targets(const nlohmann::json& deploy);
  // Returns the status of condition `type` ("True", "False"), or "".
  static std::string Condition(const nlohmann::json& deploy, const std::string& type);
  // Returns the reason of condition `type`, or "".
  static std::string ConditionReason(const nlohmann::json& deploy, const std::string& type);

 protected:
  void SetUp() override;
  void TearDown() override;

  // Returns the Host, template and deploy of the quickstart on this test's
  // ports (master_port_, worker_ports_).
  std::string QuickstartYaml(const DeployKnobs& knobs) const;
  // Returns the ServiceTemplate document alone.
  std::string TemplateDocument(const DeployKnobs& knobs) const;

  // Returns the URL of the svcd under test: the fixture's, or the one
  // StartOwnSvcd started.
  std::string Url() const;
  // Runs svcctl against Url().
  CommandResult Ctl(const std::vector<std::string>& args) const;

  // Stops the fixture's svcd and starts one of the test's own on `port`
  // with the same store and data dir and a 3 s controller lease, so a
  // restart after SIGKILL takes the lease over soon. Returns "" on success.
  std::string StartOwnSvcd(uint16_t port);
  // Sends SIGKILL to the test's own svcd and reaps it. With `reap` false it
  // waits until svcd is a zombie instead, as when a parent is slow to reap.
  void KillOwnSvcd(bool reap = true);

  // Applies `yaml` with svcctl and remembers every deploy name for TearDown.
  // Returns svcctl's stdout; adds a failure when svcctl fails.
  std::string ApplyWithSvcctl(const std::string& yaml, const std::string& deploy_name);

  // Returns the stored deploy, or a discarded value.
  nlohmann::json GetDeploy(const std::string& name) const;

  // Polls the deploy every 100 ms until `done` holds or `timeout` passes.
  // Returns whether it held; the last deploy read is left in `last`.
  bool WaitForDeploy(const std::string& name,
                     const std::function<bool(const nlohmann::json&)>& done,
                     std::chrono::milliseconds timeout, nlohmann::json* last = nullptr) const;
  // Waits until the deploy's phase is `phase` and returns the deploy; adds a
  // failure showing the last deploy read when it is not by `timeout`.
  nlohmann::json WaitPhase(const std::string& name, const std::string& phase,
                           std::chrono::milliseconds timeout);
  // Waits until the deploy is Ready (phase and condition) and every target
  // has a pid; returns the deploy.
  nlohmann::json WaitReady(const std::string& name,
                           std::chrono::milliseconds timeout = std::chrono::seconds(30));

  // Returns the deploy's events as (reason, message), oldest first; a
  // repeated event is listed once per time it happened.
  std::vector<std::pair<std::string, std::string>> Events(const std::string& name) const;
  // Returns the messages of the Dispatched events.
  std::vector<std::string> DispatchMessages(const std::string& name) const;

  // Applies the quickstart with `knobs` and an exec probe on the workers
  // that fails while a file exists. Checks that the probe runs in each
  // worker's attempt directory (so in its launcher, on its host), that
  // failing it restarts both workers, and that they come back Ready.
  void CheckExecProbeRunsInTheLauncher(DeployKnobs knobs);

  // Remembers `pid` so TearDown kills it and its process group if it runs.
  void TrackPid(int64_t pid);
  // Remembers the pid of every target in `deploy`.
  void TrackTargets(const nlohmann::json& deploy);

  // Kills every process whose working directory is inside the test's
  // temporary directory (launchers and services), and the tracked pids.
  void KillLeftovers();

  std::unique_ptr<BackgroundProcess> own_svcd_;
  std::string own_url_;
  std::string fixture_url_;
  uint16_t master_port_ = 0;
  std::vector<uint16_t> worker_ports_;
  std::vector<std::string> deploy_names_;
  std::vector<int64_t> tracked_pids_;
};

// Returns the pids of processes whose working directory is in `dir`, sorted.
std::vector<int64_t> ProcessesUnder(const std::filesystem::path& dir);

// Returns the pids of live stand-in servers whose working directory is in
// `dir`, sorted.
std::vector<int64_t> StandinsUnder(const std::filesystem::path& dir);

// Returns true while `pid` exists and is not a zombie.
bool ProcessAlive(int64_t pid);

// Returns true when a TCP connection to 127.0.0.1:`port` succeeds.
bool TcpConnects(uint16_t port);

// Polls `done` every 50 ms until it holds or `timeout` passes.
bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout);

}  // namespace svcd::e2e

#endif  // SVCD_TESTS_E2E_DEPLOY_FIXTURE_H_
