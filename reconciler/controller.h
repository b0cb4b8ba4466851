// Controller: worker threads that run a Reconciler on the keys of a WorkQueue.

#ifndef SVCD_RECONCILER_CONTROLLER_H_
#define SVCD_RECONCILER_CONTROLLER_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "api/status.h"
#include "reconciler/clock.h"
#include "reconciler/metrics.h"
#include "reconciler/rate_limiter.h"
#include "reconciler/reconciler.h"
#include "reconciler/work_queue.h"

namespace svcd::reconciler {

// Returns every key that should exist, for the periodic resync.
using Lister = std::function<StatusOr<std::vector<std::string>>()>;

struct ControllerOptions {
  // Names the controller in logs and metrics, and its queue. Required.
  std::string name;

  // Number of worker threads, from 1 to kMaxWorkers. Default 4.
  int workers = 4;

  // Time one reconcile may take before its context is cancelled and the
  // overrun is logged and counted. Duration::zero() means no timeout.
  // Default 5 minutes.
  Duration reconcile_timeout = std::chrono::minutes(5);

  // Interval of the resync that adds every key `lister` returns, so that a
  // missed change is still seen. Duration::zero() disables it. Default 10
  // minutes.
  Duration resync_period = std::chrono::minutes(10);

  // Each resync waits resync_period * (1 + r) with r drawn uniformly from
  // [0, resync_jitter), so controllers started together spread their load.
  // From 0 to 1. Default 0.1.
  double resync_jitter = 0.1;

  // Source of keys for the resync. Required when resync_period is positive.
  // Called on the resync thread, never on two threads at once.
  Lister lister;

  // Rate limiter of the queue. nullptr means DefaultControllerRateLimiter.
  std::unique_ptr<RateLimiter> rate_limiter;

  // Not owned, and each must outlive the controller. nullptr drops events.
  ControllerMetrics* metrics = nullptr;
  WorkQueueMetrics* queue_metrics = nullptr;
};

inline constexpr int kMaxWorkers = 1024;

// Runs `options.workers` threads that take keys from the controller's queue,
// call the Reconciler and apply the retry contract written on Reconciler.
// Besides the workers, Start runs a timeout watcher, which cancels the
// context of a reconcile at its deadline, and, when enabled, a resync thread.
//
// Lifecycle: Create, then Start once, then Stop (or destroy). A stopped
// controller cannot start again.
//
// Thread-safety: every method may be called from any thread.
class Controller {
 public:
  // Checks the options and builds a stopped controller. Returns
  // InvalidArgument naming the bad option. `reconciler` and `clock` must
  // outlive the controller.
  static StatusOr<std::unique_ptr<Controller>> Create(ControllerOptions options,
                                                      Reconciler& reconciler, Clock& clock);

  // Stops the controller (see Stop) and waits for every thread to end,
  // however long a reconcile takes.
  ~Controller();

  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  // Starts the threads. The first resync is due resync_period (plus jitter)
  // after this call. Returns FailedPrecondition when called a second time or
  // after Stop.
  Status Start();

  // Queues `key` for a reconcile. The same as queue().Add(key).
  void Enqueue(const std::string& key) { queue_.Add(key); }

  // The controller's queue, for event sources and tests.
  WorkQueue& queue() { return queue_; }

  // Shuts the queue down, cancels the context of every reconcile, and waits
  // up to `timeout` on the clock for the workers to drain the ready keys and
  // return. Keys drained after Stop run with an already cancelled context.
  // Returns OK once every thread has ended, or DeadlineExceeded naming the
  // keys still running when the timeout passes. Those threads keep running
  // and the destructor waits for them. Calling Stop before Start, or again,
  // is allowed. Never call it from inside Reconcile, because it would wait
  // for its own worker.
  Status Stop(Duration timeout);

  const std::string& name() const { return options_.name; }

 private:
  // A reconcile in progress, with whether its timeout was reported.
  struct InFlight {
    std::shared_ptr<Context> ctx;
    bool timed_out = false;
  };

  Controller(ControllerOptions options, Reconciler& reconciler, Clock& clock);

  Status AbortStart(int unstarted, const std::system_error& error);
  void RunWorker();
  void ProcessKey(const std::string& key);
  Result CallReconciler(const std::string& key, const Context& ctx);
  void ApplyOutcome(const std::string& key, const Context& ctx, const Result& result,
                    Duration elapsed);
  void RunTimeoutWatcher();
  void CancelExpiredLocked(TimePoint now);
  void ReportTimeoutLocked(InFlight& entry);
  void RunResync();
  void ResyncOnce();
  Duration NextResyncInterval();
  void JoinThreads();

  ControllerOptions options_;
  Reconciler& reconciler_;
  Clock& clock_;
  ControllerMetrics* const metrics_;  // never null
  WorkQueue queue_;

  std::mutex mu_;
  // Notified when a reconcile starts or ends, a worker exits, or Stop runs.
  std::condition_variable changed_;
  // Guarded by mu_:
  bool started_ = false;
  bool stopping_ = false;
  int running_workers_ = 0;  // worker threads not yet returned
  int running_threads_ = 0;  // all threads not yet returned, workers included
  int active_workers_ = 0;
  std::uint64_t next_reconcile_id_ = 1;
  std::map<std::uint64_t, InFlight> in_flight_;  // by reconcile id
  TimePoint next_resync_;
  std::mt19937_64 random_;

  // Written by Start and read by Stop and the destructor, under join_mu_.
  std::mutex join_mu_;
  std::vector<std::thread> threads_;
};

}  // namespace svcd::reconciler

#endif  // SVCD_RECONCILER_CONTROLLER_H_
