#include "reconciler/clock.h"

#include <thread>

namespace svcd::reconciler {

TimePoint DeadlineAfter(TimePoint now, Duration d) {
  if (d > Duration::zero() && now > TimePoint::max() - d) {
    return TimePoint::max();
  }
  if (d < Duration::zero() && now < TimePoint::min() - d) {
    return TimePoint::min();
  }
  return now + d;
}

TimePoint RealClock::Now() const { return std::chrono::steady_clock::now(); }

WallTime RealClock::WallNow() const { return std::chrono::system_clock::now(); }

void RealClock::SleepUntil(TimePoint deadline) {
  if (deadline == TimePoint::max()) {
    // TimePoint::max() never arrives, and sleep_until could overflow on it.
    while (true) {
      std::this_thread::sleep_for(std::chrono::hours(24));
    }
  }
  std::this_thread::sleep_until(deadline);
}

std::cv_status RealClock::WaitUntilImpl(std::unique_lock<std::mutex>& lock,
                                        std::condition_variable& cv, TimePoint deadline) {
  // Converting TimePoint::max() to an absolute timespec can overflow inside
  // the standard library, so a wait without a deadline uses the untimed wait.
  if (deadline == TimePoint::max()) {
    cv.wait(lock);
    return std::cv_status::no_timeout;
  }
  cv.wait_until(lock, deadline);
  return Now() >= deadline ? std::cv_status::timeout : std::cv_status::no_timeout;
}

}  // namespace svcd::reconciler
