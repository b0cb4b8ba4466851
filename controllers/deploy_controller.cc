#include "controllers/deploy_controller.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <random>

#include "api/codec.h"
#include "api/defaults.h"
#include "controllers/deploy_pass.h"
#include "probe/text.h"
#include "render/render.h"

namespace svcd::controllers {
StatusOr<std::string> SecretHash(const std::string& secret) {
  StatusOr<std::string> hash = render::HashBytes(secret);
  if (!hash.ok()) return hash.status();
  return hash->substr(hash->find(':') + 1);  // the dispatch row stores bare hex
}

std::string ProbeKey(const std::string& deploy_key, const std::string& target) {
  return deploy_key + "/" + target;
}

DeployController::DeployController(store::Store& store, dispatch::Executor& executor,
                                   probe::Prober& prober, reconciler::Clock& clock,
                                   DeployControllerOptions options)
    : store_(store),
      runtime_(store.runtime()),
      executor_(executor),
      clock_(clock),
      options_(std::move(options)) {
  probe::ProbeSchedulerOptions probe_options;
  probe_options.on_result = [this](const probe::ProbeEvent& event) { OnProbeResult(event); };
  probe_options.on_transition = [this](const probe::ProbeEvent& event) {
    std::string deploy_key;
    {
      std::lock_guard lock(mu_);
      auto it = probe_keys_.find(event.key);
      if (it == probe_keys_.end()) return;
      deploy_key = it->second;
    }
    std::function<void(const std::string&)> enqueue;
    {
      std::lock_guard lock(mu_);
      enqueue = enqueue_;
    }
    if (enqueue) enqueue(deploy_key);
  };
  probes_ = std::make_unique<probe::ProbeScheduler>(clock, prober, std::move(probe_options));
}

DeployController::~DeployController() { Shutdown(); }

void DeployController::Shutdown() {
  if (probes_) probes_->Stop();
}

void DeployController::SetEnqueue(std::function<void(const std::string&)> enqueue) {
  std::lock_guard lock(mu_);
  enqueue_ = std::move(enqueue);
}

int64_t DeployController::NowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock_.WallNow().time_since_epoch())
      .count();
}

StatusOr<std::vector<std::string>> DeployController::ListKeys() {
  StatusOr<std::vector<api::Object>> deploys = store_.List({.kind = api::kKindServiceDeploy});
  if (!deploys.ok()) return deploys.status();
  std::vector<std::string> keys;
  std::lock_guard lock(mu_);
  for (const api::Object& object : *deploys) {
    const api::ObjectMeta& meta = api::MetaOf(object);
    keys.push_back(meta.namespace_ + "/" + meta.name);
    key_by_uid_[meta.uid] = keys.back();
  }
  return keys;
}

void DeployController::EnqueueDeployOf(const std::string& deploy_uid) {
  std::string key;
  std::function<void(const std::string&)> enqueue;
  {
    std::lock_guard lock(mu_);
    auto it = key_by_uid_.find(deploy_uid);
    if (it != key_by_uid_.end()) key = it->second;
    enqueue = enqueue_;
  }
  if (key.empty()) {
    // A report for a deploy this process has not reconciled yet (after a
    // restart): find its key once.
    if (!ListKeys().ok()) return;
    std::lock_guard lock(mu_);
    auto it = key_by_uid_.find(deploy_uid);
    if (it == key_by_uid_.end()) return;
    key = it->second;
  }
  if (enqueue) enqueue(key);
}

// ---------------------------------------------------------------------------
// Reports from launchers

StatusOr<store::DispatchRecord> DeployController::Authenticate(
    const dispatch::ReportContext& context) {
  StatusOr<store::DispatchRecord> dispatch = runtime_.GetDispatch(context.dispatch_id);
  if (!dispatch.ok()) return dispatch.status();
  StatusOr<std::string> hash = SecretHash(context.secret);
  if (!hash.ok()) return hash.status();
  if (!dispatch::SecretsEqual(*hash, dispatch->secret_hash)) {
    return Status::Unauthenticated("wrong secret for dispatch " + context.dispatch_id);
  }
  return dispatch;
}

Status DeployController::OnStarted(const dispatch::ReportContext& context,
                                   const dispatch::StartedReport& report) {
  StatusOr<store::DispatchRecord> dispatch = Authenticate(context);
  if (!dispatch.ok()) return dispatch.status();
  Status recorded =
      runtime_.RecordStarted(context.dispatch_id, context.lease, report.pid, report.start_time_ms);
  if (recorded.ok()) EnqueueDeployOf(dispatch->deploy_uid);
  return recorded;
}

Status DeployController::OnHeartbeat(const dispatch::ReportContext& context,
                                     const dispatch::HeartbeatReport& report) {
  StatusOr<store::DispatchRecord> dispatch = Authenticate(context);
  if (!dispatch.ok()) return dispatch.status();
  const bool first = !dispatch->pid.has_value();
  Status recorded = runtime_.RecordHeartbeat(context.dispatch_id, context.lease, report.ports,
                                             report.cpu_percent, report.mem_bytes);
  if (recorded.ok() && first) EnqueueDeployOf(dispatch->deploy_uid);
  return recorded;
}

Status DeployController::OnLog(const dispatch::ReportContext& context, int64_t offset,
                               std::string_view bytes) {
  StatusOr<store::DispatchRecord> dispatch = Authenticate(context);
  if (!dispatch.ok()) return dispatch.status();
  return runtime_.AppendLog(context.dispatch_id, context.lease, offset, std::string(bytes));
}

Status DeployController::OnExit(const dispatch::ReportContext& context,
                                const dispatch::ExitReport& report) {
  StatusOr<store::DispatchRecord> dispatch = Authenticate(context);
  if (!dispatch.ok()) return dispatch.status();
  Status recorded = runtime_.RecordExit(context.dispatch_id, context.lease, report.exit_code);
  if (recorded.ok()) EnqueueDeployOf(dispatch->deploy_uid);
  return recorded;
}

namespace {

// Turns one exec probe run reported by a launcher into a probe result.
probe::ProbeResult ResultOf(const dispatch::ProbeReport& report) {
  probe::ProbeResult result;
  result.latency = std::chrono::milliseconds(report.latency_ms);
  result.exit_code = report.exit_code;
  const std::string output =
      report.output.empty() ? "" : ", output: " + probe::Quote(report.output, 200);
  const std::string code = std::to_string(report.exit_code);
  if (report.timed_out) {
    result.failure = probe::FailureKind::kTimeout;
    result.message = "the exec probe timed out on the host after " +
                     std::to_string(report.latency_ms) + " ms and its session was killed" + output;
  } else if (report.exit_code == 0) {
    result.success = true;
    result.message = "the exec probe exited with 0 on the host" + output;
  } else if (report.exit_code == 126 || report.exit_code == 127) {
    result.failure = probe::FailureKind::kExecStartFailed;
    result.message = "the exec probe's command could not be run on the host (exit " + code +
                     (report.exit_code == 127 ? ": not found in PATH" : ": not executable") + ")" +
                     output;
  } else {
    result.failure = probe::FailureKind::kExitCode;
    result.message = "the exec probe exited with " + code + " on the host" + output;
  }
  if (result.message.size() > probe::kMaxMessageBytes) {
    result.message = probe::OneLine(result.message, probe::kMaxMessageBytes);
  }
  return result;
}

}  // namespace

Status DeployController::OnProbe(const dispatch::ReportContext& context,
                                 const dispatch::ProbeReport& report) {
  StatusOr<store::DispatchRecord> dispatch = Authenticate(context);
  if (!dispatch.ok()) return dispatch.status();
  std::string deploy_key;
  {
    std::lock_guard lock(mu_);
    auto it = key_by_uid_.find(dispatch->deploy_uid);
    if (it != key_by_uid_.end()) deploy_key = it->second;
  }
  if (deploy_key.empty()) return Status::Ok();  // not reconciled yet; nothing probes it
  // The host's clock is trusted within an hour. Beyond that (a host with a
  // wrong clock), the arrival time is used as the start.
  auto started = reconciler::WallTime(std::chrono::milliseconds(report.started_ms));
  if (std::abs(report.started_ms - NowMs()) > 3600 * 1000) started = clock_.WallNow();
  Status handed = probes_->Report(ProbeKey(deploy_key, dispatch->target_name), context.dispatch_id,
                                  ResultOf(report), started);
  if (!handed.ok()) {
    // The target is not probed through this attempt (yet, or any more).
    spdlog::debug("deploy={} target={} probe result {} of dispatch {} dropped: {}", deploy_key,
                  dispatch->target_name, report.seq, context.dispatch_id, handed.message());
  }
  return Status::Ok();
}

void DeployController::OnProbeResult(const probe::ProbeEvent& event) {
  std::string deploy_key;
  {
    std::lock_guard lock(mu_);
    auto it = probe_keys_.find(event.key);
    if (it == probe_keys_.end()) return;
    deploy_key = it->second;
  }
  // The probe key is "namespace/name/target".
  const std::string target = event.key.substr(deploy_key.size() + 1);
  std::string uid;
  {
    std::lock_guard lock(mu_);
    for (const auto& [known_uid, key] : key_by_uid_) {
      if (key == deploy_key) uid = known_uid;
    }
  }
  if (uid.empty()) return;
  if (options_.metrics != nullptr) {
    std::string type;
    {
      std::lock_guard lock(mu_);
      auto it = probe_types_.find(event.key);
      if (it != probe_types_.end()) type = it->second;
    }
    const size_t slash = deploy_key.find('/');
    if (!type.empty()) {
      options_.metrics->ObserveProbe(deploy_key.substr(0, slash), deploy_key.substr(slash + 1),
                                     target, type, event.result.success, event.result.latency);
    }
  }
  store::ProbeEventRecord record;
  record.target = target;
  record.passed = event.result.success;
  record.latency_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(event.result.latency).count();
  record.message = event.result.message;
  Status stored = runtime_.AppendProbeEvent(uid, target, record, options_.probe_events_kept);
  if (!stored.ok())
    spdlog::warn("deploy={} target={} storing probe result failed: {}", deploy_key, target,
                 stored.message());
}

}  // namespace svcd::controllers
