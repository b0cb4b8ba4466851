#include "reconciler/clock.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "reconciler/fake_clock.h"
#include "tests/reconciler/test_util.h"

namespace svcd::reconciler {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::kRealLimit;

TEST(DeadlineAfterTest, SaturatesInsteadOfOverflowing) {
  const TimePoint now = TimePoint(hours(1));

  EXPECT_EQ(DeadlineAfter(now, seconds(5)), now + seconds(5));
  EXPECT_EQ(DeadlineAfter(now, Duration::max()), TimePoint::max());
  EXPECT_EQ(DeadlineAfter(now, -seconds(5)), now - seconds(5));
  EXPECT_EQ(DeadlineAfter(TimePoint(-hours(1)), Duration::min()), TimePoint::min());
}

TEST(FakeClockTest, AdvanceMovesBothClocks) {
  FakeClock clock;
  const TimePoint start = clock.Now();
  const WallTime wall_start = clock.WallNow();

  clock.Advance(seconds(90));

  EXPECT_EQ(clock.Now() - start, seconds(90));
  EXPECT_EQ(clock.WallNow() - wall_start, seconds(90));
}

TEST(FakeClockTest, IgnoresNegativeAdvance) {
  FakeClock clock;
  const TimePoint start = clock.Now();

  clock.Advance(-seconds(1));
  clock.Advance(Duration::zero());

  EXPECT_EQ(clock.Now(), start);
}

TEST(FakeClockTest, WaitWithPastDeadlineTimesOutAtOnce) {
  FakeClock clock;
  std::mutex mu;
  std::condition_variable cv;
  std::unique_lock<std::mutex> lock(mu);

  EXPECT_EQ(clock.WaitUntil(lock, cv, clock.Now()), std::cv_status::timeout);
  EXPECT_TRUE(lock.owns_lock());
  EXPECT_EQ(clock.NumWaiters(), 0u);
}

TEST(FakeClockTest, WaitEndsOnlyWhenAdvancedPastDeadline) {
  FakeClock clock;
  std::mutex mu;
  std::condition_variable cv;
  const TimePoint deadline = clock.Now() + seconds(10);
  TimePoint returned_at;
  bool predicate_result = true;

  std::thread waiter([&] {
    std::unique_lock<std::mutex> lock(mu);
    predicate_result = clock.WaitUntil(lock, cv, deadline, [] { return false; });
    returned_at = clock.Now();
  });
  ASSERT_TRUE(clock.WaitForWaiters(1, kRealLimit));

  // A waiter that woke at 9 s would record that time below.
  clock.Advance(seconds(9));
  clock.Advance(seconds(1));
  waiter.join();

  EXPECT_FALSE(predicate_result);
  EXPECT_GE(returned_at, deadline);
  EXPECT_EQ(clock.NumWaiters(), 0u);
}

TEST(FakeClockTest, NotifyEndsWaitBeforeDeadline) {
  FakeClock clock;
  std::mutex mu;
  std::condition_variable cv;
  bool ready = false;
  bool woke_in_time = false;

  std::thread waiter([&] {
    std::unique_lock<std::mutex> lock(mu);
    woke_in_time = clock.WaitUntil(lock, cv, clock.Now() + hours(1), [&] { return ready; });
  });
  ASSERT_TRUE(clock.WaitForWaiters(1, kRealLimit));
  {
    std::lock_guard<std::mutex> guard(mu);
    ready = true;
  }
  cv.notify_all();
  waiter.join();

  EXPECT_TRUE(woke_in_time);
}

TEST(FakeClockTest, SleepUntilReturnsAfterAdvance) {
  FakeClock clock;
  const TimePoint deadline = clock.Now() + milliseconds(500);
  TimePoint woke_at;

  std::thread sleeper([&] {
    clock.SleepUntil(deadline);
    woke_at = clock.Now();
  });
  ASSERT_TRUE(clock.WaitForWaiters(1, kRealLimit));
  clock.Advance(milliseconds(499));
  clock.Advance(milliseconds(1));
  sleeper.join();

  EXPECT_EQ(woke_at, deadline);
}

TEST(FakeClockTest, AdvanceWakesOnlyDueWaiters) {
  FakeClock clock;
  std::mutex mu;
  std::condition_variable cv;
  const TimePoint start = clock.Now();
  TimePoint early_woke_at;
  TimePoint late_woke_at;

  auto wait_until = [&](Duration d, TimePoint* woke_at) {
    std::unique_lock<std::mutex> lock(mu);
    clock.WaitUntil(lock, cv, start + d, [] { return false; });
    *woke_at = clock.Now();
  };
  std::thread early(wait_until, seconds(1), &early_woke_at);
  std::thread late(wait_until, seconds(3), &late_woke_at);
  ASSERT_TRUE(clock.WaitForWaiters(2, kRealLimit));

  clock.Advance(seconds(2));
  early.join();
  clock.Advance(seconds(2));
  late.join();

  EXPECT_EQ(early_woke_at, start + seconds(2));
  EXPECT_EQ(late_woke_at, start + seconds(4));
}

TEST(RealClockTest, WaitTimesOutAtDeadline) {
  RealClock clock;
  std::mutex mu;
  std::condition_variable cv;
  std::unique_lock<std::mutex> lock(mu);
  const TimePoint deadline = clock.Now() + milliseconds(20);

  EXPECT_FALSE(clock.WaitUntil(lock, cv, deadline, [] { return false; }));
  EXPECT_GE(clock.Now(), deadline);
  EXPECT_TRUE(lock.owns_lock());
}

}  // namespace
}  // namespace svcd::reconciler
