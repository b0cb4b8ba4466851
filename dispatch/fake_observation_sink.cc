#include "dispatch/fake_observation_sink.h"

#include <utility>

namespace svcd::dispatch {

void FakeObservationSink::AddAttempt(const std::string& dispatch_id, const std::string& secret,
                                     int64_t lease) {
  std::lock_guard<std::mutex> lock(mu_);
  Attempt& attempt = attempts_[dispatch_id];
  attempt.secret = secret;
  attempt.lease = lease;
}

bool FakeObservationSink::SetLease(const std::string& dispatch_id, int64_t lease) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = attempts_.find(dispatch_id);
  if (it == attempts_.end()) {
    return false;
  }
  it->second.lease = lease;
  return true;
}

std::optional<FakeObservationSink::Attempt> FakeObservationSink::Get(
    const std::string& dispatch_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = attempts_.find(dispatch_id);
  if (it == attempts_.end()) {
    return std::nullopt;
  }
  return it->second;
}

bool FakeObservationSink::WaitFor(const std::string& dispatch_id,
                                  const std::function<bool(const Attempt&)>& condition,
                                  std::chrono::milliseconds limit) const {
  std::unique_lock<std::mutex> lock(mu_);
  auto satisfied = [&] {
    auto it = attempts_.find(dispatch_id);
    return it != attempts_.end() && condition(it->second);
  };
  return changed_.wait_for(lock, limit, satisfied);
}

StatusOr<FakeObservationSink::Attempt*> FakeObservationSink::Check(const ReportContext& context) {
  auto it = attempts_.find(context.dispatch_id);
  if (it == attempts_.end()) {
    return Status::NotFound("no attempt " + context.dispatch_id);
  }
  Attempt& attempt = it->second;
  Status status;
  if (!SecretsEqual(context.secret, attempt.secret)) {
    status = Status::Unauthenticated("wrong secret for attempt " + context.dispatch_id);
  } else if (context.lease != attempt.lease) {
    status = Status::Aborted("lease " + std::to_string(context.lease) + " of attempt " +
                             context.dispatch_id + " is not the current " +
                             std::to_string(attempt.lease));
  }
  if (!status.ok()) {
    ++attempt.rejected[status.code()];
    changed_.notify_all();
    return status;
  }
  return &attempt;
}

Status FakeObservationSink::OnStarted(const ReportContext& context, const StartedReport& report) {
  std::lock_guard<std::mutex> lock(mu_);
  StatusOr<Attempt*> attempt = Check(context);
  if (!attempt.ok()) return attempt.status();
  (*attempt)->started.push_back(report);
  changed_.notify_all();
  return Status::Ok();
}

Status FakeObservationSink::OnHeartbeat(const ReportContext& context,
                                        const HeartbeatReport& report) {
  std::lock_guard<std::mutex> lock(mu_);
  StatusOr<Attempt*> attempt = Check(context);
  if (!attempt.ok()) return attempt.status();
  (*attempt)->heartbeats.push_back(report);
  changed_.notify_all();
  return Status::Ok();
}

Status FakeObservationSink::OnLog(const ReportContext& context, int64_t offset,
                                  std::string_view bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  StatusOr<Attempt*> found = Check(context);
  if (!found.ok()) return found.status();
  Attempt& attempt = **found;
  const int64_t end = static_cast<int64_t>(attempt.log.size()) + attempt.missing_log_bytes;
  LogChunk chunk{offset, bytes.size(), offset < end};
  if (offset > end) {
    attempt.missing_log_bytes += offset - end;
  }
  const int64_t skip = offset < end ? end - offset : 0;
  if (skip < static_cast<int64_t>(bytes.size())) {
    attempt.log.append(bytes.substr(static_cast<size_t>(skip)));
  }
  attempt.log_chunks.push_back(chunk);
  changed_.notify_all();
  return Status::Ok();
}

Status FakeObservationSink::OnExit(const ReportContext& context, const ExitReport& report) {
  std::lock_guard<std::mutex> lock(mu_);
  StatusOr<Attempt*> attempt = Check(context);
  if (!attempt.ok()) return attempt.status();
  (*attempt)->exits.push_back(report);
  changed_.notify_all();
  return Status::Ok();
}

Status FakeObservationSink::OnProbe(const ReportContext& context, const ProbeReport& report) {
  std::lock_guard<std::mutex> lock(mu_);
  StatusOr<Attempt*> attempt = Check(context);
  if (!attempt.ok()) return attempt.status();
  (*attempt)->probes.push_back(report);
  changed_.notify_all();
  return Status::Ok();
}

}  // namespace svcd::dispatch
