#include "reconciler/rate_limiter.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <string>

#include "reconciler/fake_clock.h"

namespace svcd::reconciler {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

std::unique_ptr<ExponentialBackoffRateLimiter> MakeBackoff(Duration base, Duration max) {
  auto limiter = ExponentialBackoffRateLimiter::Create(base, max);
  EXPECT_TRUE(limiter.ok()) << limiter.status().ToString();
  return std::move(limiter).value();
}

std::unique_ptr<TokenBucketRateLimiter> MakeBucket(double qps, int burst, Clock& clock) {
  auto limiter = TokenBucketRateLimiter::Create(qps, burst, clock);
  EXPECT_TRUE(limiter.ok()) << limiter.status().ToString();
  return std::move(limiter).value();
}

TEST(ExponentialBackoffRateLimiterTest, DoublesFromBaseUpToCap) {
  auto limiter = MakeBackoff(milliseconds(5), seconds(1000));

  // 5 ms * 2^17 = 655.36 s is the last delay under the cap, and 2^18 passes it.
  Duration expected = milliseconds(5);
  for (int i = 0; i < 18; ++i) {
    ASSERT_EQ(limiter->When("ns/a"), expected) << "retry " << i;
    expected *= 2;
  }
  for (int i = 18; i < 100; ++i) {
    ASSERT_EQ(limiter->When("ns/a"), seconds(1000)) << "retry " << i;
  }
  EXPECT_EQ(limiter->NumRequeues("ns/a"), 100);
}

TEST(ExponentialBackoffRateLimiterTest, StartsWithFiveTenTwentyMilliseconds) {
  auto limiter = MakeBackoff(kDefaultBackoffBase, kDefaultBackoffMax);

  EXPECT_EQ(limiter->When("k"), milliseconds(5));
  EXPECT_EQ(limiter->When("k"), milliseconds(10));
  EXPECT_EQ(limiter->When("k"), milliseconds(20));
  EXPECT_EQ(limiter->When("k"), milliseconds(40));
}

TEST(ExponentialBackoffRateLimiterTest, ForgetResetsBackoff) {
  auto limiter = MakeBackoff(milliseconds(5), seconds(1000));
  limiter->When("k");
  limiter->When("k");
  limiter->When("k");
  ASSERT_EQ(limiter->NumRequeues("k"), 3);

  limiter->Forget("k");

  EXPECT_EQ(limiter->NumRequeues("k"), 0);
  EXPECT_EQ(limiter->When("k"), milliseconds(5));
}

TEST(ExponentialBackoffRateLimiterTest, KeysBackOffIndependently) {
  auto limiter = MakeBackoff(milliseconds(5), seconds(1000));
  limiter->When("a");
  limiter->When("a");

  EXPECT_EQ(limiter->When("b"), milliseconds(5));
  EXPECT_EQ(limiter->NumRequeues("a"), 2);
  EXPECT_EQ(limiter->NumRequeues("b"), 1);
  EXPECT_EQ(limiter->NumRequeues("never-seen"), 0);
}

TEST(ExponentialBackoffRateLimiterTest, RejectsInvalidBounds) {
  auto zero_base = ExponentialBackoffRateLimiter::Create(Duration::zero(), seconds(1));
  EXPECT_EQ(zero_base.status().code(), Code::kInvalidArgument);
  EXPECT_NE(zero_base.status().message().find("base"), std::string::npos);

  auto max_below_base = ExponentialBackoffRateLimiter::Create(seconds(2), seconds(1));
  EXPECT_EQ(max_below_base.status().code(), Code::kInvalidArgument);
  EXPECT_NE(max_below_base.status().message().find("max"), std::string::npos);
}

TEST(TokenBucketRateLimiterTest, AllowsBurstThenPacesAtQps) {
  FakeClock clock;
  auto limiter = MakeBucket(10, 100, clock);

  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(limiter->When("k" + std::to_string(i)), Duration::zero()) << "call " << i;
  }

  // Each call past the burst reserves the next token, 100 ms apart at 10 qps.
  EXPECT_EQ(limiter->When("x"), milliseconds(100));
  EXPECT_EQ(limiter->When("y"), milliseconds(200));
  EXPECT_EQ(limiter->When("z"), milliseconds(300));
}

TEST(TokenBucketRateLimiterTest, RefillsWithClockTime) {
  FakeClock clock;
  auto limiter = MakeBucket(10, 100, clock);
  for (int i = 0; i < 102; ++i) {
    limiter->When("k");
  }

  // One second adds 10 tokens to a balance of -2, leaving 8 free calls.
  clock.Advance(seconds(1));
  for (int i = 0; i < 8; ++i) {
    ASSERT_EQ(limiter->When("k"), Duration::zero()) << "call " << i;
  }
  EXPECT_EQ(limiter->When("k"), milliseconds(100));
}

TEST(TokenBucketRateLimiterTest, RefillStopsAtBurst) {
  FakeClock clock;
  auto limiter = MakeBucket(10, 5, clock);
  for (int i = 0; i < 5; ++i) {
    limiter->When("k");
  }

  clock.Advance(std::chrono::hours(1));

  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(limiter->When("k"), Duration::zero()) << "call " << i;
  }
  EXPECT_EQ(limiter->When("k"), milliseconds(100));
}

TEST(TokenBucketRateLimiterTest, KeepsNoPerKeyState) {
  FakeClock clock;
  auto limiter = MakeBucket(1, 1, clock);
  limiter->When("k");
  limiter->When("k");

  EXPECT_EQ(limiter->NumRequeues("k"), 0);
  limiter->Forget("k");
  EXPECT_EQ(limiter->When("k"), seconds(2));
}

TEST(TokenBucketRateLimiterTest, RejectsInvalidSettings) {
  FakeClock clock;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double infinity = std::numeric_limits<double>::infinity();

  for (double qps : {0.0, -1.0, nan, infinity}) {
    auto limiter = TokenBucketRateLimiter::Create(qps, 10, clock);
    EXPECT_EQ(limiter.status().code(), Code::kInvalidArgument) << "qps " << qps;
    EXPECT_NE(limiter.status().message().find("qps"), std::string::npos);
  }
  auto no_burst = TokenBucketRateLimiter::Create(10, 0, clock);
  EXPECT_EQ(no_burst.status().code(), Code::kInvalidArgument);
  EXPECT_NE(no_burst.status().message().find("burst"), std::string::npos);
}

TEST(MaxOfRateLimiterTest, ReturnsLongestDelay) {
  FakeClock clock;
  std::vector<std::unique_ptr<RateLimiter>> parts;
  parts.push_back(MakeBackoff(milliseconds(5), seconds(1000)));
  parts.push_back(MakeBucket(1, 1, clock));
  auto limiter = MaxOfRateLimiter::Create(std::move(parts));
  ASSERT_TRUE(limiter.ok()) << limiter.status().ToString();

  // The bucket has a token for the first call, so the backoff decides.
  EXPECT_EQ((*limiter)->When("k"), milliseconds(5));
  // The bucket is empty for the second call and waits a full second.
  EXPECT_EQ((*limiter)->When("k"), seconds(1));
  EXPECT_EQ((*limiter)->NumRequeues("k"), 2);

  (*limiter)->Forget("k");
  EXPECT_EQ((*limiter)->NumRequeues("k"), 0);
}

TEST(MaxOfRateLimiterTest, RejectsEmptyOrNullLimiters) {
  auto empty = MaxOfRateLimiter::Create({});
  EXPECT_EQ(empty.status().code(), Code::kInvalidArgument);

  std::vector<std::unique_ptr<RateLimiter>> with_null;
  with_null.push_back(MakeBackoff(milliseconds(5), seconds(1)));
  with_null.push_back(nullptr);
  auto null_part = MaxOfRateLimiter::Create(std::move(with_null));
  EXPECT_EQ(null_part.status().code(), Code::kInvalidArgument);
  EXPECT_NE(null_part.status().message().find("limiters[1]"), std::string::npos);
}

TEST(DefaultControllerRateLimiterTest, CombinesBackoffAndBucket) {
  FakeClock clock;
  auto limiter = DefaultControllerRateLimiter(clock);

  EXPECT_EQ(limiter->When("a"), milliseconds(5));
  EXPECT_EQ(limiter->When("a"), milliseconds(10));

  // 98 more calls empty the burst of 100. The next call on a fresh key waits
  // for the bucket (100 ms at 10 qps), longer than its 5 ms backoff.
  for (int i = 0; i < 98; ++i) {
    limiter->When("other" + std::to_string(i));
  }
  EXPECT_EQ(limiter->When("fresh"), milliseconds(100));
}

}  // namespace
}  // namespace svcd::reconciler
