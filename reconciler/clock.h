// Clock: the only source of time for the work queue, rate limiters and
// controllers, so that their tests can drive time with a FakeClock and never
// sleep.

#ifndef SVCD_RECONCILER_CLOCK_H_
#define SVCD_RECONCILER_CLOCK_H_

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace svcd::reconciler {

using Duration = std::chrono::steady_clock::duration;
using TimePoint = std::chrono::steady_clock::time_point;
using WallTime = std::chrono::system_clock::time_point;

// Returns `now + d`, or TimePoint::max() when the sum would overflow. A
// negative `d` yields a time before `now`. Use it to turn a timeout into a
// deadline, with Duration::max() meaning "no deadline".
TimePoint DeadlineAfter(TimePoint now, Duration d);

// A source of monotonic time, wall time and timed waits.
//
// Thread-safety: every method may be called from any thread at any time.
class Clock {
 public:
  virtual ~Clock() = default;

  // Returns the current monotonic time. It never goes backwards.
  virtual TimePoint Now() const = 0;

  // Returns the current wall-clock time, for timestamps shown to people or
  // stored. Never use it to measure intervals because it can jump.
  virtual WallTime WallNow() const = 0;

  // Blocks the calling thread until Now() >= deadline. Returns at once when
  // the deadline has already passed.
  virtual void SleepUntil(TimePoint deadline) = 0;

  // Blocks on `cv` until it is notified, a spurious wakeup happens, or Now()
  // reaches `deadline`, whichever comes first, like
  // std::condition_variable::wait_until. `lock` must own its mutex on entry.
  // The mutex is released while waiting and owned again on return. Returns
  // std::cv_status::timeout exactly when Now() >= deadline on return.
  // TimePoint::max() waits without a deadline.
  std::cv_status WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                           TimePoint deadline) {
    return WaitUntilImpl(lock, cv, deadline);
  }

  // Waits as above until `predicate()` returns true or the deadline passes.
  // The predicate is evaluated with the mutex owned. Returns the last value of
  // `predicate()`, so false means the deadline passed first.
  template <typename Predicate>
  bool WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                 TimePoint deadline, Predicate predicate) {
    while (!predicate()) {
      if (WaitUntilImpl(lock, cv, deadline) == std::cv_status::timeout) {
        return predicate();
      }
    }
    return true;
  }

 protected:
  // Implements the three-argument WaitUntil with the contract written there.
  virtual std::cv_status WaitUntilImpl(std::unique_lock<std::mutex>& lock,
                                       std::condition_variable& cv, TimePoint deadline) = 0;
};

// The clock of production code: std::chrono::steady_clock for Now() and
// waits, std::chrono::system_clock for WallNow(). It is the only class in svcd
// that reads the system time.
class RealClock final : public Clock {
 public:
  TimePoint Now() const override;
  WallTime WallNow() const override;
  void SleepUntil(TimePoint deadline) override;

 protected:
  std::cv_status WaitUntilImpl(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                               TimePoint deadline) override;
};

}  // namespace svcd::reconciler

#endif  // SVCD_RECONCILER_CLOCK_H_
