#include "reconciler/work_queue.h"

namespace svcd::reconciler {
namespace {

NoopWorkQueueMetrics noop_metrics;

}  // namespace

WorkQueue::WorkQueue(Clock& clock, WorkQueueOptions options)
    : clock_(clock),
      name_(std::move(options.name)),
      metrics_(options.metrics != nullptr ? options.metrics : &noop_metrics),
      rate_limiter_(options.rate_limiter != nullptr ? std::move(options.rate_limiter)
                                                    : DefaultControllerRateLimiter(clock)) {}

void WorkQueue::Add(const std::string& key) {
  std::lock_guard<std::mutex> guard(mu_);
  if (shutting_down_) {
    return;
  }
  AddLocked(key, clock_.Now());
}

void WorkQueue::AddLocked(const std::string& key, TimePoint now) {
  if (!dirty_.insert(key).second) {
    return;  // already waiting, or already marked to run again after Done
  }
  metrics_->IncAdds(name_);
  if (processing_.count(key) != 0) {
    return;  // Done queues it
  }
  ready_.push_back(key);
  queued_at_[key] = now;
  metrics_->SetDepth(name_, ready_.size());
  changed_.notify_one();
}

void WorkQueue::AddAfter(const std::string& key, Duration delay) {
  if (delay <= Duration::zero()) {
    Add(key);
    return;
  }

  std::lock_guard<std::mutex> guard(mu_);
  if (shutting_down_) {
    return;
  }
  const TimePoint due = DeadlineAfter(clock_.Now(), delay);
  auto it = delayed_due_.find(key);
  if (it != delayed_due_.end()) {
    if (it->second <= due) {
      return;  // the pending add comes first
    }
    delayed_.erase({it->second, key});
    it->second = due;
  } else {
    delayed_due_.emplace(key, due);
  }
  delayed_.emplace(due, key);

  // A blocked Get may need to wake earlier than it planned.
  changed_.notify_all();
}

void WorkQueue::AddRateLimited(const std::string& key) {
  {
    std::lock_guard<std::mutex> guard(mu_);
    if (shutting_down_) {
      return;
    }
    metrics_->IncRetries(name_);
  }

  // The rate limiter has its own lock, so call it without holding mu_.
  AddAfter(key, rate_limiter_->When(key));
}

void WorkQueue::Forget(const std::string& key) { rate_limiter_->Forget(key); }

int WorkQueue::NumRequeues(const std::string& key) { return rate_limiter_->NumRequeues(key); }

StatusOr<std::string> WorkQueue::Get() { return GetUntil(TimePoint::max()); }

StatusOr<std::string> WorkQueue::Get(Duration timeout) {
  return GetUntil(DeadlineAfter(clock_.Now(), timeout));
}

StatusOr<std::string> WorkQueue::GetUntil(TimePoint deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    const TimePoint now = clock_.Now();
    MoveDueKeysLocked(now);
    if (!ready_.empty()) {
      return TakeLocked(now);
    }
    if (shutting_down_) {
      return Status::Unavailable("work queue " + name_ + " is shut down");
    }
    if (now >= deadline) {
      return Status::DeadlineExceeded("no key became ready in work queue " + name_ +
                                      " before the timeout");
    }

    // Sleep until the caller's deadline or the next delayed key, whichever
    // comes first. Adds and ShutDown notify changed_.
    TimePoint wake_at = deadline;
    if (!delayed_.empty()) {
      wake_at = std::min(wake_at, delayed_.begin()->first);
    }
    clock_.WaitUntil(lock, changed_, wake_at);
  }
}

void WorkQueue::MoveDueKeysLocked(TimePoint now) {
  std::size_t moved = 0;
  while (!delayed_.empty() && delayed_.begin()->first <= now) {
    std::string key = delayed_.begin()->second;
    delayed_.erase(delayed_.begin());
    delayed_due_.erase(key);
    AddLocked(key, now);
    ++moved;
  }

  // AddLocked woke one waiter per key, but this thread may be a waiter that
  // takes one of them itself, so wake the rest to take the others.
  if (moved > 1) {
    changed_.notify_all();
  }
}

StatusOr<std::string> WorkQueue::TakeLocked(TimePoint now) {
  std::string key = std::move(ready_.front());
  ready_.pop_front();
  dirty_.erase(key);
  processing_.insert(key);

  auto queued = queued_at_.find(key);
  if (queued != queued_at_.end()) {
    metrics_->ObserveQueueLatency(name_, now - queued->second);
    queued_at_.erase(queued);
  }
  started_at_[key] = now;
  metrics_->SetDepth(name_, ready_.size());
  return key;
}

void WorkQueue::Done(const std::string& key) {
  std::lock_guard<std::mutex> guard(mu_);
  if (processing_.erase(key) == 0) {
    return;
  }

  const TimePoint now = clock_.Now();
  auto started = started_at_.find(key);
  if (started != started_at_.end()) {
    metrics_->ObserveWorkDuration(name_, now - started->second);
    started_at_.erase(started);
  }

  // A key added while it was processing is dirty but not ready: queue it now.
  if (dirty_.count(key) != 0) {
    ready_.push_back(key);
    queued_at_[key] = now;
    metrics_->SetDepth(name_, ready_.size());
    changed_.notify_one();
  }
}

void WorkQueue::ShutDown() {
  std::lock_guard<std::mutex> guard(mu_);
  if (shutting_down_) {
    return;
  }
  shutting_down_ = true;
  delayed_.clear();
  delayed_due_.clear();
  changed_.notify_all();
}

bool WorkQueue::ShuttingDown() const {
  std::lock_guard<std::mutex> guard(mu_);
  return shutting_down_;
}

std::size_t WorkQueue::Len() {
  std::lock_guard<std::mutex> guard(mu_);
  MoveDueKeysLocked(clock_.Now());
  return ready_.size();
}

std::size_t WorkQueue::NumDelayed() const {
  std::lock_guard<std::mutex> guard(mu_);
  return delayed_.size();
}

}  // namespace svcd::reconciler
