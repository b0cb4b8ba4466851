// The Reconciler interface, its Result and the Context a reconcile runs in.

#ifndef SVCD_RECONCILER_RECONCILER_H_
#define SVCD_RECONCILER_RECONCILER_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "api/status.h"
#include "reconciler/clock.h"

namespace svcd::reconciler {

// The next step a reconcile requests from the controller. Build one with the
// named factories, or return a Status, which converts to Error(status).
class Result {
 public:
  // Done: the object matches its spec. An OK Status converts to Done().
  Result() = default;

  // Converts a Status: OK becomes Done(), anything else Error(status).
  Result(Status status);  // NOLINT: implicit so a reconcile can `return status;`

  static Result Done() { return Result(); }

  // Runs the key again after the rate limiter's delay, without an error.
  static Result Requeue();

  // Runs the key again once `delay` has passed. A zero or negative delay is
  // Requeue().
  static Result RequeueAfter(Duration delay);

  // A failure worth retrying. An OK `status` becomes Internal, because an
  // error result must carry an error.
  static Result Error(Status status);

  // A failure that retrying cannot fix, such as an impossible spec. An OK
  // `status` becomes Internal.
  friend Result TerminalError(Status status);

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  bool terminal() const { return terminal_; }
  bool requeue() const { return requeue_; }
  Duration requeue_after() const { return requeue_after_; }

 private:
  Status status_;
  bool terminal_ = false;
  bool requeue_ = false;
  Duration requeue_after_ = Duration::zero();
};

// Marks `status` as terminal: the controller counts it and does not retry the
// key until something adds it again.
Result TerminalError(Status status);

// The five ways a reconcile can end, each with one queue action.
enum class Outcome {
  kSuccess,       // Forget(key)
  kError,         // AddRateLimited(key)
  kRequeue,       // AddRateLimited(key)
  kRequeueAfter,  // Forget(key), then AddAfter(key, requeue_after)
  kTerminal,      // Forget(key), and count it
};

// Returns the outcome of `result`. An error status wins over any requeue.
Outcome OutcomeOf(const Result& result);

// Returns the metric label of an outcome: "success", "error", "requeue",
// "requeue_after" or "terminal".
std::string_view OutcomeLabel(Outcome outcome);

// The environment of one reconcile: the key, an id for logs, a deadline and a
// cancelled flag. The controller cancels the context when the deadline passes
// or the controller stops. A reconcile should check Cancelled() between steps,
// and return soon after it turns true, because the controller does not
// interrupt it.
//
// Thread-safety: every method may be called from any thread.
class Context {
 public:
  // `clock` must outlive the context. TimePoint::max() means no deadline.
  Context(std::string key, std::uint64_t reconcile_id, TimePoint deadline, Clock& clock);
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  const std::string& key() const { return key_; }

  // A number that is unique per controller and reconcile, for log lines.
  std::uint64_t reconcile_id() const { return reconcile_id_; }

  TimePoint deadline() const { return deadline_; }

  // Returns true once Cancel() was called.
  bool Cancelled() const { return cancelled_.load(); }

  // Returns true when the context is cancelled or the clock has reached the
  // deadline, that is when the reconcile should stop.
  bool Done() const;

  // Waits `d` on the clock, returning early when the context is cancelled or
  // the deadline passes. Returns true when the full `d` elapsed, false when
  // the wait was cut short.
  bool Wait(Duration d) const;

  // Sets the cancelled flag and wakes Wait. Idempotent.
  void Cancel();

 private:
  const std::string key_;
  const std::uint64_t reconcile_id_;
  const TimePoint deadline_;
  Clock& clock_;
  std::atomic<bool> cancelled_{false};
  mutable std::mutex mu_;                      // pairs with cancel_cv_
  mutable std::condition_variable cancel_cv_;  // notified by Cancel
};

// Brings the object named by a key to its desired state.
//
// The retry contract, applied by Controller after each call:
//   - Error (any non-OK status, or an exception): the key is retried through
//     AddRateLimited, so its delay grows with each failure.
//   - TerminalError: the key is forgotten by the rate limiter and counted
//     under the "terminal" label, and it is not retried. It runs again only
//     when something adds the key again, such as a change or a resync.
//   - RequeueAfter(d): the key is forgotten by the rate limiter and added
//     again after d, as for polling an external state.
//   - Requeue(): the key is added again through AddRateLimited.
//   - Done(): the key is forgotten by the rate limiter.
// The controller never runs one key on two threads at once, so a reconcile
// needs no lock against itself for the same key. Different keys run in
// parallel on different workers.
//
// Reconcile is level-triggered: it must read the current state and work out
// the actions every time, and calling it again with nothing changed must do
// nothing. It should return soon after ctx.Done() turns true, because a run
// past the deadline is logged and counted as a timeout.
class Reconciler {
 public:
  virtual ~Reconciler() = default;

  virtual Result Reconcile(const std::string& key, const Context& ctx) = 0;
};

}  // namespace svcd::reconciler

#endif  // SVCD_RECONCILER_RECONCILER_H_
