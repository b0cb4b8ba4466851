// The PowerJob side of DeployController: which executor runs a Host's
// targets, PowerJob's instance status for attempts whose launcher has not
// reported yet, and the Host status that shows whether dispatch there works.

#include <spdlog/spdlog.h>

#include "api/defaults.h"
#include "controllers/deploy_pass.h"

namespace svcd::controllers {
namespace {

// A started launcher that has sent nothing for this long (or three
// heartbeat periods, when longer) counts as lost.
constexpr int64_t kMinReportSilenceMs = 30000;

// What a launcher prints when its attempt was claimed by an earlier delivery.
constexpr char kClaimedText[] = "attempt already claimed";
// A launcher reports `started` within this time of its delivery.
constexpr int64_t kLauncherReportGraceMs = 10000;

// PowerJob's instance statuses.
constexpr int kWaitingDispatch = 1;
constexpr int kWaitingWorkerReceive = 2;
constexpr int kFailed = 4;
constexpr int kSucceeded = 5;
constexpr int kCancelled = 9;
constexpr int kStopped = 10;

// Returns the host part of an http:// or https:// URL.
std::string UrlHost(const std::string& url) {
  size_t start = url.find("://");
  start = start == std::string::npos ? 0 : start + 3;
  if (start < url.size() && url[start] == '[') {
    const size_t end = url.find(']', start);
    return end == std::string::npos ? "" : url.substr(start + 1, end - start - 1);
  }
  const size_t end = url.find_first_of(":/", start);
  return url.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

bool IsLoopbackUrl(const std::string& url) {
  const std::string host = UrlHost(url);
  return host == "localhost" || api::IsLoopbackAddress(host);
}

}  // namespace

dispatch::Executor* DeployController::ExecutorFor(const api::Host& host) {
  if (host.spec.executor == "powerjob") return options_.powerjob;
  return &executor_;
}

// Returns why nothing can be dispatched to `host`, or "".
std::string DeployController::DispatchBlocked(const api::Host& host) const {
  if (host.spec.executor != "powerjob") return "";
  if (options_.powerjob == nullptr) {
    return "Host " + host.metadata.name +
           " uses executor powerjob, but svcd runs without PowerJob; restart svcd with "
           "--powerjob-url and --powerjob-app";
  }
  if (!api::IsLoopbackAddress(host.spec.address) && IsLoopbackUrl(options_.advertise_url)) {
    return "Host " + host.metadata.name + " (" + host.spec.address +
           ") cannot reach svcd's report URL " + options_.advertise_url +
           ", a loopback address; restart svcd with --advertise-url set to a URL that the "
           "host can reach";
  }
  return "";
}

// Fills in PowerJob's record of an attempt whose launcher has not reported
// yet (an instance that failed, such as "no worker available", or ended),
// and counts a started launcher that went silent as lost.
void DeployController::ObservePowerJob(Pass& pass, const store::TargetRecord& target, Observed& o) {
  if (options_.powerjob == nullptr || o.dispatch_id.empty()) return;
  if (o.started) {
    const int64_t silence =
        std::max<int64_t>(kMinReportSilenceMs, int64_t{options_.heartbeat_seconds} * 3000);
    if (o.last_report_ms > 0 && pass.now_ms - o.last_report_ms > silence) {
      const std::string why = "no report from the launcher for " +
                              std::to_string((pass.now_ms - o.last_report_ms) / 1000) + " s";
      runtime_.MarkDispatch(o.dispatch_id, "LOST", why);
      o.exited = true;
      o.error = why;
      o.end_ms = pass.now_ms;
    }
    return;
  }
  StatusOr<powerjob::InstanceInfo> info = options_.powerjob->InstanceStatus(o.dispatch_id);
  if (!info.ok()) {
    // NotFound: runJob's response was lost, so only a launcher report can show
    // whether the attempt runs.
    if (info.status().code() != Code::kNotFound) {
      spdlog::warn("deploy={} target={} PowerJob instance unknown: {}", pass.key, target.name,
                   info.status().message());
    }
    return;
  }
  std::string why;
  switch (info->status) {
    case kFailed:
      why = "PowerJob instance " + std::to_string(info->instance_id) + " failed" +
            (info->result.empty() ? "" : ": " + info->result);
      break;
    case kSucceeded:
      // A second delivery of the attempt exits at once, saying that the
      // attempt is claimed, and may be the run whose end PowerJob records:
      // the first run's reports decide. Any other end without a report
      // counts once a launcher would have reported.
      if (info->result.find(kClaimedText) != std::string::npos ||
          pass.now_ms - o.submit_ms < kLauncherReportGraceMs) {
        pass.WakeIn(1000);
        return;
      }
      why = "the launcher ended without reporting" +
            (info->result.empty() ? std::string() : ": " + info->result.substr(0, 300));
      break;
    case kCancelled:
    case kStopped:
      why = "PowerJob instance " + std::to_string(info->instance_id) +
            " was stopped before its launcher reported";
      break;
    case kWaitingDispatch:
    case kWaitingWorkerReceive:
      o.error = "PowerJob instance " + std::to_string(info->instance_id) + " still waits for " +
                (info->status == kWaitingDispatch ? "dispatch" : "its worker");
      return;
    default:
      return;
  }
  runtime_.MarkDispatch(o.dispatch_id, "FAILED", why);
  o.exited = true;
  o.error = why;
  o.end_ms = pass.now_ms;
}

bool DeployController::NothingRuns(const std::string& dispatch_id) {
  // Without PowerJob nothing can be sent or stopped there. The attempt is
  // abandoned, so a delete does not wait for a stop that cannot run.
  if (options_.powerjob == nullptr) return true;
  StatusOr<powerjob::InstanceInfo> info = options_.powerjob->InstanceStatus(dispatch_id);
  // FAILED means the launcher never ran (no worker) or ended, and a
  // launcher ends only after its service. STOPPED, CANCELED and SUCCEEDED
  // (possibly a second delivery next to a running first one) may leave a
  // service behind, so those get the stop job.
  return info.ok() && (info->status == kWaitingDispatch || info->status == kWaitingWorkerReceive ||
                       info->status == kFailed);
}

// Makes sure PowerJob delivers nothing more for an attempt that never
// started; a launcher delivered later is refused by its fencing token.
void DeployController::AbandonAttempt(const api::Host& host, const std::string& dispatch_id) {
  if (host.spec.executor != "powerjob" || options_.powerjob == nullptr) return;
  Status abandoned = options_.powerjob->Abandon(dispatch_id);
  if (!abandoned.ok()) {
    spdlog::warn("host={} dispatch={} stopping its PowerJob instance failed: {}",
                 host.metadata.name, dispatch_id, abandoned.message());
  }
}

// Whether a launcher on Host `host` reported after `since`.
bool DeployController::ReportedSince(Pass& pass, const std::string& host,
                                     const std::optional<reconciler::WallTime>& since) {
  if (!since) return false;
  const int64_t since_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(since->time_since_epoch()).count();
  for (const store::TargetRecord& target : pass.targets) {
    if (target.host == host && pass.observed[target.name].last_report_ms > since_ms) return true;
  }
  return false;
}

// Writes, for each PowerJob Host of the deploy, whether dispatch there works:
// the last successful call and launcher report, and the reason when not.
void DeployController::WriteHostStatus(Pass& pass) {
  for (auto& [name, host] : pass.hosts) {
    if (host.spec.executor != "powerjob") continue;
    api::HostStatus status = host.status;
    const std::string blocked = DispatchBlocked(host);
    std::optional<powerjob::DispatchHealth> health;
    if (options_.powerjob != nullptr) health = options_.powerjob->HostHealth(name);
    if (!blocked.empty()) {
      status.dispatch_ready = false;
      status.reason =
          options_.powerjob == nullptr ? "PowerJobNotConfigured" : "AdvertiseUrlUnreachable";
      status.message = blocked;
    } else if (health && !health->ok() && !ReportedSince(pass, name, health->last_failure)) {
      status.dispatch_ready = false;
      status.reason = "DispatchFailing";
      status.message = health->last_error;
    } else if (health) {
      // Calls succeed, or a launcher reported after the last failed call
      // (such as a runJob whose response was lost), which shows that
      // dispatch reached the host.
      status.dispatch_ready = true;
      status.reason = "";
      status.message = "";
    }
    if (health && health->last_success) {
      const int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             health->last_success->time_since_epoch())
                             .count();
      status.last_dispatch_time = FormatRfc3339(ms);
    }
    int64_t last_report = 0;
    for (const store::TargetRecord& target : pass.targets) {
      if (target.host == name)
        last_report = std::max(last_report, pass.observed[target.name].last_report_ms);
    }
    if (last_report > 0) {
      const std::string reported = FormatRfc3339(last_report);
      if (reported > status.last_report_time) status.last_report_time = reported;
    }
    if (status == host.status) continue;
    api::Host updated = host;
    updated.status = status;
    StatusOr<api::Object> written = store_.UpdateStatus(updated);
    if (!written.ok()) {
      spdlog::warn("host={} status write failed: {}", name, written.status().message());
      continue;
    }
    host.status = status;
  }
}

}  // namespace svcd::controllers
