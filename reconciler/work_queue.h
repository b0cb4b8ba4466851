// WorkQueue: the queue of object keys that controller workers drain.

#ifndef SVCD_RECONCILER_WORK_QUEUE_H_
#define SVCD_RECONCILER_WORK_QUEUE_H_

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "api/status.h"
#include "reconciler/clock.h"
#include "reconciler/metrics.h"
#include "reconciler/rate_limiter.h"

namespace svcd::reconciler {

struct WorkQueueOptions {
  // Name passed to every metrics call, such as "servicedeploy". May be empty.
  std::string name;

  // Receives depth, adds, retries, queue latency and work duration. Not
  // owned, and it must outlive the queue. nullptr drops the events.
  WorkQueueMetrics* metrics = nullptr;

  // Decides the delay of AddRateLimited. nullptr means
  // DefaultControllerRateLimiter(clock).
  std::unique_ptr<RateLimiter> rate_limiter;
};

// A de-duplicating queue of string keys with delayed and rate-limited adds.
//
// A key is in at most one of three places: waiting (queued and not yet handed
// out), processing (handed out by Get and not yet passed to Done), or
// neither. The rules that follow from that:
//   - Add of a waiting key does nothing, so a burst of changes to one object
//     costs one reconcile.
//   - Get never hands out a key that is processing, so no two workers ever
//     hold the same key.
//   - Add of a processing key marks it dirty. Done then queues it again, so
//     a change that raced with the reconcile is not lost.
// Keys leave in the order they were first queued.
//
// Delayed adds (AddAfter, AddRateLimited) wait in a set ordered by due time,
// on the Clock given to the constructor. A key has at most one pending delayed
// add, and a second AddAfter keeps the earlier due time. Due keys are moved
// into the queue whenever Get or Len runs, so a Get blocked on an empty queue
// wakes up at the next due time.
//
// Thread-safety: every method may be called from any thread.
class WorkQueue {
 public:
  // `clock` must outlive the queue.
  WorkQueue(Clock& clock, WorkQueueOptions options);
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // Queues `key` unless it is already waiting. Ignored after ShutDown.
  void Add(const std::string& key);

  // Queues `key` once `delay` has passed on the clock. A delay of zero or less
  // is a plain Add. Ignored after ShutDown.
  void AddAfter(const std::string& key, Duration delay);

  // Queues `key` after the delay the rate limiter returns for it, which also
  // counts one more retry of the key. Ignored after ShutDown.
  void AddRateLimited(const std::string& key);

  // Resets the rate limiter's memory of `key`. It does not remove the key from
  // the queue.
  void Forget(const std::string& key);

  // Returns the rate limiter's retry count for `key`.
  int NumRequeues(const std::string& key);

  // Blocks until a key is ready and hands it out. The caller must pass it to
  // Done when finished. Returns Unavailable once ShutDown was called and no
  // ready key is left.
  StatusOr<std::string> Get();

  // Like Get(), but returns DeadlineExceeded when no key becomes ready within
  // `timeout` on the clock. A zero or negative timeout never blocks.
  StatusOr<std::string> Get(Duration timeout);

  // Marks `key`, which Get handed out, as finished, and queues it again if it
  // was added while processing. A key that is not processing is ignored.
  void Done(const std::string& key);

  // Stops accepting keys and wakes every blocked Get. Keys already waiting are
  // still handed out (the queue drains), and dirty keys are still queued by
  // Done. Pending delayed adds are dropped. Calling it again does nothing.
  void ShutDown();

  // Returns true after ShutDown.
  bool ShuttingDown() const;

  // Returns the number of keys ready to be handed out, after moving due
  // delayed keys into the queue. Keys processing or delayed are not counted.
  std::size_t Len();

  // Returns the number of pending delayed adds.
  std::size_t NumDelayed() const;

 private:
  void AddLocked(const std::string& key, TimePoint now);
  void MoveDueKeysLocked(TimePoint now);
  StatusOr<std::string> TakeLocked(TimePoint now);
  StatusOr<std::string> GetUntil(TimePoint deadline);

  Clock& clock_;
  const std::string name_;
  WorkQueueMetrics* const metrics_;  // never null
  const std::unique_ptr<RateLimiter> rate_limiter_;

  mutable std::mutex mu_;
  // Notified when a key becomes ready, a delayed add is scheduled, or the
  // queue shuts down.
  std::condition_variable changed_;
  // Guarded by mu_:
  std::deque<std::string> ready_;               // waiting keys, in order
  std::unordered_set<std::string> dirty_;       // waiting keys, or processing keys added again
  std::unordered_set<std::string> processing_;  // keys between Get and Done
  std::unordered_map<std::string, TimePoint> queued_at_;    // when a ready key was queued
  std::unordered_map<std::string, TimePoint> started_at_;   // when Get handed out a key
  std::set<std::pair<TimePoint, std::string>> delayed_;     // pending delayed adds by due time
  std::unordered_map<std::string, TimePoint> delayed_due_;  // due time of each delayed key
  bool shutting_down_ = false;
};

}  // namespace svcd::reconciler

#endif  // SVCD_RECONCILER_WORK_QUEUE_H_
