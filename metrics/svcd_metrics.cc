#include "metrics/svcd_metrics.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <utility>

namespace svcd::metrics {
namespace {

// Bucket bounds in seconds. Reconciles, API requests and probes mostly take
// milliseconds but can wait on a database or a slow model server.
const std::vector<double> kFastBounds = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                         1,     2.5,  5,     10,   30,  60};
// A key can wait in the queue through a rate-limited retry of minutes.
const std::vector<double> kQueueBounds = {0.001, 0.01, 0.1, 0.5, 1, 5, 10, 30, 60, 300};
// A model server can take many minutes to load; the default startup timeout
// of a deploy is 1200 s.
const std::vector<double> kReadyBounds = {1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600};

const std::vector<std::string> kReconcileResults = {"success", "error", "requeue", "requeue_after",
                                                    "terminal"};
const std::vector<std::string> kRoles = {"master", "worker"};

double Seconds(reconciler::Duration duration) {
  return std::chrono::duration<double>(duration).count();
}

std::string DeployKey(std::string_view ns, std::string_view name) {
  std::string key(ns);
  key += '/';
  key += name;
  return key;
}

bool Contains(const std::vector<std::string>& values, std::string_view value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

std::string JoinNames(const std::vector<std::string>& values) {
  std::string joined;
  for (const std::string& value : values) joined += (joined.empty() ? "" : ", ") + value;
  return joined;
}

// Stores a registered family in `slot`, or keeps the first error.
template <typename FamilyType>
void Keep(StatusOr<FamilyType*> added, FamilyType** slot, Status& status) {
  if (!status.ok()) return;
  if (added.ok()) {
    *slot = *added;
  } else {
    status = added.status();
  }
}

}  // namespace

const std::vector<std::string>& DeployPhases() {
  static const std::vector<std::string> phases = {"Pending",  "Progressing", "Ready",
                                                  "Degraded", "Failed",      "Terminating"};
  return phases;
}

const std::vector<std::string>& TargetStates() {
  static const std::vector<std::string> states = {"PENDING", "DISPATCHING", "RUNNING", "READY",
                                                  "FAILED",  "CANCELLED",   "TIMEOUT"};
  return states;
}

StatusOr<std::unique_ptr<SvcdMetrics>> SvcdMetrics::Create(std::string_view version) {
  std::unique_ptr<SvcdMetrics> metrics(new SvcdMetrics());
  if (Status registered = metrics->Register(version); !registered.ok()) {
    return Status::Internal("registering svcd's metrics failed: " + registered.message());
  }
  return metrics;
}

Status SvcdMetrics::Register(std::string_view version) {
  Status status = RegisterReconcile();
  if (status.ok()) status = RegisterQueue();
  if (status.ok()) status = RegisterDeploys();
  if (status.ok()) status = RegisterApi(version);
  return status;
}

Status SvcdMetrics::RegisterReconcile() {
  Status status;
  Keep(registry_.AddCounter({"svcd_reconcile_total",
                             "Reconciles finished, by controller and result.",
                             {"controller", "result"}}),
       &reconcile_total_, status);
  Keep(registry_.AddCounter({"svcd_reconcile_errors_total",
                             "Reconciles that returned an error or a terminal error.",
                             {"controller"}}),
       &reconcile_errors_, status);
  Keep(registry_.AddHistogram(
           {"svcd_reconcile_duration_seconds", "Time spent in one reconcile.", {"controller"}},
           kFastBounds),
       &reconcile_duration_, status);
  Keep(registry_.AddGauge({"svcd_active_workers",
                           "Workers of a controller currently inside a reconcile.",
                           {"controller"}}),
       &active_workers_, status);
  Keep(registry_.AddCounter({"svcd_reconcile_timeouts_total",
                             "Reconciles that reached the controller's reconcile timeout.",
                             {"controller"}}),
       &reconcile_timeouts_, status);
  if (!status.ok()) return status;

  const std::vector<std::string> controller = {kDeployControllerName};
  status = reconcile_total_->DeclareCombinations({controller, kReconcileResults});
  if (status.ok()) status = reconcile_errors_->DeclareCombinations({controller});
  if (status.ok()) status = reconcile_duration_->DeclareCombinations({controller});
  if (status.ok()) status = active_workers_->DeclareCombinations({controller});
  if (status.ok()) status = reconcile_timeouts_->DeclareCombinations({controller});
  return status;
}

Status SvcdMetrics::RegisterQueue() {
  Status status;
  Keep(registry_.AddGauge({"svcd_workqueue_depth", "Keys waiting in a work queue.", {"queue"}}),
       &queue_depth_, status);
  Keep(registry_.AddCounter({"svcd_workqueue_adds_total",
                             "Keys added to a work queue that were not already waiting.",
                             {"queue"}}),
       &queue_adds_, status);
  Keep(registry_.AddCounter({"svcd_workqueue_retries_total",
                             "Rate-limited re-adds of a key to a work queue.",
                             {"queue"}}),
       &queue_retries_, status);
  Keep(registry_.AddHistogram({"svcd_workqueue_queue_duration_seconds",
                               "Time a key waited in a work queue before a worker took it.",
                               {"queue"}},
                              kQueueBounds),
       &queue_duration_, status);
  Keep(registry_.AddHistogram({"svcd_workqueue_work_duration_seconds",
                               "Time a worker spent on a key, from taking it to done.",
                               {"queue"}},
                              kFastBounds),
       &work_duration_, status);
  if (!status.ok()) return status;

  // A controller names its queue after itself.
  const std::vector<std::vector<std::string>> queue = {{kDeployControllerName}};
  status = queue_depth_->DeclareCombinations(queue);
  if (status.ok()) status = queue_adds_->DeclareCombinations(queue);
  if (status.ok()) status = queue_retries_->DeclareCombinations(queue);
  if (status.ok()) status = queue_duration_->DeclareCombinations(queue);
  if (status.ok()) status = work_duration_->DeclareCombinations(queue);
  return status;
}

Status SvcdMetrics::RegisterDeploys() {
  Status status;
  Keep(registry_.AddGauge({"svcd_deploys", "ServiceDeploys in each phase.", {"phase"}}), &deploys_,
       status);
  Keep(registry_.AddGauge({"svcd_targets",
                           "Targets of a ServiceDeploy by role and state.",
                           {"namespace", "deploy", "role", "state"}}),
       &targets_, status);
  Keep(registry_.AddCounter({"svcd_target_restarts_total",
                             "Restarts of a target after its process exited or its probe failed.",
                             {"namespace", "deploy", "target"}}),
       &target_restarts_, status);
  Keep(registry_.AddCounter(
           {"svcd_dispatch_total", "Dispatches of a target's script.", {"executor", "result"}}),
       &dispatches_, status);
  Keep(registry_.AddHistogram({"svcd_probe_duration_seconds",
                               "Time one readiness probe took, by probe type.",
                               {"type"}},
                              kFastBounds),
       &probe_duration_, status);
  Keep(registry_.AddGauge({"svcd_probe_success",
                           "Result of a target's last probe: 1 succeeded, 0 failed.",
                           {"namespace", "deploy", "target"}}),
       &probe_success_, status);
  Keep(registry_.AddHistogram({"svcd_deploy_ready_duration_seconds",
                               "Time from applying a deploy's generation to the deploy "
                               "becoming Ready.",
                               {}},
                              kReadyBounds),
       &ready_duration_, status);
  Keep(registry_.AddCounter({"svcd_powerjob_requests_total",
                             "Requests to the PowerJob server, by operation and result.",
                             {"operation", "result"}}),
       &powerjob_requests_, status);
  if (!status.ok()) return status;

  status = deploys_->DeclareCombinations({DeployPhases()});
  if (status.ok())
    status = dispatches_->DeclareCombinations({{"local", "powerjob"}, {"success", "error"}});
  if (status.ok()) status = ready_duration_->DeclareCombinations({});
  return status;
}

Status SvcdMetrics::RegisterApi(std::string_view version) {
  Status status;
  Keep(registry_.AddCounter({"svcd_api_requests_total",
                             "HTTP requests served, by verb, resource and status code.",
                             {"verb", "resource", "code"}}),
       &api_requests_, status);
  Keep(registry_.AddHistogram({"svcd_api_request_duration_seconds",
                               "Time from receiving an HTTP request to sending its reply.",
                               {"verb", "resource"}},
                              kFastBounds),
       &api_duration_, status);
  Keep(registry_.AddGauge(
           {"svcd_build_info", "Always 1; the label holds svcd's version.", {"version"}}),
       &build_info_, status);
  if (!status.ok()) return status;

  StatusOr<std::shared_ptr<Gauge>> info = build_info_->Get({version});
  if (!info.ok()) return info.status();
  (*info)->Set(1);
  return Status::Ok();
}

void SvcdMetrics::Dropped(std::string_view family, const Status& why) {
  if (!warned_.exchange(true)) {
    spdlog::warn("metrics: dropped an update of {}: {} (later drops are logged at debug level)",
                 family, why.message());
  } else {
    spdlog::debug("metrics: dropped an update of {}: {}", family, why.message());
  }
}

template <typename Series, typename Update>
void SvcdMetrics::With(Family<Series>* family, std::initializer_list<std::string_view> values,
                       Update update) {
  StatusOr<std::shared_ptr<Series>> series = family->Get(values);
  if (series.ok()) {
    update(**series);
  } else {
    Dropped(family->name(), series.status());
  }
}

void SvcdMetrics::SetDepth(std::string_view queue, std::size_t depth) {
  With(queue_depth_, {queue}, [depth](Gauge& g) { g.Set(static_cast<double>(depth)); });
}

void SvcdMetrics::IncAdds(std::string_view queue) {
  With(queue_adds_, {queue}, [](Counter& c) { c.Inc(); });
}

void SvcdMetrics::IncRetries(std::string_view queue) {
  With(queue_retries_, {queue}, [](Counter& c) { c.Inc(); });
}

void SvcdMetrics::ObserveQueueLatency(std::string_view queue, reconciler::Duration waited) {
  With(queue_duration_, {queue}, [waited](Histogram& h) { h.Observe(Seconds(waited)); });
}

void SvcdMetrics::ObserveWorkDuration(std::string_view queue, reconciler::Duration worked) {
  With(work_duration_, {queue}, [worked](Histogram& h) { h.Observe(Seconds(worked)); });
}

void SvcdMetrics::ObserveReconcile(std::string_view controller, std::string_view result,
                                   reconciler::Duration elapsed) {
  With(reconcile_total_, {controller, result}, [](Counter& c) { c.Inc(); });
  With(reconcile_duration_, {controller}, [elapsed](Histogram& h) { h.Observe(Seconds(elapsed)); });
  if (result == "error" || result == "terminal") {
    With(reconcile_errors_, {controller}, [](Counter& c) { c.Inc(); });
  }
}

void SvcdMetrics::IncReconcileTimeouts(std::string_view controller) {
  With(reconcile_timeouts_, {controller}, [](Counter& c) { c.Inc(); });
}

void SvcdMetrics::SetActiveWorkers(std::string_view controller, int active) {
  With(active_workers_, {controller}, [active](Gauge& g) { g.Set(active); });
}

Status SvcdMetrics::SetDeployPhase(std::string_view ns, std::string_view name,
                                   std::string_view phase) {
  if (!Contains(DeployPhases(), phase)) {
    return Status::InvalidArgument("deploy " + DeployKey(ns, name) + ": phase \"" +
                                   std::string(phase) + "\" is not one of " +
                                   JoinNames(DeployPhases()));
  }
  std::lock_guard<std::mutex> lock(phase_mutex_);
  auto [entry, inserted] = phases_.try_emplace(DeployKey(ns, name), phase);
  if (!inserted) {
    if (entry->second == phase) return Status::Ok();
    With(deploys_, {entry->second}, [](Gauge& g) { g.Add(-1); });
    entry->second = phase;
  }
  With(deploys_, {phase}, [](Gauge& g) { g.Add(1); });
  return Status::Ok();
}

Status SvcdMetrics::SetDeployTargets(std::string_view ns, std::string_view name,
                                     const std::vector<TargetCount>& counts) {
  // Check everything first so that a bad entry changes nothing.
  std::map<std::string, std::map<std::string, int>> by_role;
  for (const TargetCount& count : counts) {
    std::string where = "deploy " + DeployKey(ns, name) + ": targets of role \"" + count.role +
                        "\" in state \"" + count.state + "\": ";
    if (!Contains(kRoles, count.role)) {
      return Status::InvalidArgument(where + "role must be one of " + JoinNames(kRoles));
    }
    if (!Contains(TargetStates(), count.state)) {
      return Status::InvalidArgument(where + "state must be one of " + JoinNames(TargetStates()));
    }
    if (count.count < 0) {
      return Status::InvalidArgument(where + "count must not be negative, got " +
                                     std::to_string(count.count));
    }
    by_role[count.role][count.state] += count.count;
  }

  // Set the new values before removing roles that are gone, so that a scrape
  // in between never misses a series that stays.
  std::lock_guard<std::mutex> lock(targets_mutex_);
  for (const auto& [role, states] : by_role) {
    for (const std::string& state : TargetStates()) {
      auto found = states.find(state);
      double value = found == states.end() ? 0 : found->second;
      StatusOr<std::shared_ptr<Gauge>> series = targets_->Get({ns, name, role, state});
      if (!series.ok()) return series.status();
      (*series)->Set(value);
    }
  }
  for (const std::string& role : kRoles) {
    if (by_role.count(role) > 0) continue;
    StatusOr<size_t> removed =
        targets_->RemoveMatching({{"namespace", ns}, {"deploy", name}, {"role", role}});
    if (!removed.ok()) return removed.status();
  }
  return Status::Ok();
}

void SvcdMetrics::ForgetDeploy(std::string_view ns, std::string_view name) {
  {
    std::lock_guard<std::mutex> lock(targets_mutex_);
    const std::initializer_list<LabelMatch> deploy = {{"namespace", ns}, {"deploy", name}};
    for (auto* family : {targets_, probe_success_}) {
      if (StatusOr<size_t> removed = family->RemoveMatching(deploy); !removed.ok()) {
        Dropped(family->name(), removed.status());
      }
    }
    if (StatusOr<size_t> removed = target_restarts_->RemoveMatching(deploy); !removed.ok()) {
      Dropped(target_restarts_->name(), removed.status());
    }
  }

  std::lock_guard<std::mutex> lock(phase_mutex_);
  auto entry = phases_.find(DeployKey(ns, name));
  if (entry == phases_.end()) return;
  With(deploys_, {entry->second}, [](Gauge& g) { g.Add(-1); });
  phases_.erase(entry);
}

void SvcdMetrics::IncTargetRestarts(std::string_view ns, std::string_view deploy,
                                    std::string_view target) {
  With(target_restarts_, {ns, deploy, target}, [](Counter& c) { c.Inc(); });
}

void SvcdMetrics::IncDispatch(std::string_view executor, std::string_view result) {
  With(dispatches_, {executor, result}, [](Counter& c) { c.Inc(); });
}

void SvcdMetrics::ObserveProbe(std::string_view ns, std::string_view deploy,
                               std::string_view target, std::string_view type, bool success,
                               reconciler::Duration elapsed) {
  With(probe_duration_, {type}, [elapsed](Histogram& h) { h.Observe(Seconds(elapsed)); });
  With(probe_success_, {ns, deploy, target}, [success](Gauge& g) { g.Set(success ? 1 : 0); });
}

void SvcdMetrics::ObserveDeployReady(reconciler::Duration since_apply) {
  With(ready_duration_, {}, [since_apply](Histogram& h) { h.Observe(Seconds(since_apply)); });
}

void SvcdMetrics::IncPowerJobRequest(std::string_view operation, std::string_view result) {
  With(powerjob_requests_, {operation, result}, [](Counter& c) { c.Inc(); });
}

void SvcdMetrics::ObserveApiRequest(std::string_view method, std::string_view route, int code,
                                    reconciler::Duration elapsed) {
  std::string_view verb = ApiVerb(method);
  std::string_view resource = ApiResource(route);
  std::string code_text = code >= 100 && code <= 599 ? std::to_string(code) : "other";
  With(api_requests_, {verb, resource, code_text}, [](Counter& c) { c.Inc(); });
  With(api_duration_, {verb, resource}, [elapsed](Histogram& h) { h.Observe(Seconds(elapsed)); });
}

std::string_view ApiVerb(std::string_view method) {
  static constexpr std::string_view kVerbs[] = {"GET",   "HEAD",   "POST",   "PUT",
                                                "PATCH", "DELETE", "OPTIONS"};
  for (std::string_view verb : kVerbs) {
    if (method == verb) return verb;
  }
  return "other";
}

std::string_view ApiResource(std::string_view route) {
  for (std::string_view prefix : {"/apis/svcd.io/v1alpha1/", "/api/v1/"}) {
    if (route.starts_with(prefix)) {
      route.remove_prefix(prefix.size());
      break;
    }
  }
  if (route.starts_with("/")) route.remove_prefix(1);
  if (route.starts_with("namespaces/{")) {
    size_t slash = route.find('/', std::string_view("namespaces/").size());
    route = slash == std::string_view::npos ? std::string_view() : route.substr(slash + 1);
  }
  std::string_view segment = route.substr(0, route.find('/'));
  if (segment.empty() || segment.front() == '{') return "other";
  return segment;
}

}  // namespace svcd::metrics
