// SvcdMetrics: every metric family of svcd, and the methods that the work
// queue, the controller, the executors, the probes and the HTTP server call
// to update them.
//
// Label values are bounded: controller and queue names, result and phase
// names, HTTP methods and codes, route resources, and the namespace, name
// and target names of deploys that exist. Process ids, PowerJob instance
// ids and timestamps are never labels. Series of one deploy appear with its
// first event and ForgetDeploy removes them.
//
// Thread-safety: every method may be called from any thread. The methods of
// the reconciler interfaces do at most a map lookup under a family mutex and
// an atomic update, so they are safe to call while the work queue or the
// controller holds its own lock. No method calls back into its caller.

#ifndef SVCD_METRICS_SVCD_METRICS_H_
#define SVCD_METRICS_SVCD_METRICS_H_

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "api/status.h"
#include "metrics/registry.h"
#include "reconciler/metrics.h"

namespace svcd::metrics {

// The name of the deploy controller and its queue, whose series start at 0.
inline constexpr char kDeployControllerName[] = "servicedeploy";

// The deploy phases of the API, in the order a deploy goes through them.
const std::vector<std::string>& DeployPhases();

// The target states of the API.
const std::vector<std::string>& TargetStates();

// How many targets of one role of a deploy are in one state.
struct TargetCount {
  std::string role;   // "master" or "worker"
  std::string state;  // one of TargetStates()
  int count = 0;
};

class SvcdMetrics final : public reconciler::WorkQueueMetrics,
                          public reconciler::ControllerMetrics {
 public:
  // Registers every family, with the fixed label sets at 0 and
  // svcd_build_info{version} at 1. Returns Internal when a family cannot be
  // registered, which only a bug in this file can cause.
  static StatusOr<std::unique_ptr<SvcdMetrics>> Create(std::string_view version);

  SvcdMetrics(const SvcdMetrics&) = delete;
  SvcdMetrics& operator=(const SvcdMetrics&) = delete;

  // reconciler::WorkQueueMetrics: svcd_workqueue_depth, _adds_total,
  // _retries_total, _queue_duration_seconds and _work_duration_seconds,
  // labelled by queue.
  void SetDepth(std::string_view queue, std::size_t depth) override;
  void IncAdds(std::string_view queue) override;
  void IncRetries(std::string_view queue) override;
  void ObserveQueueLatency(std::string_view queue, reconciler::Duration waited) override;
  void ObserveWorkDuration(std::string_view queue, reconciler::Duration worked) override;

  // reconciler::ControllerMetrics. ObserveReconcile counts
  // svcd_reconcile_total{controller,result}, observes
  // svcd_reconcile_duration_seconds{controller}, and counts the results
  // "error" and "terminal" in svcd_reconcile_errors_total{controller}.
  void ObserveReconcile(std::string_view controller, std::string_view result,
                        reconciler::Duration elapsed) override;
  void IncReconcileTimeouts(std::string_view controller) override;
  void SetActiveWorkers(std::string_view controller, int active) override;

  // Records the phase of one deploy. svcd_deploys{phase} counts the deploys
  // in each phase, so a deploy moves from its previous phase's count to the
  // new one. Returns InvalidArgument, changing nothing, for a phase that is
  // not one of DeployPhases().
  Status SetDeployPhase(std::string_view ns, std::string_view name, std::string_view phase);

  // Replaces the svcd_targets series of one deploy. Every role present in
  // `counts` gets one series per state of TargetStates(), 0 where `counts`
  // has none, so a target changing state moves between series that both
  // stay. Roles absent from `counts` lose their series. Counts for the same
  // role and state add up. Returns InvalidArgument, changing nothing, for an
  // unknown role or state or a negative count.
  Status SetDeployTargets(std::string_view ns, std::string_view name,
                          const std::vector<TargetCount>& counts);

  // Removes every series of the deploy (targets, restarts, probe results)
  // and its phase from svcd_deploys. Call it once the deploy is deleted.
  void ForgetDeploy(std::string_view ns, std::string_view name);

  // Counts a restart of one target in svcd_target_restarts_total.
  void IncTargetRestarts(std::string_view ns, std::string_view deploy, std::string_view target);

  // Counts a dispatch in svcd_dispatch_total{executor,result}. `executor` is
  // "local" or "powerjob", `result` is "success" or "error"; those four
  // series start at 0.
  void IncDispatch(std::string_view executor, std::string_view result);

  // Records one probe: its duration in svcd_probe_duration_seconds{type}
  // ("http", "tcp" or "exec") and its result, 1 or 0, in
  // svcd_probe_success{namespace,deploy,target}.
  void ObserveProbe(std::string_view ns, std::string_view deploy, std::string_view target,
                    std::string_view type, bool success, reconciler::Duration elapsed);

  // Observes the time from an apply of a new generation to the deploy
  // becoming Ready in svcd_deploy_ready_duration_seconds.
  void ObserveDeployReady(reconciler::Duration since_apply);

  // Counts a request to PowerJob in svcd_powerjob_requests_total.
  void IncPowerJobRequest(std::string_view operation, std::string_view result);

  // Records one HTTP request in svcd_api_requests_total{verb,resource,code}
  // and svcd_api_request_duration_seconds{verb,resource}. `route` is the
  // matched route pattern (empty when none matched); see ApiVerb and
  // ApiResource for how the labels are derived.
  void ObserveApiRequest(std::string_view method, std::string_view route, int code,
                         reconciler::Duration elapsed);

  // Renders every family in the text format 0.0.4. Safe to call while
  // other threads update series; see Registry::Snapshot for the locking.
  std::string Render() const { return registry_.Render(); }

  const Registry& registry() const { return registry_; }

 private:
  SvcdMetrics() = default;
  Status Register(std::string_view version);
  Status RegisterReconcile();
  Status RegisterQueue();
  Status RegisterDeploys();
  Status RegisterApi(std::string_view version);

  // Logs a dropped update. Only the first is a warning and later ones are
  // debug lines, so that a caller in a loop cannot flood the log.
  void Dropped(std::string_view family, const Status& why);

  // Finds or creates the series and applies `update` to it, or logs why the
  // series could not be created.
  template <typename Series, typename Update>
  void With(Family<Series>* family, std::initializer_list<std::string_view> values, Update update);

  Registry registry_;
  std::atomic<bool> warned_ = false;

  CounterFamily* reconcile_total_ = nullptr;
  CounterFamily* reconcile_errors_ = nullptr;
  HistogramFamily* reconcile_duration_ = nullptr;
  GaugeFamily* active_workers_ = nullptr;
  CounterFamily* reconcile_timeouts_ = nullptr;

  GaugeFamily* queue_depth_ = nullptr;
  CounterFamily* queue_adds_ = nullptr;
  CounterFamily* queue_retries_ = nullptr;
  HistogramFamily* queue_duration_ = nullptr;
  HistogramFamily* work_duration_ = nullptr;

  GaugeFamily* deploys_ = nullptr;
  GaugeFamily* targets_ = nullptr;
  CounterFamily* target_restarts_ = nullptr;
  CounterFamily* dispatches_ = nullptr;
  HistogramFamily* probe_duration_ = nullptr;
  GaugeFamily* probe_success_ = nullptr;
  HistogramFamily* ready_duration_ = nullptr;
  CounterFamily* powerjob_requests_ = nullptr;
  CounterFamily* api_requests_ = nullptr;
  HistogramFamily* api_duration_ = nullptr;
  GaugeFamily* build_info_ = nullptr;

  // Serializes phase changes so that svcd_deploys always sums to the
  // number of deploys in phases_.
  std::mutex phase_mutex_;
  std::map<std::string, std::string, std::less<>> phases_;  // "ns/name" -> phase; guarded

  // Serializes SetDeployTargets and ForgetDeploy, which replace a deploy's
  // series in several steps.
  std::mutex targets_mutex_;
};

// Returns the verb label of an HTTP method: the method itself for GET, HEAD,
// POST, PUT, PATCH, DELETE and OPTIONS, "other" for anything else, so that
// a client cannot create series with made-up methods.
std::string_view ApiVerb(std::string_view method);

// Returns the resource label of a route pattern. The prefix
// "/apis/svcd.io/v1alpha1/" or "/api/v1/" and then "namespaces/{ns}/" are
// skipped, and the next segment is the resource: "servicedeploys", "hosts",
// "apply", "events" or "reports" for API routes, "deploys" for the legacy
// "/api/v1/deploys", "metrics" or "healthz" for those paths. An empty
// pattern, which means no route matched, or a parameter segment gives
// "other". Raw paths are never labels, so the values are bounded by the
// routes registered.
std::string_view ApiResource(std::string_view route);

}  // namespace svcd::metrics

#endif  // SVCD_METRICS_SVCD_METRICS_H_
