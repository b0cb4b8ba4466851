// FakeClock: a Clock whose time moves only when a test calls Advance().

#ifndef SVCD_RECONCILER_FAKE_CLOCK_H_
#define SVCD_RECONCILER_FAKE_CLOCK_H_

#include <condition_variable>
#include <cstddef>
#include <list>
#include <mutex>

#include "reconciler/clock.h"

namespace svcd::reconciler {

// A manually driven clock for tests. Now() starts at an arbitrary fixed
// steady time and WallNow() at `wall_start`, and both move by exactly the
// durations passed to Advance(). Only WaitForWaiters uses real time, to bound
// a broken test.
//
// Timed waits (WaitUntil, SleepUntil) block until Advance() moves the time to
// or past their deadline, or until their condition variable is notified.
// Before Advance() returns, it has notified every waiter whose deadline it
// reached.
//
// Thread-safety: every method may be called from any thread.
class FakeClock final : public Clock {
 public:
  // Starts WallNow() at 2024-01-01T00:00:00Z.
  FakeClock();
  explicit FakeClock(WallTime wall_start);
  FakeClock(const FakeClock&) = delete;
  FakeClock& operator=(const FakeClock&) = delete;

  TimePoint Now() const override;
  WallTime WallNow() const override;
  void SleepUntil(TimePoint deadline) override;

  // Moves both clocks forward by `d` and wakes every waiter whose deadline is
  // now reached. A zero or negative `d` leaves the time unchanged and wakes
  // no waiter, because a fake clock must not go backwards either.
  void Advance(Duration d);

  // Returns the number of threads blocked in WaitUntil or SleepUntil right
  // now, including waits without a deadline.
  std::size_t NumWaiters() const;

  // Blocks until NumWaiters() >= n, so a test can advance the time only once
  // another thread has computed its deadline. Returns false if that takes
  // longer than `real_limit` of real time. The limit only stops a broken test
  // from hanging and plays no part in the fake time.
  bool WaitForWaiters(std::size_t n, std::chrono::milliseconds real_limit) const;

 protected:
  std::cv_status WaitUntilImpl(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                               TimePoint deadline) override;

 private:
  // One thread blocked in WaitUntilImpl on a caller's condition variable.
  struct Waiter {
    std::mutex* mutex;
    std::condition_variable* cv;
    TimePoint deadline;
    // Number of Advance() calls that hold this waiter and are about to lock
    // its mutex. The waiter cannot leave while it is above zero, because its
    // mutex and condition variable could be destroyed once it returns.
    int pending_wakeups = 0;
  };

  mutable std::mutex mu_;
  // Notified when time moves (for SleepUntil), when a pending wakeup ends,
  // and when a thread starts waiting (for WaitForWaiters).
  mutable std::condition_variable changed_;
  TimePoint now_;                 // guarded by mu_
  WallTime wall_now_;             // guarded by mu_
  std::list<Waiter> waiters_;     // guarded by mu_
  std::size_t num_sleepers_ = 0;  // guarded by mu_
};

}  // namespace svcd::reconciler

#endif  // SVCD_RECONCILER_FAKE_CLOCK_H_
