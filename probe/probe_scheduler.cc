#include "probe/probe_scheduler.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

namespace svcd::probe {

ProbeScheduler::ProbeScheduler(reconciler::Clock& clock, Prober& prober,
                               ProbeSchedulerOptions options)
    : clock_(clock), prober_(prober), options_(std::move(options)) {
  schedule_thread_ = std::thread([this] { RunSchedule(); });
  int threads = std::max(1, options_.num_threads);
  for (int i = 0; i < threads; ++i) {
    probe_threads_.emplace_back([this] { RunProbes(); });
  }
}

ProbeScheduler::~ProbeScheduler() { Stop(); }

void ProbeScheduler::Stop() {
  std::lock_guard<std::mutex> stop_guard(stop_mu_);
  {
    std::lock_guard<std::mutex> guard(mu_);
    stopping_ = true;
    jobs_.clear();
  }
  schedule_changed_.notify_all();
  jobs_changed_.notify_all();
  if (schedule_thread_.joinable()) schedule_thread_.join();
  for (std::thread& thread : probe_threads_) {
    if (thread.joinable()) thread.join();
  }
}

Status ProbeScheduler::ValidateForRegister(const std::string& key,
                                           const ProbeTarget& target) const {
  if (key.empty()) return Status::InvalidArgument("probe key must not be empty");
  Status valid = ValidateProbeTarget(target);
  if (!valid.ok()) {
    return Status::InvalidArgument("invalid probe target for " + key, valid.causes());
  }
  return Status::Ok();
}

Status ProbeScheduler::Register(const std::string& key, ProbeTarget target) {
  Status valid = ValidateForRegister(key, target);
  if (!valid.ok()) return valid;
  std::lock_guard<std::mutex> guard(mu_);
  if (stopping_) return Status::FailedPrecondition("probe scheduler is stopped");
  if (entries_.count(key) != 0) {
    return Status::AlreadyExists("probe key " + key + " is already registered; use Update");
  }
  auto entry = std::make_shared<Entry>();
  entry->key = key;
  entry->next_due = FirstDue(target);
  entry->target = std::move(target);
  entries_.emplace(key, std::move(entry));
  schedule_changed_.notify_all();
  spdlog::debug("probe registered key={}", key);
  return Status::Ok();
}

Status ProbeScheduler::Update(const std::string& key, ProbeTarget target) {
  Status valid = ValidateForRegister(key, target);
  if (!valid.ok()) return valid;
  std::lock_guard<std::mutex> guard(mu_);
  if (stopping_) return Status::FailedPrecondition("probe scheduler is stopped");
  auto it = entries_.find(key);
  if (it == entries_.end()) return Status::NotFound("probe key " + key + " is not registered");
  Entry& entry = *it->second;
  if (entry.target == target) return Status::Ok();
  ++entry.epoch;
  entry.next_due = FirstDue(target);
  entry.reported.clear();
  entry.target = std::move(target);
  entry.state.consecutive_successes = 0;
  entry.state.consecutive_failures = 0;
  schedule_changed_.notify_all();
  spdlog::debug("probe updated key={}", key);
  return Status::Ok();
}

Status ProbeScheduler::Unregister(const std::string& key) {
  std::unique_lock<std::mutex> lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return Status::NotFound("probe key " + key + " is not registered");
  std::shared_ptr<Entry> entry = it->second;
  entry->removed = true;
  entries_.erase(it);
  if (entry->delivering && entry->delivering_thread != std::this_thread::get_id()) {
    delivered_.wait(lock, [&] { return !entry->delivering; });
  }
  spdlog::debug("probe unregistered key={}", key);
  return Status::Ok();
}

Status ProbeScheduler::Report(const std::string& key, const std::string& reported_by,
                              ProbeResult result, reconciler::WallTime started) {
  std::lock_guard<std::mutex> guard(mu_);
  if (stopping_) return Status::FailedPrecondition("probe scheduler is stopped");
  auto it = entries_.find(key);
  if (it == entries_.end()) return Status::NotFound("probe key " + key + " is not registered");
  Entry& entry = *it->second;
  if (entry.target.reported_by.empty() || entry.target.reported_by != reported_by) {
    return Status::FailedPrecondition("probe key " + key + " takes results from dispatch \"" +
                                      entry.target.reported_by + "\", not \"" + reported_by + "\"");
  }
  // A launcher sends one result per period, so a long queue means the
  // probe threads fall behind; the oldest results matter least.
  constexpr size_t kMaxQueued = 16;
  if (entry.reported.size() >= kMaxQueued) entry.reported.pop_front();
  entry.reported.push_back({std::move(result), started});
  schedule_changed_.notify_all();
  return Status::Ok();
}

reconciler::TimePoint ProbeScheduler::FirstDue(const ProbeTarget& target) const {
  const std::chrono::seconds delay(target.probe.initial_delay_seconds);
  if (target.reported_by.empty()) return reconciler::DeadlineAfter(clock_.Now(), delay);
  return ReportDue(target, clock_.Now(), delay);
}

reconciler::TimePoint ProbeScheduler::ReportDue(const ProbeTarget& target,
                                                reconciler::TimePoint from,
                                                std::chrono::seconds delay) const {
  const std::chrono::seconds wait = delay + std::chrono::seconds(target.probe.period_seconds) +
                                    std::chrono::seconds(target.probe.timeout_seconds) +
                                    options_.report_grace;
  return reconciler::DeadlineAfter(from, wait);
}

ProbeResult ProbeScheduler::MissingResult(const ProbeTarget& target) const {
  ProbeResult result;
  result.failure = FailureKind::kNoReport;
  result.message = "no exec probe result arrived from the launcher of dispatch " +
                   target.reported_by + " within periodSeconds + timeoutSeconds + " +
                   std::to_string(options_.report_grace.count()) +
                   "s; check that the host reaches svcd's --advertise-url";
  return result;
}

StatusOr<ProbeState> ProbeScheduler::Get(const std::string& key) const {
  std::lock_guard<std::mutex> guard(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return Status::NotFound("probe key " + key + " is not registered");
  return it->second->state;
}

void ProbeScheduler::RunSchedule() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    reconciler::TimePoint now = clock_.Now();
    reconciler::TimePoint earliest = reconciler::TimePoint::max();
    for (auto& [key, entry] : entries_) QueueIfDue(entry, now, earliest);
    clock_.WaitUntil(lock, schedule_changed_, earliest);
  }
}

void ProbeScheduler::QueueIfDue(const std::shared_ptr<Entry>& entry, reconciler::TimePoint now,
                                reconciler::TimePoint& earliest) {
  if (entry->in_flight) return;
  Job job{entry, entry->epoch, std::nullopt};
  if (!entry->reported.empty()) {
    job.result = std::move(entry->reported.front());
    entry->reported.pop_front();
  } else if (entry->next_due > now) {
    earliest = std::min(earliest, entry->next_due);
    return;
  } else if (!entry->target.reported_by.empty()) {
    job.result = Reported{MissingResult(entry->target), clock_.WallNow()};
  }
  entry->in_flight = true;
  jobs_.push_back(std::move(job));
  jobs_changed_.notify_one();
}

void ProbeScheduler::RunProbes() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    jobs_changed_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
    if (stopping_) return;
    Job job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    RunJob(job);
    lock.lock();
  }
}

void ProbeScheduler::RunJob(const Job& job) {
  Entry& entry = *job.entry;
  ProbeTarget target;
  {
    std::lock_guard<std::mutex> guard(mu_);
    if (entry.removed || entry.epoch != job.epoch || stopping_) {
      entry.in_flight = false;
      schedule_changed_.notify_all();
      return;
    }
    target = entry.target;
  }
  reconciler::TimePoint started = clock_.Now();
  reconciler::WallTime started_wall = clock_.WallNow();
  ProbeResult result;
  if (job.result) {
    result = job.result->result;
    started_wall = job.result->started;
  } else {
    result = prober_.Run(target);
  }

  std::unique_lock<std::mutex> lock(mu_);
  if (!entry.removed && entry.epoch == job.epoch && !stopping_) {
    bool changed = ApplyResult(entry.target.probe, result, entry.state);
    const std::chrono::seconds period(entry.target.probe.period_seconds);
    if (!job.result) {
      // The next check is due one period after this one started, or now
      // when the check took longer than that.
      entry.next_due = std::max(clock_.Now(), reconciler::DeadlineAfter(started, period));
    } else if (result.failure == FailureKind::kNoReport) {
      entry.next_due = reconciler::DeadlineAfter(clock_.Now(), period);
    } else {
      entry.next_due = ReportDue(entry.target, clock_.Now(), std::chrono::seconds(0));
    }
    ProbeEvent event{entry.key, result, entry.state, started_wall};
    entry.state.last_result = std::move(result);
    Deliver(entry, event, changed, lock);
  }
  entry.in_flight = false;
  schedule_changed_.notify_all();
}

bool ProbeScheduler::ApplyResult(const api::Probe& probe, const ProbeResult& result,
                                 ProbeState& state) {
  bool was_ready = state.ready;
  if (result.success) {
    state.consecutive_failures = 0;
    ++state.consecutive_successes;
    if (state.consecutive_successes >= probe.success_threshold) state.ready = true;
  } else {
    state.consecutive_successes = 0;
    ++state.consecutive_failures;
    if (state.consecutive_failures >= probe.failure_threshold) state.ready = false;
  }
  state.ever_ready = state.ever_ready || state.ready;
  return state.ready != was_ready;
}

void ProbeScheduler::Deliver(Entry& entry, const ProbeEvent& event, bool changed,
                             std::unique_lock<std::mutex>& lock) {
  if (changed) {
    spdlog::info("probe key={} ready={} reason={} message={}", event.key, event.state.ready,
                 FailureKindName(event.result.failure), event.result.message);
  }
  entry.delivering = true;
  entry.delivering_thread = std::this_thread::get_id();
  lock.unlock();
  if (options_.on_result) options_.on_result(event);
  lock.lock();
  // on_result may have unregistered the key.
  if (changed && !entry.removed && options_.on_transition) {
    lock.unlock();
    options_.on_transition(event);
    lock.lock();
  }
  entry.delivering = false;
  delivered_.notify_all();
}

}  // namespace svcd::probe
