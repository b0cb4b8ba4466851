#include "reconciler/controller.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <system_error>
#include <utility>

namespace svcd::reconciler {
namespace {

NoopControllerMetrics noop_metrics;

double Seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

Status CheckOptions(const ControllerOptions& options) {
  if (options.name.empty()) {
    return Status::InvalidArgument(
        "options.name: must not be empty. Name the controller, such as \"servicedeploy\"");
  }
  const std::string where = "controller " + options.name + ": ";
  if (options.workers < 1 || options.workers > kMaxWorkers) {
    return Status::InvalidArgument(where + "options.workers: must be from 1 to " +
                                   std::to_string(kMaxWorkers) + ", got " +
                                   std::to_string(options.workers));
  }
  if (options.reconcile_timeout < Duration::zero()) {
    return Status::InvalidArgument(
        where + "options.reconcile_timeout: must not be negative. Use zero for no timeout");
  }
  if (options.resync_period < Duration::zero()) {
    return Status::InvalidArgument(
        where + "options.resync_period: must not be negative. Use zero to disable the resync");
  }
  if (!std::isfinite(options.resync_jitter) || options.resync_jitter < 0 ||
      options.resync_jitter > 1) {
    return Status::InvalidArgument(where + "options.resync_jitter: must be from 0 to 1, got " +
                                   std::to_string(options.resync_jitter));
  }
  if (options.resync_period > Duration::zero() && !options.lister) {
    return Status::InvalidArgument(where +
                                   "options.lister: required when options.resync_period is "
                                   "positive. Pass a lister or set the period to zero");
  }
  return Status::Ok();
}

}  // namespace

StatusOr<std::unique_ptr<Controller>> Controller::Create(ControllerOptions options,
                                                         Reconciler& reconciler, Clock& clock) {
  if (Status status = CheckOptions(options); !status.ok()) {
    return status;
  }
  return std::unique_ptr<Controller>(new Controller(std::move(options), reconciler, clock));
}

Controller::Controller(ControllerOptions options, Reconciler& reconciler, Clock& clock)
    : options_(std::move(options)),
      reconciler_(reconciler),
      clock_(clock),
      metrics_(options_.metrics != nullptr ? options_.metrics : &noop_metrics),
      queue_(clock, WorkQueueOptions{options_.name, options_.queue_metrics,
                                     std::move(options_.rate_limiter)}),
      random_(std::random_device{}()) {}

Controller::~Controller() { Stop(Duration::max()); }

Status Controller::Start() {
  std::lock_guard<std::mutex> join_guard(join_mu_);

  // Count every thread before it exists. Each one uncounts itself when it
  // returns, so Stop never misses one that is still starting.
  const bool resync = options_.resync_period > Duration::zero();
  int unstarted = options_.workers + 1 + (resync ? 1 : 0);
  {
    std::lock_guard<std::mutex> guard(mu_);
    if (started_ || stopping_) {
      return Status::FailedPrecondition("controller " + options_.name +
                                        " was already started or stopped. Create a new controller");
    }
    started_ = true;
    running_workers_ = options_.workers;
    running_threads_ = unstarted;
    if (resync) {
      next_resync_ = DeadlineAfter(clock_.Now(), NextResyncInterval());
    }
  }

  try {
    for (int i = 0; i < options_.workers; ++i) {
      threads_.emplace_back([this] { RunWorker(); });
      --unstarted;
    }
    threads_.emplace_back([this] { RunTimeoutWatcher(); });
    --unstarted;
    if (resync) {
      threads_.emplace_back([this] { RunResync(); });
      --unstarted;
    }
  } catch (const std::system_error& e) {
    return AbortStart(unstarted, e);
  }

  spdlog::info("controller started controller={} workers={} reconcile_timeout={}s resync={}s",
               options_.name, options_.workers, Seconds(options_.reconcile_timeout),
               Seconds(options_.resync_period));
  return Status::Ok();
}

Status Controller::AbortStart(int unstarted, const std::system_error& error) {
  // The threads that exist see the stop and end, and the destructor joins
  // them. NOTE: no test makes thread creation fail, so this path is unrun.
  {
    std::lock_guard<std::mutex> guard(mu_);
    const int unstarted_workers = std::max(0, options_.workers - static_cast<int>(threads_.size()));
    running_workers_ -= unstarted_workers;
    running_threads_ -= unstarted;
    stopping_ = true;
    changed_.notify_all();
  }
  queue_.ShutDown();
  spdlog::error("controller start failed controller={} error={}", options_.name, error.what());
  return Status::Internal("controller " + options_.name +
                          ": starting a thread failed: " + error.what());
}

void Controller::RunWorker() {
  while (true) {
    StatusOr<std::string> key = queue_.Get();
    if (!key.ok()) {
      break;  // shut down and drained
    }
    ProcessKey(*key);
    queue_.Done(*key);
  }

  std::lock_guard<std::mutex> guard(mu_);
  --running_workers_;
  --running_threads_;
  changed_.notify_all();
}

void Controller::ProcessKey(const std::string& key) {
  // Register the reconcile so the timeout watcher and Stop can cancel it.
  std::shared_ptr<Context> ctx;
  {
    std::lock_guard<std::mutex> guard(mu_);
    const TimePoint deadline = options_.reconcile_timeout > Duration::zero()
                                   ? DeadlineAfter(clock_.Now(), options_.reconcile_timeout)
                                   : TimePoint::max();
    ctx = std::make_shared<Context>(key, next_reconcile_id_++, deadline, clock_);
    if (stopping_) {
      ctx->Cancel();
    }
    in_flight_.emplace(ctx->reconcile_id(), InFlight{ctx});
    metrics_->SetActiveWorkers(options_.name, ++active_workers_);
    changed_.notify_all();
  }

  const TimePoint start = clock_.Now();
  const Result result = CallReconciler(key, *ctx);
  const Duration elapsed = clock_.Now() - start;

  // A reconcile can reach its deadline and return before the watcher looks,
  // so the overrun is also checked here, and counted once either way.
  {
    std::lock_guard<std::mutex> guard(mu_);
    auto entry = in_flight_.find(ctx->reconcile_id());
    if (!entry->second.timed_out && clock_.Now() >= ctx->deadline()) {
      ReportTimeoutLocked(entry->second);
    }
    in_flight_.erase(entry);
    metrics_->SetActiveWorkers(options_.name, --active_workers_);
    changed_.notify_all();
  }
  ApplyOutcome(key, *ctx, result, elapsed);
}

Result Controller::CallReconciler(const std::string& key, const Context& ctx) {
  // An exception must not end the worker thread, so it becomes an error that
  // is retried like any other.
  try {
    return reconciler_.Reconcile(key, ctx);
  } catch (const std::exception& e) {
    return Status::Internal("reconciler threw an exception: " + std::string(e.what()));
  } catch (...) {
    return Status::Internal("reconciler threw an exception that is not a std::exception");
  }
}

void Controller::ApplyOutcome(const std::string& key, const Context& ctx, const Result& result,
                              Duration elapsed) {
  const Outcome outcome = OutcomeOf(result);
  switch (outcome) {
    case Outcome::kSuccess:
      queue_.Forget(key);
      spdlog::debug("reconcile succeeded controller={} key={} reconcile_id={} elapsed={}s",
                    options_.name, key, ctx.reconcile_id(), Seconds(elapsed));
      break;
    case Outcome::kError:
      queue_.AddRateLimited(key);
      spdlog::error("reconcile failed controller={} key={} reconcile_id={} retries={} error={}",
                    options_.name, key, ctx.reconcile_id(), queue_.NumRequeues(key),
                    result.status().ToString());
      break;
    case Outcome::kRequeue:
      queue_.AddRateLimited(key);
      spdlog::debug("reconcile requeued controller={} key={} reconcile_id={}", options_.name, key,
                    ctx.reconcile_id());
      break;
    case Outcome::kRequeueAfter:
      queue_.Forget(key);
      queue_.AddAfter(key, result.requeue_after());
      spdlog::debug("reconcile requeued controller={} key={} reconcile_id={} after={}s",
                    options_.name, key, ctx.reconcile_id(), Seconds(result.requeue_after()));
      break;
    case Outcome::kTerminal:
      queue_.Forget(key);
      spdlog::error(
          "reconcile failed with a terminal error, not retrying controller={} key={} "
          "reconcile_id={} error={}",
          options_.name, key, ctx.reconcile_id(), result.status().ToString());
      break;
  }
  metrics_->ObserveReconcile(options_.name, OutcomeLabel(outcome), elapsed);
}

void Controller::RunTimeoutWatcher() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!(stopping_ && running_workers_ == 0)) {
    CancelExpiredLocked(clock_.Now());

    // Sleep until the earliest deadline not yet reported. Reconciles that
    // start or end notify changed_, so a new earlier deadline is seen.
    TimePoint wake_at = TimePoint::max();
    for (const auto& [id, entry] : in_flight_) {
      if (!entry.timed_out) {
        wake_at = std::min(wake_at, entry.ctx->deadline());
      }
    }
    clock_.WaitUntil(lock, changed_, wake_at);
  }
  --running_threads_;
  changed_.notify_all();
}

void Controller::CancelExpiredLocked(TimePoint now) {
  for (auto& [id, entry] : in_flight_) {
    if (!entry.timed_out && entry.ctx->deadline() <= now) {
      entry.ctx->Cancel();
      ReportTimeoutLocked(entry);
    }
  }
}

void Controller::ReportTimeoutLocked(InFlight& entry) {
  entry.timed_out = true;
  metrics_->IncReconcileTimeouts(options_.name);
  spdlog::warn("reconcile exceeded its timeout controller={} key={} reconcile_id={} timeout={}s",
               options_.name, entry.ctx->key(), entry.ctx->reconcile_id(),
               Seconds(options_.reconcile_timeout));
}

void Controller::RunResync() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    clock_.WaitUntil(lock, changed_, next_resync_, [&] { return stopping_; });
    if (stopping_) {
      break;
    }

    // Take the time before listing, so a clock moved during the resync
    // cannot make it skip the next one.
    const TimePoint now = clock_.Now();
    lock.unlock();
    ResyncOnce();
    lock.lock();

    // Keep a fixed schedule from Start. After a long stall, restart the
    // schedule from now instead of firing once per missed period.
    next_resync_ = DeadlineAfter(next_resync_, NextResyncInterval());
    if (next_resync_ <= now) {
      next_resync_ = DeadlineAfter(now, NextResyncInterval());
    }
  }
  --running_threads_;
  changed_.notify_all();
}

void Controller::ResyncOnce() {
  StatusOr<std::vector<std::string>> keys = [&]() -> StatusOr<std::vector<std::string>> {
    try {
      return options_.lister();
    } catch (const std::exception& e) {
      return Status::Internal("lister threw an exception: " + std::string(e.what()));
    }
  }();
  if (!keys.ok()) {
    spdlog::error("resync failed, trying again next period controller={} error={}", options_.name,
                  keys.status().ToString());
    return;
  }
  for (const std::string& key : *keys) {
    queue_.Add(key);
  }
  spdlog::debug("resync queued keys controller={} count={}", options_.name, keys->size());
}

Duration Controller::NextResyncInterval() {
  std::uniform_real_distribution<double> spread(0.0, options_.resync_jitter);
  const double factor = 1.0 + (options_.resync_jitter > 0 ? spread(random_) : 0.0);
  const double interval = static_cast<double>(options_.resync_period.count()) * factor;
  if (interval >= static_cast<double>(Duration::max().count())) {
    return Duration::max();
  }
  return Duration(static_cast<Duration::rep>(interval));
}

Status Controller::Stop(Duration timeout) {
  // Refuse new keys and tell every running reconcile to finish.
  {
    std::lock_guard<std::mutex> guard(mu_);
    if (started_ && !stopping_) {
      spdlog::info("controller stopping controller={}", options_.name);
    }
    stopping_ = true;
    for (auto& [id, entry] : in_flight_) {
      entry.ctx->Cancel();
    }
    changed_.notify_all();
  }
  queue_.ShutDown();

  // Wait for the workers to drain the queue, then for the other threads.
  {
    std::unique_lock<std::mutex> lock(mu_);
    const TimePoint deadline = DeadlineAfter(clock_.Now(), timeout);
    if (!clock_.WaitUntil(lock, changed_, deadline, [&] { return running_threads_ == 0; })) {
      std::string keys;
      for (const auto& [id, entry] : in_flight_) {
        keys += (keys.empty() ? "" : ", ") + entry.ctx->key();
      }
      spdlog::warn("controller stop timed out controller={} threads={} keys=[{}]", options_.name,
                   running_threads_, keys);
      return Status::DeadlineExceeded(fmt::format(
          "controller {} did not stop within {}s: {} threads still running, reconciles in "
          "progress: [{}]. The destructor waits for them",
          options_.name, Seconds(timeout), running_threads_, keys));
    }
  }

  JoinThreads();
  return Status::Ok();
}

void Controller::JoinThreads() {
  std::lock_guard<std::mutex> join_guard(join_mu_);
  if (threads_.empty()) {
    return;
  }
  for (std::thread& thread : threads_) {
    thread.join();
  }
  threads_.clear();
  spdlog::info("controller stopped controller={}", options_.name);
}

}  // namespace svcd::reconciler
