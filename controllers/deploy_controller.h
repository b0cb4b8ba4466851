// DeployController: the reconcile loop of ServiceDeploy objects.
//
// Each pass is level-triggered: it reads the desired state (the deploy's
// spec and generation, its template and Hosts, rendered into one script per
// node) and the observed state (target rows, the latest dispatch of each
// target with the launcher's reports, probe results), decides, acts through
// an Executor, and writes the deploy's status when it changed. svcd's own
// status writes never enqueue the deploy again; reports, probe transitions,
// writes through the API and timers do.
//
// The controller is also the ObservationSink of launcher reports: it checks
// each report's secret against the dispatch row and records it through the
// RuntimeStore, which rejects reports of superseded attempts.

#ifndef SVCD_CONTROLLERS_DEPLOY_CONTROLLER_H_
#define SVCD_CONTROLLERS_DEPLOY_CONTROLLER_H_

#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "api/types.h"
#include "archive/archiver.h"
#include "dispatch/executor.h"
#include "dispatch/observation_sink.h"
#include "metrics/svcd_metrics.h"
#include "powerjob/powerjob_executor.h"
#include "probe/probe_scheduler.h"
#include "reconciler/clock.h"
#include "reconciler/reconciler.h"
#include "store/runtime_store.h"
#include "store/store.h"

namespace svcd::controllers {

// How often a pass looks at a local service whose launcher is gone.
inline constexpr int64_t kLostLauncherCheckMs = 2000;

struct DeployControllerOptions {
  std::string advertise_url;  // where launchers report, such as http://127.0.0.1:7070
  int heartbeat_seconds = 5;
  int stop_grace_seconds = 10;
  size_t max_script_bytes = 64 * 1024;
  int probe_events_kept = 200;  // per target
  // How often a converged deploy is checked again even without events.
  std::chrono::seconds steady_recheck{30};
  // Receives deploy phases, target states, restarts, dispatches, probe
  // results and times to Ready. May be null.
  metrics::SvcdMetrics* metrics = nullptr;
  // Runs targets on Hosts whose executor is "powerjob". Null when svcd runs
  // without PowerJob; dispatches to such Hosts then fail, saying so.
  powerjob::PowerJobExecutor* powerjob = nullptr;
  // Packs a deploy's logs, scripts and env files when it is deleted, after
  // every target stopped and before the finalizer goes. May be null.
  archive::Archiver* archiver = nullptr;
};

struct Observed;  // controllers/deploy_status.h

class DeployController final : public reconciler::Reconciler, public dispatch::ObservationSink {
 public:
  // Every collaborator must outlive the controller. `executor` runs targets
  // on Hosts whose executor is "local".
  DeployController(store::Store& store, dispatch::Executor& executor, probe::Prober& prober,
                   reconciler::Clock& clock, DeployControllerOptions options);
  ~DeployController() override;

  // Sets the function that enqueues a deploy key ("namespace/name"). Call
  // before the first reconcile; reports and probe transitions use it.
  void SetEnqueue(std::function<void(const std::string&)> enqueue);

  // Lists the keys of every live deploy, for the controller's resync.
  StatusOr<std::vector<std::string>> ListKeys();

  // reconciler::Reconciler. `key` is "namespace/name".
  reconciler::Result Reconcile(const std::string& key, const reconciler::Context& ctx) override;

  // dispatch::ObservationSink.
  Status OnStarted(const dispatch::ReportContext& context,
                   const dispatch::StartedReport& report) override;
  Status OnHeartbeat(const dispatch::ReportContext& context,
                     const dispatch::HeartbeatReport& report) override;
  Status OnLog(const dispatch::ReportContext& context, int64_t offset,
               std::string_view bytes) override;
  Status OnExit(const dispatch::ReportContext& context,
                const dispatch::ExitReport& report) override;
  // Hands the result of an exec probe that the launcher ran on the host to
  // the probe scheduler. A result of an attempt that is not the target's
  // probed one is dropped.
  Status OnProbe(const dispatch::ReportContext& context,
                 const dispatch::ProbeReport& report) override;

  // Stops probing; call before the executor and store go away.
  void Shutdown();

 private:
  struct Pass;  // the state of one reconcile, in deploy_controller.cc

  // Checks the dispatch and its secret; returns the dispatch row.
  StatusOr<store::DispatchRecord> Authenticate(const dispatch::ReportContext& context);
  void EnqueueDeployOf(const std::string& deploy_uid);
  void OnProbeResult(const probe::ProbeEvent& event);

  // Reconcile steps, in deploy_reconcile.cc and deploy_actions.cc.
  reconciler::Result ReconcileDeploy(Pass& pass);
  void Resolve(Pass& pass);
  Status Observe(Pass& pass);
  Status Refresh(Pass& pass);
  reconciler::Result ReconcileDeletion(Pass& pass);
  Status ActOnFailures(Pass& pass);
  Status ReplaceOutdated(Pass& pass);
  Status StartPending(Pass& pass);
  Status StopTarget(Pass& pass, const store::TargetRecord& target, const std::string& why);
  // Stops `targets` at the same time and records each result; returns the
  // first error after handling all of them.
  Status StopTargets(Pass& pass, const std::vector<const store::TargetRecord*>& targets,
                     const std::string& why);
  // Records the result of one target's stop (none when `result` is
  // invalid: nothing ran) with the fencing token `lease`.
  Status FinishStop(Pass& pass, const store::TargetRecord& target, int64_t lease,
                    std::future<StatusOr<dispatch::StopResult>>& result, const std::string& why);
  Status StopFailed(Pass& pass, const store::TargetRecord& target, const Status& error);
  void ShipOrphanedLog(const store::DispatchRecord& dispatch, int64_t lease,
                       const dispatch::AttemptInfo& info);
  Status DispatchTarget(Pass& pass, const store::TargetRecord& target);
  std::string CheckRendered(Pass& pass, const store::TargetRecord& target);
  Status WriteStatus(Pass& pass);
  void SyncProbes(Pass& pass);
  bool ExitedOnBusyPort(const Pass& pass, const store::TargetRecord& target, const Observed& o);
  bool WasReadyBefore(const Pass& pass, const store::TargetRecord& target, const Observed& o);
  Status RetryBusyPort(Pass& pass, const store::TargetRecord& target, bool& handled);
  std::optional<api::Probe> ProbeOf(const Pass& pass, const std::string& role) const;
  // Returns why the target's recorded script differs from a fresh render:
  // "HostChanged" when only a Host address moved, else "TemplateChanged".
  std::string ChangeReason(const Pass& pass, const store::TargetRecord& target) const;
  // Records once per attempt that a local service outlived its launcher,
  // and checks it again soon.
  void NoteLostLauncher(Pass& pass, const store::TargetRecord& target,
                        const dispatch::AttemptInfo& info);
  // Whether the target's launcher runs an exec probe other than the spec's.
  bool ExecProbeChanged(const Pass& pass, const store::TargetRecord& target);
  void Record(Pass& pass, const std::string& type, const std::string& reason,
              const std::string& message);
  int64_t NowMs() const;
  void ExportMetrics(const Pass& pass, const api::ServiceDeployStatus& status);
  // PowerJob hosts, in deploy_powerjob.cc.
  dispatch::Executor* ExecutorFor(const api::Host& host);
  std::string DispatchBlocked(const api::Host& host) const;
  void ObservePowerJob(Pass& pass, const store::TargetRecord& target, Observed& o);
  void AbandonAttempt(const api::Host& host, const std::string& dispatch_id);
  // Whether no service of the attempt can run: its PowerJob instance still
  // waits for delivery (status 1 or 2) or FAILED (4). True when svcd runs
  // without PowerJob.
  bool NothingRuns(const std::string& dispatch_id);
  void WriteHostStatus(Pass& pass);
  bool ReportedSince(Pass& pass, const std::string& host,
                     const std::optional<reconciler::WallTime>& since);
  void ForgetMetrics(const std::string& key);

  store::Store& store_;
  store::RuntimeStore& runtime_;
  dispatch::Executor& executor_;
  reconciler::Clock& clock_;
  const DeployControllerOptions options_;
  std::unique_ptr<probe::ProbeScheduler> probes_;

  std::mutex mu_;
  std::function<void(const std::string&)> enqueue_;  // guarded by mu_
  std::map<std::string, std::string> key_by_uid_;    // guarded by mu_
  std::map<std::string, std::string> probe_keys_;    // probe key -> deploy key; guarded by mu_
  // Restarts after "address already in use" per "namespace/name/target"
  // since the target was last ready; guarded by mu_.
  std::map<std::string, int> port_busy_retries_;
  // Dispatch ids whose target passed its probe before this svcd started;
  // guarded by mu_. NOTE: never pruned; one short string per adopted attempt.
  std::set<std::string> ready_before_;
  // Dispatch id -> the exec probe its launcher runs, recorded at dispatch.
  // Guarded by mu_. NOTE: kept in memory only, so after a restart an
  // adopted launcher is assumed to run the probe of the current spec.
  std::map<std::string, api::Probe> dispatched_probes_;
  // Dispatch ids whose service outlived its launcher, recorded once each;
  // guarded by mu_. NOTE: never pruned; one short string per such attempt.
  std::set<std::string> lost_launchers_;
  // Probe key -> probe type ("http", "tcp", "exec"); guarded by mu_.
  std::map<std::string, std::string> probe_types_;
  // Deploy key -> the generation seen and when it was first seen, for the
  // time to Ready; guarded by mu_.
  struct GenerationSeen {
    int64_t generation = 0;
    int64_t first_seen_ms = 0;
    bool ready_observed = false;
  };
  std::map<std::string, GenerationSeen> generations_;
};

}  // namespace svcd::controllers

#endif  // SVCD_CONTROLLERS_DEPLOY_CONTROLLER_H_
