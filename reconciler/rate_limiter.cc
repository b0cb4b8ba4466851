#include "reconciler/rate_limiter.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

namespace svcd::reconciler {
namespace {

std::string FormatDuration(Duration d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count()) + "ns";
}

}  // namespace

StatusOr<std::unique_ptr<ExponentialBackoffRateLimiter>> ExponentialBackoffRateLimiter::Create(
    Duration base, Duration max) {
  if (base <= Duration::zero()) {
    return Status::InvalidArgument("backoff base must be positive, got " + FormatDuration(base));
  }
  if (max < base) {
    return Status::InvalidArgument("backoff max " + FormatDuration(max) +
                                   " must be at least the base " + FormatDuration(base));
  }
  return std::unique_ptr<ExponentialBackoffRateLimiter>(
      new ExponentialBackoffRateLimiter(base, max));
}

Duration ExponentialBackoffRateLimiter::When(const std::string& key) {
  int failures;
  {
    std::lock_guard<std::mutex> guard(mu_);
    int& count = failures_[key];
    failures = count;
    if (count < std::numeric_limits<int>::max()) {
      ++count;
    }
  }

  // Compute in floating point, because base * 2^failures overflows a 64-bit
  // nanosecond count after about 60 doublings.
  const double delay = static_cast<double>(base_.count()) * std::ldexp(1.0, failures);
  if (delay >= static_cast<double>(max_.count())) {
    return max_;
  }
  return Duration(static_cast<Duration::rep>(delay));
}

void ExponentialBackoffRateLimiter::Forget(const std::string& key) {
  std::lock_guard<std::mutex> guard(mu_);
  failures_.erase(key);
}

int ExponentialBackoffRateLimiter::NumRequeues(const std::string& key) {
  std::lock_guard<std::mutex> guard(mu_);
  auto it = failures_.find(key);
  return it == failures_.end() ? 0 : it->second;
}

StatusOr<std::unique_ptr<TokenBucketRateLimiter>> TokenBucketRateLimiter::Create(double qps,
                                                                                 int burst,
                                                                                 Clock& clock) {
  if (!(qps > 0) || !std::isfinite(qps)) {
    return Status::InvalidArgument("token bucket qps must be a positive number, got " +
                                   std::to_string(qps));
  }
  if (burst < 1) {
    return Status::InvalidArgument("token bucket burst must be at least 1, got " +
                                   std::to_string(burst));
  }
  return std::unique_ptr<TokenBucketRateLimiter>(new TokenBucketRateLimiter(qps, burst, clock));
}

TokenBucketRateLimiter::TokenBucketRateLimiter(double qps, int burst, Clock& clock)
    : qps_(qps), burst_(burst), clock_(clock), tokens_(burst), updated_(clock.Now()) {}

Duration TokenBucketRateLimiter::When(const std::string& key) {
  std::lock_guard<std::mutex> guard(mu_);

  // Refill for the time since the last call, up to the burst.
  const TimePoint now = clock_.Now();
  const double elapsed = std::chrono::duration<double>(now - updated_).count();
  if (elapsed > 0) {
    tokens_ = std::min(burst_, tokens_ + elapsed * qps_);
    updated_ = now;
  }

  // Take a token. A negative balance is the queue of reservations ahead of
  // this caller, and the wait is how long the refill takes to cover it.
  tokens_ -= 1;
  if (tokens_ >= 0) {
    return Duration::zero();
  }
  const std::chrono::duration<double> wait(-tokens_ / qps_);
  return std::chrono::ceil<Duration>(wait);
}

StatusOr<std::unique_ptr<MaxOfRateLimiter>> MaxOfRateLimiter::Create(
    std::vector<std::unique_ptr<RateLimiter>> limiters) {
  if (limiters.empty()) {
    return Status::InvalidArgument("max-of rate limiter needs at least one limiter, got none");
  }
  for (std::size_t i = 0; i < limiters.size(); ++i) {
    if (limiters[i] == nullptr) {
      return Status::InvalidArgument("max-of rate limiter: limiters[" + std::to_string(i) +
                                     "] is null. Pass a constructed limiter");
    }
  }
  return std::unique_ptr<MaxOfRateLimiter>(new MaxOfRateLimiter(std::move(limiters)));
}

Duration MaxOfRateLimiter::When(const std::string& key) {
  Duration longest = Duration::zero();
  for (const auto& limiter : limiters_) {
    longest = std::max(longest, limiter->When(key));
  }
  return longest;
}

void MaxOfRateLimiter::Forget(const std::string& key) {
  for (const auto& limiter : limiters_) {
    limiter->Forget(key);
  }
}

int MaxOfRateLimiter::NumRequeues(const std::string& key) {
  int max_requeues = 0;
  for (const auto& limiter : limiters_) {
    max_requeues = std::max(max_requeues, limiter->NumRequeues(key));
  }
  return max_requeues;
}

std::unique_ptr<RateLimiter> DefaultControllerRateLimiter(Clock& clock) {
  // The constants satisfy every Create() check, so value() cannot fail here.
  std::vector<std::unique_ptr<RateLimiter>> limiters;
  limiters.push_back(
      ExponentialBackoffRateLimiter::Create(kDefaultBackoffBase, kDefaultBackoffMax).value());
  limiters.push_back(TokenBucketRateLimiter::Create(kDefaultQps, kDefaultBurst, clock).value());
  return MaxOfRateLimiter::Create(std::move(limiters)).value();
}

}  // namespace svcd::reconciler
