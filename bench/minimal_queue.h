// The baseline of the throughput benchmark: the least a work queue needs.

#ifndef SVCD_BENCH_MINIMAL_QUEUE_H_
#define SVCD_BENCH_MINIMAL_QUEUE_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "reconciler/clock.h"

namespace svcd::bench {

// A de-duplicating FIFO of keys (std::deque, a mutex, a condition variable
// and a set of waiting keys) drained by worker threads that call one
// handler per key. It has none of reconciler::WorkQueue's other features:
// no rate limits, no delayed adds, no dirty marking of keys in progress,
// no metrics, no timeouts.
//
// Thread-safety: every method may be called from any thread.
class MinimalQueue {
 public:
  using Handler = std::function<void(const std::string& key)>;

  // Starts `workers` threads that call `handler` for each key. `clock` must
  // outlive the queue.
  MinimalQueue(int workers, Handler handler, reconciler::Clock& clock);
  // Stops the workers once the keys already queued are handled.
  ~MinimalQueue();

  MinimalQueue(const MinimalQueue&) = delete;
  MinimalQueue& operator=(const MinimalQueue&) = delete;

  // Queues `key` unless it is already waiting.
  void Add(const std::string& key);

  // Waits until `count` handler calls have returned since the queue was
  // built, or `timeout` passes on the clock. Returns whether the count was
  // reached.
  bool WaitForHandled(uint64_t count, std::chrono::milliseconds timeout);

 private:
  void RunWorker();

  const Handler handler_;
  reconciler::Clock& clock_;

  std::mutex mu_;
  std::condition_variable work_;        // a key was added, or the queue stops
  std::condition_variable handled_cv_;  // a handler call returned
  // Guarded by mu_:
  std::deque<std::string> ready_;
  std::unordered_set<std::string> waiting_;
  uint64_t handled_ = 0;
  bool stopping_ = false;

  std::vector<std::thread> threads_;
};

}  // namespace svcd::bench

#endif  // SVCD_BENCH_MINIMAL_QUEUE_H_
