#include "bench/minimal_queue.h"

namespace svcd::bench {

MinimalQueue::MinimalQueue(int workers, Handler handler, reconciler::Clock& clock)
    : handler_(std::move(handler)), clock_(clock) {
  for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { RunWorker(); });
}

MinimalQueue::~MinimalQueue() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_.notify_all();
  for (std::thread& thread : threads_) thread.join();
}

void MinimalQueue::Add(const std::string& key) {
  {
    std::lock_guard lock(mu_);
    if (!waiting_.insert(key).second) return;
    ready_.push_back(key);
  }
  work_.notify_one();
}

bool MinimalQueue::WaitForHandled(uint64_t count, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  const reconciler::TimePoint deadline = reconciler::DeadlineAfter(clock_.Now(), timeout);
  return clock_.WaitUntil(lock, handled_cv_, deadline, [&] { return handled_ >= count; });
}

void MinimalQueue::RunWorker() {
  std::unique_lock lock(mu_);
  while (true) {
    work_.wait(lock, [this] { return stopping_ || !ready_.empty(); });
    if (ready_.empty()) return;  // stopping, and every queued key was handled
    std::string key = std::move(ready_.front());
    ready_.pop_front();
    waiting_.erase(key);
    lock.unlock();
    handler_(key);
    lock.lock();
    ++handled_;
    handled_cv_.notify_all();
  }
}

}  // namespace svcd::bench
