#include "reconciler/fake_clock.h"

#include <vector>

namespace svcd::reconciler {
namespace {

// 2024-01-01T00:00:00Z in seconds since the Unix epoch.
constexpr std::chrono::seconds kDefaultWallStart(1704067200);

// Far enough from the steady epoch that tests can subtract durations freely.
constexpr std::chrono::hours kSteadyStart(1000);

}  // namespace

FakeClock::FakeClock() : FakeClock(WallTime(kDefaultWallStart)) {}

FakeClock::FakeClock(WallTime wall_start) : now_(kSteadyStart), wall_now_(wall_start) {}

TimePoint FakeClock::Now() const {
  std::lock_guard<std::mutex> guard(mu_);
  return now_;
}

WallTime FakeClock::WallNow() const {
  std::lock_guard<std::mutex> guard(mu_);
  return wall_now_;
}

void FakeClock::SleepUntil(TimePoint deadline) {
  std::unique_lock<std::mutex> guard(mu_);
  ++num_sleepers_;
  changed_.notify_all();
  changed_.wait(guard, [&] { return now_ >= deadline; });
  --num_sleepers_;
}

void FakeClock::Advance(Duration d) {
  if (d <= Duration::zero()) {
    return;
  }

  // Move the time and pick the waiters it releases.
  std::vector<std::list<Waiter>::iterator> due;
  {
    std::lock_guard<std::mutex> guard(mu_);
    now_ += d;
    wall_now_ += std::chrono::duration_cast<WallTime::duration>(d);
    for (auto it = waiters_.begin(); it != waiters_.end(); ++it) {
      if (it->deadline <= now_) {
        ++it->pending_wakeups;
        due.push_back(it);
      }
    }
  }
  changed_.notify_all();

  // Notify under each waiter's own mutex, and without holding mu_, which
  // waiters take while they own their mutex. Holding the waiter's mutex means
  // the notification cannot fall between its check of the time and its wait.
  for (auto it : due) {
    std::lock_guard<std::mutex> waiter_guard(*it->mutex);
    it->cv->notify_all();
  }

  // Let the notified waiters leave.
  if (!due.empty()) {
    std::lock_guard<std::mutex> guard(mu_);
    for (auto it : due) {
      --it->pending_wakeups;
    }
  }
  changed_.notify_all();
}

std::size_t FakeClock::NumWaiters() const {
  std::lock_guard<std::mutex> guard(mu_);
  return waiters_.size() + num_sleepers_;
}

bool FakeClock::WaitForWaiters(std::size_t n, std::chrono::milliseconds real_limit) const {
  std::unique_lock<std::mutex> guard(mu_);
  return changed_.wait_for(guard, real_limit, [&] { return waiters_.size() + num_sleepers_ >= n; });
}

std::cv_status FakeClock::WaitUntilImpl(std::unique_lock<std::mutex>& lock,
                                        std::condition_variable& cv, TimePoint deadline) {
  // Register before waiting, with the caller's mutex still owned, so that an
  // Advance() that passes the deadline either happens before the check below
  // or notifies after cv.wait has released the mutex.
  std::list<Waiter>::iterator self;
  {
    std::lock_guard<std::mutex> guard(mu_);
    if (now_ >= deadline) {
      return std::cv_status::timeout;
    }
    self = waiters_.insert(waiters_.end(), Waiter{lock.mutex(), &cv, deadline});
  }
  changed_.notify_all();

  cv.wait(lock);

  // Leave at once unless an Advance() still has to lock our mutex. In that
  // case release the mutex so it can finish, then take it back. Callers see
  // that as one more spurious wakeup.
  std::unique_lock<std::mutex> guard(mu_);
  if (self->pending_wakeups > 0) {
    guard.unlock();
    lock.unlock();
    guard.lock();
    changed_.wait(guard, [&] { return self->pending_wakeups == 0; });
    waiters_.erase(self);
    guard.unlock();
    lock.lock();
    guard.lock();
  } else {
    waiters_.erase(self);
  }
  return now_ >= deadline ? std::cv_status::timeout : std::cv_status::no_timeout;
}

}  // namespace svcd::reconciler
