// WorkerPool: a fixed set of threads that run queued tasks, with a bounded
// queue so that a burst of requests cannot grow memory without limit.

#ifndef SVCD_SERVER_WORKER_POOL_H_
#define SVCD_SERVER_WORKER_POOL_H_

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace svcd::server {

class WorkerPool {
 public:
  // Starts `threads` threads (at least 1). At most `max_queued` tasks wait
  // for a free thread (at least 1); tasks already running do not count.
  WorkerPool(size_t threads, size_t max_queued);

  // Calls Shutdown and joins every thread, so it waits for running and
  // queued tasks to return.
  ~WorkerPool();

  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `task`. Returns false, without running it, when the queue is full
  // or the pool is shut down. A task must not throw: an exception escaping
  // it is caught and dropped so that the thread survives. Thread-safe.
  bool TrySubmit(std::function<void()> task);

  // Rejects new tasks from now on. Queued tasks still run. Thread-safe and
  // idempotent; does not wait.
  void Shutdown();

 private:
  void Run();

  const size_t max_queued_;
  std::mutex mutex_;
  std::condition_variable wake_;
  // Guarded by mutex_.
  std::deque<std::function<void()>> queue_;
  bool shut_down_ = false;

  std::vector<std::thread> threads_;
};

}  // namespace svcd::server

#endif  // SVCD_SERVER_WORKER_POOL_H_
