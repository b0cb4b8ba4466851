// Helpers shared by the reconciler tests: metrics implementations that record
// what they receive, and bounded waits for events from other threads.

#ifndef SVCD_TESTS_RECONCILER_TEST_UTIL_H_
#define SVCD_TESTS_RECONCILER_TEST_UTIL_H_

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "reconciler/clock.h"
#include "reconciler/metrics.h"

namespace svcd::reconciler::testing {

// Real time a test waits for another thread before it fails. It bounds a
// broken test and never measures anything.
inline constexpr std::chrono::seconds kRealLimit(20);

// A counter that other threads bump and a test waits on.
class EventCounter {
 public:
  void Increment(const std::string& name) {
    std::lock_guard<std::mutex> guard(mu_);
    ++counts_[name];
    changed_.notify_all();
  }

  int Get(const std::string& name) const {
    std::lock_guard<std::mutex> guard(mu_);
    auto it = counts_.find(name);
    return it == counts_.end() ? 0 : it->second;
  }

  // Blocks until the count of `name` is at least `n`. Returns false after
  // kRealLimit.
  bool WaitFor(const std::string& name, int n) const {
    std::unique_lock<std::mutex> lock(mu_);
    return changed_.wait_for(lock, kRealLimit, [&] {
      auto it = counts_.find(name);
      return it != counts_.end() && it->second >= n;
    });
  }

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  std::map<std::string, int> counts_;
};

// A gate that blocks threads until the test opens it.
class Gate {
 public:
  void Open() {
    std::lock_guard<std::mutex> guard(mu_);
    open_ = true;
    changed_.notify_all();
  }

  // Blocks until Open(). Returns false after kRealLimit.
  bool Pass() {
    std::unique_lock<std::mutex> lock(mu_);
    return changed_.wait_for(lock, kRealLimit, [&] { return open_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  bool open_ = false;
};

// Stores every queue metrics call.
class RecordingQueueMetrics final : public WorkQueueMetrics {
 public:
  void SetDepth(std::string_view, std::size_t depth) override {
    std::lock_guard<std::mutex> guard(mu_);
    depth_ = depth;
  }
  void IncAdds(std::string_view) override {
    std::lock_guard<std::mutex> guard(mu_);
    ++adds_;
  }
  void IncRetries(std::string_view) override {
    std::lock_guard<std::mutex> guard(mu_);
    ++retries_;
  }
  void ObserveQueueLatency(std::string_view, Duration waited) override {
    std::lock_guard<std::mutex> guard(mu_);
    latencies_.push_back(waited);
  }
  void ObserveWorkDuration(std::string_view, Duration worked) override {
    std::lock_guard<std::mutex> guard(mu_);
    work_durations_.push_back(worked);
  }

  std::size_t depth() const {
    std::lock_guard<std::mutex> guard(mu_);
    return depth_;
  }
  int adds() const {
    std::lock_guard<std::mutex> guard(mu_);
    return adds_;
  }
  int retries() const {
    std::lock_guard<std::mutex> guard(mu_);
    return retries_;
  }
  std::vector<Duration> latencies() const {
    std::lock_guard<std::mutex> guard(mu_);
    return latencies_;
  }
  std::vector<Duration> work_durations() const {
    std::lock_guard<std::mutex> guard(mu_);
    return work_durations_;
  }

 private:
  mutable std::mutex mu_;
  std::size_t depth_ = 0;
  int adds_ = 0;
  int retries_ = 0;
  std::vector<Duration> latencies_;
  std::vector<Duration> work_durations_;
};

// Counts reconcile results by label ("success", "error", ...) and timeouts
// under "timeout".
class RecordingControllerMetrics final : public ControllerMetrics {
 public:
  void ObserveReconcile(std::string_view, std::string_view result, Duration) override {
    events.Increment(std::string(result));
  }
  void IncReconcileTimeouts(std::string_view) override { events.Increment("timeout"); }
  void SetActiveWorkers(std::string_view, int active) override {
    std::lock_guard<std::mutex> guard(mu_);
    max_active_ = std::max(max_active_, active);
  }

  int max_active() const {
    std::lock_guard<std::mutex> guard(mu_);
    return max_active_;
  }

  EventCounter events;

 private:
  mutable std::mutex mu_;
  int max_active_ = 0;
};

}  // namespace svcd::reconciler::testing

#endif  // SVCD_TESTS_RECONCILER_TEST_UTIL_H_
