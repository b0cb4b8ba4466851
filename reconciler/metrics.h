// Metrics hooks of the work queue and the controller. This library depends on
// no metrics system; the metrics layer implements these interfaces and turns
// the calls into series.

#ifndef SVCD_RECONCILER_METRICS_H_
#define SVCD_RECONCILER_METRICS_H_

#include <cstddef>
#include <string_view>

#include "reconciler/clock.h"

namespace svcd::reconciler {

// Receives the events of one or more work queues. `queue` is the name given
// in WorkQueueOptions, so one implementation can serve every queue.
//
// The queue calls these methods while it holds its own lock, so they must be
// fast, must not block and must not call back into the queue. They may be
// called from several threads at once when several queues share the object.
class WorkQueueMetrics {
 public:
  virtual ~WorkQueueMetrics() = default;

  // Reports the number of keys ready to be handed out, after every change.
  virtual void SetDepth(std::string_view queue, std::size_t depth) = 0;

  // Counts a key that was accepted by Add (or a delayed add that came due)
  // and was not already waiting in the queue.
  virtual void IncAdds(std::string_view queue) = 0;

  // Counts a call of AddRateLimited, that is a retry of a key.
  virtual void IncRetries(std::string_view queue) = 0;

  // Reports how long a key waited in the queue before Get handed it out.
  virtual void ObserveQueueLatency(std::string_view queue, Duration waited) = 0;

  // Reports how long a key was processed, from Get to Done.
  virtual void ObserveWorkDuration(std::string_view queue, Duration worked) = 0;
};

// Receives the events of one or more controllers. `controller` is the name
// given in ControllerOptions.
//
// Called from worker threads and from the controller's timeout watcher, so
// implementations must be thread-safe. Some calls are made while the
// controller holds its lock, so they must be fast and must not call back into
// the controller.
class ControllerMetrics {
 public:
  virtual ~ControllerMetrics() = default;

  // Reports one finished reconcile. `result` is one of the labels that
  // OutcomeLabel() returns: "success", "error", "requeue", "requeue_after" or
  // "terminal". `elapsed` is the time spent in Reconcile.
  virtual void ObserveReconcile(std::string_view controller, std::string_view result,
                                Duration elapsed) = 0;

  // Counts a reconcile that reached its timeout, once per reconcile: when the
  // deadline passes while it runs, or when it returns at or after the
  // deadline, whichever is seen first. The same reconcile also reports its
  // result through ObserveReconcile as usual.
  virtual void IncReconcileTimeouts(std::string_view controller) = 0;

  // Reports the number of workers inside Reconcile, after every change.
  virtual void SetActiveWorkers(std::string_view controller, int active) = 0;
};

// Implementations that drop every event, used when no metrics are wanted.
class NoopWorkQueueMetrics final : public WorkQueueMetrics {
 public:
  void SetDepth(std::string_view, std::size_t) override {}
  void IncAdds(std::string_view) override {}
  void IncRetries(std::string_view) override {}
  void ObserveQueueLatency(std::string_view, Duration) override {}
  void ObserveWorkDuration(std::string_view, Duration) override {}
};

class NoopControllerMetrics final : public ControllerMetrics {
 public:
  void ObserveReconcile(std::string_view, std::string_view, Duration) override {}
  void IncReconcileTimeouts(std::string_view) override {}
  void SetActiveWorkers(std::string_view, int) override {}
};

}  // namespace svcd::reconciler

#endif  // SVCD_RECONCILER_METRICS_H_
