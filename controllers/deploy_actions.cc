// Observation and the actions of DeployController: dispatch, stop, restart,
// replace, delete, and the status write.

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <future>
#include <random>
#include <set>

#include "api/codec.h"
#include "controllers/deploy_pass.h"
#include "dispatch/launcher.h"

namespace svcd::controllers {
namespace {

using reconciler::Result;

std::string NewSecret() {
  static thread_local std::mt19937_64 random{std::random_device{}()};
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 48; ++i) out += kHex[random() % 16];
  return out;
}

// Backoff before restart number `attempts` + 1: backoffSeconds doubled per
// restart already made, capped at maxBackoffSeconds.
int64_t BackoffMs(const api::RestartPolicy& policy, int attempts) {
  int64_t seconds = policy.backoff_seconds;
  for (int i = 0; i < attempts && seconds < policy.max_backoff_seconds; ++i) seconds *= 2;
  return std::min<int64_t>(seconds, policy.max_backoff_seconds) * 1000;
}

// A just-spawned launcher has not written its pid file yet, so its attempt
// looks cancelled to Inspect for a moment.
constexpr int64_t kLauncherStartGraceMs = 10000;

// A process that exits because its port is still held (typically by a
// process of the generation being replaced) is restarted this many times,
// with backoff, before the exit counts against the retry budget.
constexpr int kMaxPortBusyRetries = 8;
constexpr int64_t kPortBusyFirstBackoffMs = 1000;
constexpr int64_t kPortBusyMaxBackoffMs = 30000;
// The message prefix of a target that failed on a busy port.
constexpr char kPortBusyPrefix[] = "port in use: ";
// How many of the attempt's last service lines are searched for the error.
constexpr size_t kPortBusyTailLines = 20;

bool MentionsPortInUse(std::string line) {
  std::transform(line.begin(), line.end(), line.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return line.find("address already in use") != std::string::npos ||
         line.find("eaddrinuse") != std::string::npos;
}

bool IsActive(const std::string& state) {
  return state == "DISPATCHING" || state == "RUNNING" || state == "READY";
}

dispatch::AttemptRef RefOf(const std::string& uid, const store::TargetRecord& target) {
  return {uid, target.name, target.latest_dispatch_id};
}

}  // namespace

std::optional<api::Probe> DeployController::ProbeOf(const Pass& pass,
                                                    const std::string& role) const {
  if (role == "master") {
    if (pass.deploy.spec.probe) return pass.deploy.spec.probe;
    if (pass.tmpl) return pass.tmpl->spec.probe;
    return std::nullopt;
  }
  if (pass.deploy.spec.worker_probe) return pass.deploy.spec.worker_probe;
  if (pass.tmpl) return pass.tmpl->spec.worker_probe;
  return std::nullopt;
}

namespace {

// Returns VALUE of the line `export NAME='VALUE'` in a rendered script, or
// "" when there is none. Used for addresses, which contain no quote.
std::string ExportedValue(const std::string& script, const std::string& name) {
  const std::string prefix = "\nexport " + name + "='";
  size_t at = script.find(prefix);
  if (at == std::string::npos) return "";
  at += prefix.size();
  const size_t end = script.find('\'', at);
  return end == std::string::npos ? "" : script.substr(at, end - at);
}

}  // namespace

std::string DeployController::ChangeReason(const Pass& pass,
                                           const store::TargetRecord& target) const {
  // Rendering again with the Host addresses that the recorded script has
  // gives the recorded hash exactly when only an address changed.
  const std::string master = ExportedValue(target.cmd_rendered, "SVCD_MASTER_ADDR");
  const std::string node = ExportedValue(target.cmd_rendered, "SVCD_NODE_ADDR");
  if (master.empty() || node.empty() || !pass.tmpl) return "TemplateChanged";
  std::map<std::string, api::Host> hosts = pass.hosts;
  auto master_host = hosts.find(pass.deploy.spec.master.host);
  if (master_host != hosts.end()) master_host->second.spec.address = master;
  auto node_host = hosts.find(target.host);
  if (node_host != hosts.end()) node_host->second.spec.address = node;
  StatusOr<render::RenderedDeploy> rendered = render::RenderDeploy(
      pass.deploy, *pass.tmpl, hosts, {.max_script_bytes = options_.max_script_bytes});
  if (!rendered.ok()) return "TemplateChanged";
  const render::NodeScript* script = target.name == "master" ? &rendered->master : nullptr;
  for (const auto& worker : rendered->workers) {
    if (worker.name == target.name) script = &worker;
  }
  const bool same = script != nullptr && script->hash == target.command_hash;
  return same ? "HostChanged" : "TemplateChanged";
}

// A service whose launcher is gone (killed, or its host process crashed)
// sends no heartbeat, log or exit report any more. svcd then looks at the
// process itself every kLostLauncherCheckMs, so its end is noticed soon.
void DeployController::NoteLostLauncher(Pass& pass, const store::TargetRecord& target,
                                        const dispatch::AttemptInfo& info) {
  pass.WakeIn(kLostLauncherCheckMs);
  {
    std::lock_guard lock(mu_);
    if (!lost_launchers_.insert(target.latest_dispatch_id).second) return;
  }
  const std::string message =
      target.name + ": its launcher (pid " + std::to_string(info.launcher_pid.value_or(0)) +
      ") is gone while the service (pid " + std::to_string(info.pid.value_or(0)) +
      ") runs; svcd checks the service every " + std::to_string(kLostLauncherCheckMs / 1000) +
      " s, reads its output itself, and restarts it once it ends, without its exit code";
  Record(pass, "Warning", "LauncherLost", message);
  runtime_.AppendAgentLog(pass.deploy.metadata.uid, target.name, message);
}

// Stores the output.log bytes that a local attempt wrote after the store's
// end, up to kOrphanedLogChunkBytes per pass, as its lost launcher would
// have. Errors are logged: the next pass tries again.
void DeployController::ShipOrphanedLog(const store::DispatchRecord& dispatch, int64_t lease,
                                       const dispatch::AttemptInfo& info) {
  constexpr int64_t kOrphanedLogChunkBytes = 512 * 1024;
  if (info.attempt_dir.empty() || info.log_bytes <= dispatch.log_bytes) return;
  std::ifstream in(info.attempt_dir + "/output.log", std::ios::binary);
  in.seekg(dispatch.log_bytes);
  std::string bytes(
      static_cast<size_t>(std::min(info.log_bytes - dispatch.log_bytes, kOrphanedLogChunkBytes)),
      '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  bytes.resize(static_cast<size_t>(std::max<std::streamsize>(in.gcount(), 0)));
  if (bytes.empty()) return;
  Status stored = runtime_.AppendLog(dispatch.dispatch_id, lease, dispatch.log_bytes, bytes);
  if (!stored.ok()) {
    spdlog::warn("dispatch={} storing output of a service without its launcher: {}",
                 dispatch.dispatch_id, stored.ToString());
  }
}

bool DeployController::ExecProbeChanged(const Pass& pass, const store::TargetRecord& target) {
  auto observed = pass.observed.find(target.name);
  if (observed == pass.observed.end() || !observed->second.dispatched) return false;
  std::lock_guard lock(mu_);
  auto sent = dispatched_probes_.find(observed->second.dispatch_id);
  if (sent == dispatched_probes_.end()) return false;
  return ProbeOf(pass, target.role) != sent->second;
}

void DeployController::Record(Pass& pass, const std::string& type, const std::string& reason,
                              const std::string& message) {
  store::Event event;
  event.object_uid = pass.deploy.metadata.uid;
  event.object_kind = api::kKindServiceDeploy;
  event.object_namespace = pass.deploy.metadata.namespace_;
  event.object_name = pass.deploy.metadata.name;
  event.type = type;
  event.reason = reason;
  event.message = message;
  StatusOr<store::Event> appended = store_.AppendEvent(event);
  if (!appended.ok()) {
    spdlog::warn("deploy={} recording event {} failed: {}", pass.key, reason,
                 appended.status().message());
  }
}

// Reads the latest dispatch of every target, the run directory of local
// attempts and the probe state.
Status DeployController::Observe(Pass& pass) {
  pass.observed.clear();
  for (const store::TargetRecord& target : pass.targets) {
    Observed o;
    if (!target.latest_dispatch_id.empty()) {
      StatusOr<store::DispatchRecord> d = runtime_.GetDispatch(target.latest_dispatch_id);
      if (!d.ok()) return d.status();
      o.dispatch_id = d->dispatch_id;
      o.powerjob_instance_id = d->powerjob_instance_id;
      o.attempt = d->attempt;
      o.submit_ms = d->submit_ms;
      o.started = d->pid.has_value();
      o.pid = d->pid;
      o.exit_code = d->exit_code;
      o.end_ms = d->end_ms.value_or(0);
      o.error = d->error;
      o.exited = d->exit_code.has_value() || d->status == "SUCCEEDED" || d->status == "FAILED" ||
                 d->status == "LOST";
      o.last_report_ms = std::max(d->start_ms.value_or(0), d->last_heartbeat_ms.value_or(0));
      auto host = pass.hosts.find(target.host);
      const bool local = host != pass.hosts.end() && host->second.spec.executor == "local";
      const bool powerjob = host != pass.hosts.end() && host->second.spec.executor == "powerjob";
      if (powerjob && !o.exited && IsActive(target.state)) ObservePowerJob(pass, target, o);
      if (local && !o.exited && IsActive(target.state)) {
        // The run directory records what reports may not have delivered
        // yet, such as the exit of a target that died while svcd was down.
        StatusOr<dispatch::AttemptInfo> info =
            executor_.Inspect(RefOf(pass.deploy.metadata.uid, target));
        // A launcher that still ships the last log lines reports the exit
        // itself right after; judging the exit before would miss them.
        const bool shipping =
            info.ok() && info->launcher_alive && info->log_bytes > info->log_bytes_reported;
        // With its launcher gone, svcd reads the service's output itself.
        if (info.ok() && !info->launcher_alive && info->pid) {
          ShipOrphanedLog(*d, target.lease_version, *info);
        }
        if (shipping) {
          pass.WakeIn(500);
        } else if (info.ok() && info->state == dispatch::AttemptState::kExited &&
                   info->exit_status) {
          Status recorded =
              runtime_.RecordExit(o.dispatch_id, target.lease_version, *info->exit_status);
          if (!recorded.ok()) {
            // Fenced (the attempt was being stopped): the end is still
            // recorded once, so later passes read one end time.
            runtime_.MarkDispatch(o.dispatch_id, "FAILED",
                                  "exited with " + std::to_string(*info->exit_status) +
                                      " while it was being stopped");
          }
          o.exited = true;
          o.exit_code = info->exit_status;
          o.end_ms = pass.now_ms;
        } else if (info.ok() && (info->state == dispatch::AttemptState::kLost ||
                                 (info->state == dispatch::AttemptState::kCancelled &&
                                  pass.now_ms - o.submit_ms > kLauncherStartGraceMs))) {
          runtime_.MarkDispatch(o.dispatch_id, "LOST",
                                "the process is gone without an exit status");
          o.exited = true;
          o.end_ms = pass.now_ms;
        } else if (info.ok() && info->pid && !o.started && info->alive) {
          o.started = true;
          o.pid = info->pid;
        }
        if (info.ok() && info->alive && !info->launcher_alive && !o.exited) {
          NoteLostLauncher(pass, target, *info);
        }
      }
      o.dispatched = IsActive(target.state) && !o.exited;
      o.alive = o.started && !o.exited && IsActive(target.state);
    }
    const std::optional<api::Probe> probe = ProbeOf(pass, target.role);
    if (!probe) {
      o.ready = o.alive;
      o.ever_ready = o.alive;
    } else if (o.alive) {
      StatusOr<probe::ProbeState> state = probes_->Get(ProbeKey(pass.key, target.name));
      if (state.ok()) {
        o.ready = state->ready;
        o.ever_ready = state->ever_ready;
        o.probe_failing = state->ever_ready && !state->ready;
        if (state->last_result) o.probe_message = state->last_result->message;
      }
      // Probe state lives in memory, so after an svcd restart an adopted
      // target that was ready counts as started: its startup deadline is
      // over, and failureThreshold failures in a row restart it.
      if (!o.ever_ready && WasReadyBefore(pass, target, o)) {
        o.ever_ready = true;
        o.probe_failing = state.ok() && state->consecutive_failures >= probe->failure_threshold;
      }
    }
    pass.observed[target.name] = o;
  }
  return Status::Ok();
}

// Moves target states along what was observed and reloads the rows.
Status DeployController::Refresh(Pass& pass) {
  StatusOr<std::vector<store::TargetRecord>> targets =
      runtime_.ListTargets(pass.deploy.metadata.uid);
  if (!targets.ok()) return targets.status();
  pass.targets = std::move(*targets);
  Status observed = Observe(pass);
  if (!observed.ok()) return observed;
  bool changed = false;
  bool all_ready = !pass.targets.empty();
  for (const store::TargetRecord& target : pass.targets) {
    const Observed& o = pass.observed[target.name];
    all_ready = all_ready && o.ready;
    store::TargetUpdate update;
    if (o.ready && target.state != "READY" && IsActive(target.state)) {
      update.state = "READY";
      update.stage = "READY";
      update.message = "";
      Record(pass, "Normal", "TargetReady", target.name + " is ready");
    } else if (o.alive && !o.ready && target.state == "DISPATCHING") {
      update.state = "RUNNING";
      update.stage = "HEALTH_CHECK";
      update.message = "process running, pid " + std::to_string(o.pid.value_or(0));
    } else if (o.alive && !o.ready && target.state == "READY") {
      update.state = "RUNNING";
      update.stage = "HEALTH_CHECK";
    } else if (o.alive && !o.ready && target.state == "RUNNING" && !o.probe_message.empty()) {
      // A target that is not ready yet shows why: its newest probe result.
      const std::string message = "waiting for the probe; last result: " + o.probe_message;
      if (message != target.message) update.message = message;
    }
    if (update.state || update.message) {
      Status updated = runtime_.UpdateTarget(pass.deploy.metadata.uid, target.name,
                                             target.lease_version, update, "svcd");
      if (!updated.ok() && updated.code() != Code::kAborted) return updated;
      changed = true;
    }
    if (!o.ready && IsActive(target.state)) pass.WakeIn(1000);
  }
  // A deploy Ready for resetAfterSeconds gets its retry budget back, and
  // its busy-port restarts too. Ready alone is no proof: a target without a
  // probe is Ready as soon as it starts, also when it then exits because
  // its port is taken.
  const auto& policy = pass.deploy.spec.restart_policy;
  if (all_ready) {
    int64_t last_dispatch = 0;
    for (const auto& [name, o] : pass.observed)
      last_dispatch = std::max(last_dispatch, o.submit_ms);
    const int64_t reset_at = last_dispatch + int64_t{policy.reset_after_seconds} * 1000;
    for (const store::TargetRecord& target : pass.targets) {
      if (pass.now_ms >= reset_at) {
        std::lock_guard lock(mu_);
        port_busy_retries_.erase(pass.key + "/" + target.name);
      }
      if (target.attempts == 0) continue;
      if (pass.now_ms < reset_at) {
        pass.WakeIn(reset_at - pass.now_ms);
        continue;
      }
      runtime_.UpdateTarget(pass.deploy.metadata.uid, target.name, target.lease_version,
                            {.attempts = 0}, "svcd");
      changed = true;
    }
  }
  if (changed) {
    targets = runtime_.ListTargets(pass.deploy.metadata.uid);
    if (!targets.ok()) return targets.status();
    pass.targets = std::move(*targets);
  }
  // UpToDate: the recorded scripts of this generation against a fresh render.
  if (pass.rendered) {
    for (const store::TargetRecord& target : pass.targets) {
      const render::NodeScript* node = target.name == "master" ? &pass.rendered->master : nullptr;
      for (const auto& worker : pass.rendered->workers) {
        if (worker.name == target.name) node = &worker;
      }
      if (node != nullptr && target.generation == pass.deploy.metadata.generation &&
          node->hash != target.command_hash) {
        pass.up_to_date = false;
        pass.up_to_date_reason = ChangeReason(pass, target);
      }
      if (pass.up_to_date && ExecProbeChanged(pass, target)) {
        pass.up_to_date = false;
        pass.up_to_date_reason = "ProbeChanged";
      }
    }
  }
  return Status::Ok();
}

// Checks what a dispatch sends, recording the stages RENDER_ENV (the
// recorded script, its exported envs included, still has the hash recorded
// with it) and RENDER_CMD (the script fits a launcher). Returns the reason
// it cannot be sent, or "".
std::string DeployController::CheckRendered(Pass& pass, const store::TargetRecord& target) {
  const std::string& uid = pass.deploy.metadata.uid;
  auto stage = [&](const char* name) {
    if (target.stage == name) return;
    Status updated =
        runtime_.UpdateTarget(uid, target.name, target.lease_version, {.stage = name}, "svcd");
    if (!updated.ok()) {
      spdlog::warn("deploy={} target={} recording stage {}: {}", pass.key, target.name, name,
                   updated.message());
    }
  };
  stage("RENDER_ENV");
  if (target.cmd_rendered.empty()) return "no rendered script is recorded for " + target.name;
  StatusOr<std::string> hash = render::HashBytes(target.cmd_rendered);
  if (!hash.ok() || *hash != target.command_hash) {
    return "the recorded script of " + target.name + " does not match its hash " +
           target.command_hash + "; run svcctl rollout restart to render it again";
  }
  stage("RENDER_CMD");
  if (target.cmd_rendered.size() > dispatch::kMaxLauncherScriptBytes ||
      target.cmd_rendered.find('\0') != std::string::npos) {
    return "the script of " + target.name + " is larger than " +
           std::to_string(dispatch::kMaxLauncherScriptBytes) + " bytes or holds a NUL byte";
  }
  return "";
}

Status DeployController::DispatchTarget(Pass& pass, const store::TargetRecord& target) {
  const std::string& uid = pass.deploy.metadata.uid;
  const api::Host& host = pass.hosts.at(target.host);
  if (const std::string bad = CheckRendered(pass, target); !bad.empty()) {
    Status updated = runtime_.UpdateTarget(uid, target.name, target.lease_version,
                                           {.state = "FAILED", .message = bad}, "svcd");
    if (!updated.ok() && updated.code() != Code::kAborted) return updated;
    Record(pass, "Warning", "RenderFailed", target.name + ": " + bad);
    return Status::Ok();
  }
  const std::string secret = NewSecret();
  StatusOr<std::string> secret_hash = SecretHash(secret);
  if (!secret_hash.ok()) return secret_hash.status();
  StatusOr<store::DispatchRecord> dispatch =
      runtime_.BeginAttempt(uid, target.name, host.spec.executor, *secret_hash, target.attempts);
  if (!dispatch.ok()) return dispatch.status();

  dispatch::DispatchRequest request;
  request.attempt = {uid, target.name, dispatch->dispatch_id};
  request.host = host;
  request.script = target.cmd_rendered;
  request.description = "deploy " + pass.key + ", target " + target.name;
  request.secret = secret;
  request.lease = dispatch->lease_version;
  request.report_url = options_.advertise_url;
  request.heartbeat_seconds = options_.heartbeat_seconds;
  request.stop_grace_seconds = options_.stop_grace_seconds;
  if (std::optional<api::Probe> probe = ProbeOf(pass, target.role); probe && probe->exec) {
    request.exec_probe = probe;
    std::lock_guard lock(mu_);
    dispatched_probes_.erase(pass.observed[target.name].dispatch_id);
    dispatched_probes_[dispatch->dispatch_id] = *probe;
  }
  const std::string blocked = DispatchBlocked(host);
  Status sent =
      blocked.empty() ? ExecutorFor(host)->Dispatch(request) : Status::FailedPrecondition(blocked);
  const std::string attempt = "attempt " + std::to_string(dispatch->attempt);
  if (sent.code() == Code::kDeadlineExceeded) {
    // runJob may have reached PowerJob; it is never sent twice. The
    // launcher's first report, or dispatchTimeoutSeconds, decides.
    runtime_.MarkDispatch(dispatch->dispatch_id, "SENT", sent.message());
    Record(pass, "Warning", "DispatchAnswerLost",
           target.name + " " + attempt + ": " + sent.message() +
               "; waiting up to dispatchTimeoutSeconds for the launcher's first report");
    runtime_.AppendAgentLog(uid, target.name,
                            "dispatch of " + attempt + " unconfirmed: " + sent.message());
    pass.WakeIn(1000);
    return Status::Ok();
  }
  if (options_.metrics != nullptr) {
    options_.metrics->IncDispatch(host.spec.executor, sent.ok() ? "success" : "error");
  }
  if (!sent.ok()) {
    runtime_.MarkDispatch(dispatch->dispatch_id, "FAILED", sent.message());
    Record(pass, "Warning", "DispatchFailed", target.name + " " + attempt + ": " + sent.message());
    runtime_.AppendAgentLog(uid, target.name,
                            "dispatch of " + attempt + " failed: " + sent.message());
    return Status::Ok();
  }
  runtime_.MarkDispatch(dispatch->dispatch_id, "SENT", "");
  Record(pass, "Normal", "Dispatched",
         target.name + " " + attempt + " on " + target.host + " (restarts " +
             std::to_string(target.attempts) + ")");
  runtime_.AppendAgentLog(uid, target.name, "dispatched " + attempt + " on Host " + target.host);
  pass.WakeIn(500);
  return Status::Ok();
}

// Returns true when this attempt passed its probe under an earlier svcd. The
// evidence is a target row in state READY (in the first pass after a restart)
// or a stored passing probe result newer than the dispatch. The result is
// cached per dispatch id.
bool DeployController::WasReadyBefore(const Pass& pass, const store::TargetRecord& target,
                                      const Observed& o) {
  {
    std::lock_guard lock(mu_);
    if (ready_before_.count(o.dispatch_id) > 0) return true;
  }
  bool ready = target.state == "READY";
  const int64_t deadline_ms = int64_t{pass.deploy.spec.startup_timeout_seconds} * 1000;
  if (!ready && pass.now_ms - o.submit_ms > deadline_ms) {
    // Only before a startup timeout would stop it: the history is a query.
    StatusOr<std::vector<store::ProbeEventRecord>> events =
        runtime_.RecentProbeEvents(pass.deploy.metadata.uid, 1000);
    if (events.ok()) {
      ready = std::any_of(events->begin(), events->end(), [&](const auto& event) {
        return event.target == target.name && event.passed && event.time_ms >= o.submit_ms;
      });
    }
  }
  if (ready) {
    std::lock_guard lock(mu_);
    ready_before_.insert(o.dispatch_id);
  }
  return ready;
}

// True when the attempt exited with a non-zero code and one of its last
// service lines reports that the address is already in use.
bool DeployController::ExitedOnBusyPort(const Pass& pass, const store::TargetRecord& target,
                                        const Observed& o) {
  if (!o.exit_code || *o.exit_code == 0 || o.attempt < 1) return false;
  std::vector<std::string> tail;
  int64_t after = 0;
  // NOTE: reads at most ten pages; a busy port shows early in a log anyway.
  for (int page = 0; page < 10; ++page) {
    StatusOr<std::vector<store::LogLine>> lines =
        runtime_.ReadLogs(pass.deploy.metadata.uid, target.name, after, o.attempt, 10000);
    if (!lines.ok() || lines->empty()) break;
    for (const store::LogLine& line : *lines) {
      if (line.source != "SERVICE") continue;
      tail.push_back(line.content);
      if (tail.size() > kPortBusyTailLines) tail.erase(tail.begin());
    }
    after = lines->back().seq;
    if (lines->size() < 10000) break;
  }
  return std::any_of(tail.begin(), tail.end(), MentionsPortInUse);
}

// Restarts a target that failed on a busy port, this target only and
// without spending the retry budget, after a backoff of its own. Sets
// `handled` unless the target did not fail that way or used up
// kMaxPortBusyRetries; the budget rules then apply as to any failure.
Status DeployController::RetryBusyPort(Pass& pass, const store::TargetRecord& target,
                                       bool& handled) {
  handled = false;
  if (target.message.rfind(kPortBusyPrefix, 0) != 0) return Status::Ok();
  const std::string counter = pass.key + "/" + target.name;
  int retries;
  {
    std::lock_guard lock(mu_);
    retries = port_busy_retries_[counter];
  }
  if (retries >= kMaxPortBusyRetries) return Status::Ok();
  handled = true;
  int64_t backoff = kPortBusyFirstBackoffMs;
  for (int i = 0; i < retries && backoff < kPortBusyMaxBackoffMs; ++i) backoff *= 2;
  backoff = std::min(backoff, kPortBusyMaxBackoffMs);
  const Observed& o = pass.observed[target.name];
  const int64_t retry_at = (o.end_ms > 0 ? o.end_ms : pass.now_ms) + backoff;
  if (pass.now_ms < retry_at) {
    pass.next_retry_ms[target.name] = retry_at;
    pass.WakeIn(retry_at - pass.now_ms);
    return Status::Ok();
  }
  {
    std::lock_guard lock(mu_);
    port_busy_retries_[counter] = retries + 1;
  }
  const std::string message = "port was in use; restart " + std::to_string(retries + 1) + " of " +
                              std::to_string(kMaxPortBusyRetries) + " for a busy port";
  Status updated =
      runtime_.UpdateTarget(pass.deploy.metadata.uid, target.name, target.lease_version,
                            {.state = "PENDING", .message = message}, "svcd");
  if (!updated.ok() && updated.code() != Code::kAborted) return updated;
  Record(pass, "Normal", "PortBusyRetry", target.name + ": " + message);
  if (options_.metrics != nullptr) {
    options_.metrics->IncTargetRestarts(pass.deploy.metadata.namespace_, pass.deploy.metadata.name,
                                        target.name);
  }
  runtime_.AppendAgentLog(pass.deploy.metadata.uid, target.name, message);
  return Status::Ok();
}

Status DeployController::StopTarget(Pass& pass, const store::TargetRecord& target,
                                    const std::string& why) {
  return StopTargets(pass, {&target}, why);
}

Status DeployController::StopTargets(Pass& pass,
                                     const std::vector<const store::TargetRecord*>& targets,
                                     const std::string& why) {
  const std::string& uid = pass.deploy.metadata.uid;
  // One stop in flight per target: the executor's Stop waits up to the
  // grace period for each, so stopping them one after another would take
  // the sum of those waits.
  struct Stopping {
    // A copy, because a failed stop refreshes pass.targets, which the
    // pointers in `targets` point into.
    store::TargetRecord target;
    int64_t lease = 0;
    std::future<StatusOr<dispatch::StopResult>> result;  // invalid: nothing to stop
  };
  std::vector<Stopping> stops;
  Status first_error;
  for (const store::TargetRecord* target : targets) {
    probes_->Unregister(ProbeKey(pass.key, target->name));
    StatusOr<int64_t> lease = runtime_.BumpLease(uid, target->name);
    if (!lease.ok()) {
      if (first_error.ok()) first_error = lease.status();
      continue;
    }
    Stopping stop{*target, *lease, {}};
    auto host = pass.hosts.find(target->host);
    const bool local = host == pass.hosts.end() || host->second.spec.executor == "local";
    dispatch::Executor* executor = local ? &executor_ : ExecutorFor(host->second);
    // A PowerJob launcher may start its service before its first report,
    // and stopInstance does not stop that service. So stopInstance alone is
    // used only when no service can run (see NothingRuns). Any other
    // instance gets the stop job, which also claims an attempt not started.
    if (!target->latest_dispatch_id.empty() && !local && !pass.observed[target->name].started &&
        NothingRuns(target->latest_dispatch_id)) {
      // A launcher that PowerJob still delivers is refused by the bumped
      // fencing token and stops itself.
      AbandonAttempt(host->second, target->latest_dispatch_id);
      runtime_.MarkDispatch(target->latest_dispatch_id, "FAILED",
                            "stopped before it reported: " + why);
    } else if (!target->latest_dispatch_id.empty() && executor == nullptr) {
      if (first_error.ok()) first_error = Status::FailedPrecondition(DispatchBlocked(host->second));
      continue;
    } else if (!target->latest_dispatch_id.empty()) {
      const dispatch::StopRequest request{RefOf(uid, *target),
                                          std::chrono::seconds(options_.stop_grace_seconds)};
      stop.result =
          std::async(std::launch::async, [executor, request] { return executor->Stop(request); });
    }
    stops.push_back(std::move(stop));
  }
  for (Stopping& stop : stops) {
    Status done = FinishStop(pass, stop.target, stop.lease, stop.result, why);
    if (!done.ok() && first_error.ok()) first_error = done;
  }
  return first_error;
}

Status DeployController::FinishStop(Pass& pass, const store::TargetRecord& target, int64_t lease,
                                    std::future<StatusOr<dispatch::StopResult>>& result,
                                    const std::string& why) {
  const std::string& uid = pass.deploy.metadata.uid;
  if (result.valid()) {
    StatusOr<dispatch::StopResult> stopped = result.get();
    if (!stopped.ok()) return StopFailed(pass, target, stopped.status());
    if (!stopped->stopped) {
      std::string pids;
      for (const auto& survivor : stopped->survivors) {
        pids += (pids.empty() ? "" : ", ") + std::to_string(survivor.pid) + " (" +
                survivor.command + ")";
      }
      Record(pass, "Warning", "StopIncomplete", target.name + ": processes survived KILL: " + pids);
      return Status::Unavailable(target.name + " did not stop; survivors: " + pids);
    }
    runtime_.MarkDispatch(target.latest_dispatch_id, "FAILED", "stopped: " + why);
  }
  Status updated = runtime_.UpdateTarget(
      uid, target.name, lease, {.state = "CANCELLED", .message = "stopped: " + why}, "svcd");
  if (!updated.ok()) return updated;
  Record(pass, "Normal", "Stopped", target.name + " stopped: " + why);
  runtime_.AppendAgentLog(uid, target.name, "stopped: " + why);
  return Status::Ok();
}

// Tells people that a stop failed: a Warning event (the store counts the
// repeats of the same error as the pass is retried with backoff) and the
// Host's status. Returns `error`, so the pass is retried.
Status DeployController::StopFailed(Pass& pass, const store::TargetRecord& target,
                                    const Status& error) {
  Record(pass, "Warning", "StopFailed",
         target.name + " on " + target.host + " could not be stopped: " + error.message() +
             "; svcd runs the stop again after a backoff (0.5 s doubling to 60 s)");
  // The pass ends here, so the status shows what is observed now, such as
  // a process that already exited, instead of the state before the stop.
  if (Status refreshed = Refresh(pass); !refreshed.ok()) {
    WriteHostStatus(pass);
  } else if (Status written = WriteStatus(pass); !written.ok()) {
    spdlog::warn("deploy={} status write after a failed stop: {}", pass.key, written.message());
  }
  return error;
}

// Marks failed targets and restarts them (or the group) within the retry
// budget, after the backoff.
Status DeployController::ActOnFailures(Pass& pass) {
  const api::ServiceDeploySpec& spec = pass.deploy.spec;
  const std::string& uid = pass.deploy.metadata.uid;
  // A pass that finds no failure reads nothing again: most passes are no-ops.
  bool marked = false;
  for (const store::TargetRecord& target : pass.targets) {
    const Observed& o = pass.observed[target.name];
    if (!IsActive(target.state)) continue;
    std::string failure;
    if (o.exited) {
      failure = o.exit_code        ? "process exited with code " + std::to_string(*o.exit_code)
                : !o.error.empty() ? o.error
                                   : "process is gone without an exit status";
      if (ExitedOnBusyPort(pass, target, o)) failure = kPortBusyPrefix + failure;
    } else if (o.probe_failing) {
      failure = "probe failed " + std::to_string(ProbeOf(pass, target.role)->failure_threshold) +
                " times after it had succeeded" +
                (o.probe_message.empty() ? "" : "; last result: " + o.probe_message);
    } else if (!o.started &&
               pass.now_ms - o.submit_ms > int64_t{spec.dispatch_timeout_seconds} * 1000) {
      failure = "no report from the launcher within dispatchTimeoutSeconds (" +
                std::to_string(spec.dispatch_timeout_seconds) + " s)" +
                (o.error.empty() ? "" : "; " + o.error);
      runtime_.MarkDispatch(o.dispatch_id, "LOST", failure);
    } else if (o.started && !o.ever_ready &&
               pass.now_ms - o.submit_ms > int64_t{spec.startup_timeout_seconds} * 1000) {
      // Only a started process has a startup deadline. An attempt without a
      // report (possibly never sent) is governed by dispatchTimeoutSeconds.
      const std::string message =
          "not ready within startupTimeoutSeconds (" +
          std::to_string(spec.startup_timeout_seconds) + " s)" +
          (o.probe_message.empty() ? "" : "; last probe result: " + o.probe_message);
      Status stopped = StopTarget(pass, target, message);
      if (!stopped.ok()) return stopped;
      runtime_.UpdateTarget(uid, target.name, target.lease_version + 1,
                            {.state = "TIMEOUT", .message = message}, "svcd");
      Record(pass, "Warning", "StartupTimeout", target.name + " " + message);
      marked = true;
      continue;
    }
    if (failure.empty()) continue;
    marked = true;
    if (o.alive) {
      Status stopped = StopTarget(pass, target, failure);
      if (!stopped.ok()) return stopped;
    } else if (!o.started && !o.dispatch_id.empty() && pass.hosts.count(target.host) > 0) {
      AbandonAttempt(pass.hosts.at(target.host), o.dispatch_id);
    }
    StatusOr<std::vector<store::TargetRecord>> fresh = runtime_.ListTargets(uid);
    if (!fresh.ok()) return fresh.status();
    for (const auto& row : *fresh) {
      if (row.name != target.name) continue;
      runtime_.UpdateTarget(uid, row.name, row.lease_version,
                            {.state = "FAILED", .message = failure}, "svcd");
    }
    Record(pass, "Warning", "TargetFailed", target.name + ": " + failure);
    runtime_.AppendAgentLog(uid, target.name, failure);
  }

  if (marked) {
    StatusOr<std::vector<store::TargetRecord>> targets = runtime_.ListTargets(uid);
    if (!targets.ok()) return targets.status();
    pass.targets = std::move(*targets);
  }
  const auto& policy = spec.restart_policy;
  const bool group = policy.scope == api::kScopeGroup;
  for (const store::TargetRecord& target : pass.targets) {
    // A target of an older generation is replaced, not retried, so its
    // failure does not stall the new generation.
    if (target.generation != pass.deploy.metadata.generation) continue;
    if (target.state == "TIMEOUT") {
      pass.stalled = true;
      pass.stalled_reason = "StartupTimeout";
      pass.stalled_message =
          target.name + ": " + target.message + "; run svcctl retry or change the spec";
      return Status::Ok();
    }
    if (target.state != "FAILED") continue;
    marked = true;
    bool handled = false;
    Status retried = RetryBusyPort(pass, target, handled);
    if (!retried.ok()) return retried;
    if (handled) continue;
    if (target.attempts >= policy.max_retries) {
      pass.stalled = true;
      pass.stalled_reason = "RetryBudgetExhausted";
      pass.stalled_message = target.name + " failed after " + std::to_string(target.attempts) +
                             " restarts (maxRetries " + std::to_string(policy.max_retries) +
                             "): " + target.message + "; run svcctl retry or change the spec";
      return Status::Ok();
    }
    const Observed& o = pass.observed[target.name];
    const int64_t failed_at = o.end_ms > 0 ? o.end_ms : pass.now_ms;
    const int64_t retry_at = failed_at + BackoffMs(policy, target.attempts);
    if (pass.now_ms < retry_at) {
      pass.next_retry_ms[target.name] = retry_at;
      pass.WakeIn(retry_at - pass.now_ms);
      continue;
    }
    // Restart: the whole group in startup order, or this target only.
    std::vector<const store::TargetRecord*> others;
    for (const store::TargetRecord& other : pass.targets) {
      if (!group && other.name != target.name) continue;
      if (other.name != target.name && pass.observed[other.name].dispatched) {
        others.push_back(&other);
      }
    }
    if (!others.empty()) {
      Status stopped = StopTargets(pass, others, "group restart after " + target.name + " failed");
      if (!stopped.ok()) return stopped;
    }
    StatusOr<std::vector<store::TargetRecord>> rows = runtime_.ListTargets(uid);
    if (!rows.ok()) return rows.status();
    for (const auto& row : *rows) {
      if (!group && row.name != target.name) continue;
      runtime_.UpdateTarget(
          uid, row.name, row.lease_version,
          {.state = "PENDING", .message = "restarting", .attempts = target.attempts + 1}, "svcd");
      if (options_.metrics != nullptr) {
        options_.metrics->IncTargetRestarts(pass.deploy.metadata.namespace_,
                                            pass.deploy.metadata.name, row.name);
      }
    }
    Record(pass, "Normal", "Restarting",
           (group ? "group" : target.name) + std::string(" restart ") +
               std::to_string(target.attempts + 1) + " of " + std::to_string(policy.max_retries));
    break;
  }
  if (!marked) return Status::Ok();
  StatusOr<std::vector<store::TargetRecord>> targets = runtime_.ListTargets(uid);
  if (!targets.ok()) return targets.status();
  pass.targets = std::move(*targets);
  return Observe(pass);
}

// Stops targets still running a script of an older generation whose
// command changed (with scope Group, every target), then records the new
// scripts so StartPending dispatches them.
Status DeployController::ReplaceOutdated(Pass& pass) {
  const std::string& uid = pass.deploy.metadata.uid;
  const int64_t generation = pass.deploy.metadata.generation;
  bool outdated = false;
  for (const auto& target : pass.targets) outdated = outdated || target.generation != generation;
  if (!outdated) return Status::Ok();
  const bool group = pass.deploy.spec.restart_policy.scope == api::kScopeGroup;
  std::set<std::string> replaced;
  for (const auto& target : pass.targets) {
    if (!group && target.generation == generation) continue;
    replaced.insert(target.name);
    if (pass.observed[target.name].dispatched) {
      Status stopped =
          StopTarget(pass, target, "replaced by generation " + std::to_string(generation));
      if (!stopped.ok()) return stopped;
    }
  }
  std::vector<store::TargetPlan> plans = PlansOf(*pass.rendered, generation);
  Status synced = runtime_.SyncTargets(uid, plans, "svcd");
  if (!synced.ok()) return synced;
  StatusOr<std::vector<store::TargetRecord>> rows = runtime_.ListTargets(uid);
  if (!rows.ok()) return rows.status();
  // A replaced target starts again, also one that failed or timed out in
  // the old generation (for example, its process ended while it was being
  // stopped): the new generation has its own retry budget.
  for (const auto& row : *rows) {
    const bool ended = row.state == "FAILED" || row.state == "TIMEOUT";
    if (row.state == "CANCELLED" || (ended && replaced.count(row.name) > 0)) {
      runtime_.UpdateTarget(uid, row.name, row.lease_version, {.state = "PENDING"}, "svcd");
    }
  }
  rows = runtime_.ListTargets(uid);
  if (!rows.ok()) return rows.status();
  pass.targets = std::move(*rows);
  return Observe(pass);
}

// Dispatches pending targets in startup order.
Status DeployController::StartPending(Pass& pass) {
  const api::ServiceDeploySpec& spec = pass.deploy.spec;
  const store::TargetRecord* master = nullptr;
  for (const auto& target : pass.targets) {
    if (target.role == "master") master = &target;
  }
  int64_t previous_worker_submit = -1;  // -1: no worker before this one
  for (const store::TargetRecord& target : pass.targets) {
    const bool pending = target.state == "PENDING" || target.state == "CANCELLED";
    if (target.role == "worker") {
      const Observed& m = master != nullptr ? pass.observed[master->name] : Observed{};
      const bool gate_open = spec.startup_policy == api::kStartupParallel ||
                             (spec.startup_policy == api::kStartupMasterReady ? m.ready : m.alive);
      if (!gate_open) {
        if (pending) pass.WakeIn(1000);
        continue;
      }
    }
    if (!pending) {
      if (target.role == "worker") previous_worker_submit = pass.observed[target.name].submit_ms;
      continue;
    }
    const api::Host& host = pass.hosts.at(target.host);
    if (host.spec.disabled) {
      const std::string message = "Host " + target.host + " is disabled; not dispatching";
      if (target.message != message) {
        runtime_.UpdateTarget(pass.deploy.metadata.uid, target.name, target.lease_version,
                              {.message = message}, "svcd");
      }
      continue;
    }
    if (target.role == "worker" && previous_worker_submit >= 0) {
      const int64_t due = previous_worker_submit + int64_t{spec.worker_stagger_seconds} * 1000;
      if (pass.now_ms < due) {
        pass.WakeIn(due - pass.now_ms);
        return Status::Ok();
      }
    }
    Status dispatched = DispatchTarget(pass, target);
    if (!dispatched.ok()) return dispatched;
    if (target.role == "worker") {
      previous_worker_submit = pass.now_ms;
      if (spec.worker_stagger_seconds > 0) {
        pass.WakeIn(int64_t{spec.worker_stagger_seconds} * 1000);
        return Status::Ok();
      }
    }
  }
  return Status::Ok();
}

Result DeployController::ReconcileDeletion(Pass& pass) {
  std::vector<const store::TargetRecord*> running;
  for (const store::TargetRecord& target : pass.targets) {
    if (pass.observed[target.name].dispatched || IsActive(target.state)) running.push_back(&target);
  }
  if (!running.empty()) {
    Status stopped = StopTargets(pass, running, "the deploy is being deleted");
    if (!stopped.ok()) return stopped;
  }
  Status refreshed = Refresh(pass);
  if (!refreshed.ok()) return refreshed;
  Status written = WriteStatus(pass);
  if (!written.ok() && written.code() != Code::kNotFound) return written;
  if (options_.archiver != nullptr) {
    // NOTE: a deploy whose archive cannot be written stays Terminating;
    // `svcctl delete --force` removes it without one.
    StatusOr<store::ArchiveRecord> archived =
        options_.archiver->ArchiveDeploy(pass.deploy.metadata.uid, "deploy deleted");
    if (!archived.ok()) {
      Record(pass, "Warning", "ArchiveFailed",
             "packing the logs before deletion failed: " + archived.status().message());
      return archived.status();
    }
    Record(pass, "Normal", "Archived",
           "logs, scripts and env files packed into archive " + archived->archive_id + " (" +
               std::to_string(archived->bytes) + " bytes, MD5 " + archived->md5 + ")");
  }
  Record(pass, "Normal", "TargetsStopped", "every target stopped; removing the finalizer");
  StatusOr<store::WriteResult> removed = store_.RemoveFinalizer(
      {api::kKindServiceDeploy, pass.deploy.metadata.namespace_, pass.deploy.metadata.name},
      api::kDeployFinalizer, "svcd");
  if (!removed.ok() && removed.status().code() != Code::kNotFound) return removed.status();
  // The deploy is gone: drop its series now instead of waiting for a pass
  // that finds it missing, which nothing may queue.
  if (!removed.ok() || removed->outcome == store::Outcome::kDeleted) ForgetMetrics(pass.key);
  return Result::Done();
}

void DeployController::SyncProbes(Pass& pass) {
  for (const store::TargetRecord& target : pass.targets) {
    const std::string key = ProbeKey(pass.key, target.name);
    const Observed& o = pass.observed[target.name];
    const std::optional<api::Probe> probe = ProbeOf(pass, target.role);
    bool registered;
    {
      std::lock_guard lock(mu_);
      registered = probe_keys_.count(key) > 0;
    }
    if (probe && o.alive) {
      probe::ProbeTarget probe_target{pass.hosts.at(target.host).spec.address, 0, *probe, ""};
      if (probe->exec) {
        // The launcher runs exec probes on the host: results come from it,
        // with the timings it was given.
        probe_target.reported_by = o.dispatch_id;
        std::lock_guard lock(mu_);
        auto sent = dispatched_probes_.find(o.dispatch_id);
        if (sent != dispatched_probes_.end()) probe_target.probe = sent->second;
      }
      Status status =
          registered ? probes_->Update(key, probe_target) : probes_->Register(key, probe_target);
      if (status.code() == Code::kNotFound) status = probes_->Register(key, probe_target);
      if (!status.ok()) {
        spdlog::warn("deploy={} target={} probe not registered: {}", pass.key, target.name,
                     status.message());
        continue;
      }
      std::lock_guard lock(mu_);
      probe_keys_[key] = pass.key;
      std::string type = "exec";
      if (probe->http) type = "http";
      if (probe->tcp) type = "tcp";
      probe_types_[key] = type;
    } else if (registered) {
      probes_->Unregister(key);
      std::lock_guard lock(mu_);
      probe_keys_.erase(key);
      probe_types_.erase(key);
    }
  }
}

Status DeployController::WriteStatus(Pass& pass) {
  WriteHostStatus(pass);
  StatusInputs in;
  in.deploy = &pass.deploy;
  in.targets = &pass.targets;
  in.observed = &pass.observed;
  in.next_retry_ms = &pass.next_retry_ms;
  if (pass.hosts.count(pass.deploy.spec.master.host) > 0) {
    in.endpoint = EndpointOf(pass.hosts.at(pass.deploy.spec.master.host), ProbeOf(pass, "master"));
  }
  in.terminating = !pass.deploy.metadata.deletion_timestamp.empty();
  in.stalled = pass.stalled;
  in.stalled_reason = pass.stalled_reason;
  in.stalled_message = pass.stalled_message;
  in.up_to_date = pass.up_to_date;
  in.up_to_date_reason = pass.up_to_date_reason;
  in.now_ms = pass.now_ms;
  api::ServiceDeployStatus status = BuildStatus(in);
  ExportMetrics(pass, status);
  if (status == pass.deploy.status) return Status::Ok();
  api::ServiceDeploy updated = pass.deploy;
  updated.status = std::move(status);
  StatusOr<api::Object> written = store_.UpdateStatus(updated);
  if (!written.ok()) return written.status();
  pass.deploy.status = updated.status;
  return Status::Ok();
}

// Hands the deploy's phase and target states, and its first Ready of this
// generation, to the metrics.
void DeployController::ExportMetrics(const Pass& pass, const api::ServiceDeployStatus& status) {
  metrics::SvcdMetrics* metrics = options_.metrics;
  if (metrics == nullptr) return;
  const std::string& ns = pass.deploy.metadata.namespace_;
  const std::string& name = pass.deploy.metadata.name;
  if (!status.phase.empty()) {
    Status set = metrics->SetDeployPhase(ns, name, status.phase);
    if (!set.ok()) spdlog::warn("deploy={} phase metric: {}", pass.key, set.message());
  }
  std::vector<metrics::TargetCount> counts;
  for (const store::TargetRecord& target : pass.targets) {
    counts.push_back({target.role, target.state, 1});
  }
  Status set = metrics->SetDeployTargets(ns, name, counts);
  if (!set.ok()) spdlog::warn("deploy={} target metrics: {}", pass.key, set.message());
  if (status.phase != "Ready") return;
  int64_t since_ms = -1;
  {
    std::lock_guard lock(mu_);
    auto seen = generations_.find(pass.key);
    if (seen != generations_.end() && !seen->second.ready_observed &&
        seen->second.generation == pass.deploy.metadata.generation) {
      seen->second.ready_observed = true;
      since_ms = pass.now_ms - seen->second.first_seen_ms;
    }
  }
  if (since_ms >= 0) metrics->ObserveDeployReady(std::chrono::milliseconds(since_ms));
}

void DeployController::ForgetMetrics(const std::string& key) {
  {
    std::lock_guard lock(mu_);
    generations_.erase(key);
  }
  if (options_.metrics == nullptr) return;
  const size_t slash = key.find('/');
  options_.metrics->ForgetDeploy(key.substr(0, slash), key.substr(slash + 1));
}

}  // namespace svcd::controllers
