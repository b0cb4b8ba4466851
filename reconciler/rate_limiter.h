// Rate limiters that decide how long a failed key waits before it is retried.

#ifndef SVCD_RECONCILER_RATE_LIMITER_H_
#define SVCD_RECONCILER_RATE_LIMITER_H_

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "api/status.h"
#include "reconciler/clock.h"

namespace svcd::reconciler {

// Decides the delay before a key may be processed again.
//
// Thread-safety: every implementation here may be called from any thread.
class RateLimiter {
 public:
  virtual ~RateLimiter() = default;

  // Records one more retry of `key` and returns how long the caller must wait
  // before processing it again. Never negative.
  virtual Duration When(const std::string& key) = 0;

  // Drops what the limiter remembers about `key`, so its next When() starts
  // from the first delay again. Call it when the key succeeded or was given
  // up. Unknown keys are ignored.
  virtual void Forget(const std::string& key) = 0;

  // Returns how many times When() was called for `key` since it was last
  // forgotten. Limiters that keep no per-key state return 0.
  virtual int NumRequeues(const std::string& key) = 0;
};

// Per-key exponential backoff: the n-th When() for a key (counting from 0)
// returns min(base * 2^n, max). Keys are kept until Forget().
class ExponentialBackoffRateLimiter final : public RateLimiter {
 public:
  // Returns InvalidArgument unless 0 < base <= max.
  static StatusOr<std::unique_ptr<ExponentialBackoffRateLimiter>> Create(Duration base,
                                                                         Duration max);

  Duration When(const std::string& key) override;
  void Forget(const std::string& key) override;
  int NumRequeues(const std::string& key) override;

 private:
  ExponentialBackoffRateLimiter(Duration base, Duration max) : base_(base), max_(max) {}

  const Duration base_;
  const Duration max_;
  std::mutex mu_;
  std::unordered_map<std::string, int> failures_;  // guarded by mu_
};

// One token bucket shared by all keys: it has room for `burst` tokens and
// refills at `qps` tokens per second of Clock time. Each When() takes a token
// and returns 0 while tokens are left. Once they run out it reserves a future
// token and returns the wait until that token exists, so callers that follow
// the delays proceed at `qps` on average. Forget() and NumRequeues() ignore
// keys.
class TokenBucketRateLimiter final : public RateLimiter {
 public:
  // Returns InvalidArgument unless qps > 0 and burst >= 1. `clock` must
  // outlive the limiter. The bucket starts full.
  static StatusOr<std::unique_ptr<TokenBucketRateLimiter>> Create(double qps, int burst,
                                                                  Clock& clock);

  Duration When(const std::string& key) override;
  void Forget(const std::string& key) override {}
  int NumRequeues(const std::string& key) override { return 0; }

 private:
  TokenBucketRateLimiter(double qps, int burst, Clock& clock);

  const double qps_;
  const double burst_;
  Clock& clock_;
  std::mutex mu_;
  // Tokens at `updated_`. Negative after reservations of future tokens.
  double tokens_;      // guarded by mu_
  TimePoint updated_;  // guarded by mu_
};

// Combines limiters. When() calls When() on each one, so each records the
// retry, and returns the longest delay. Forget() calls Forget() on every
// one, and NumRequeues() returns the maximum over all of them.
class MaxOfRateLimiter final : public RateLimiter {
 public:
  // Returns InvalidArgument when `limiters` is empty or contains a null
  // pointer.
  static StatusOr<std::unique_ptr<MaxOfRateLimiter>> Create(
      std::vector<std::unique_ptr<RateLimiter>> limiters);

  Duration When(const std::string& key) override;
  void Forget(const std::string& key) override;
  int NumRequeues(const std::string& key) override;

 private:
  explicit MaxOfRateLimiter(std::vector<std::unique_ptr<RateLimiter>> limiters)
      : limiters_(std::move(limiters)) {}

  const std::vector<std::unique_ptr<RateLimiter>> limiters_;
};

// Defaults of DefaultControllerRateLimiter.
inline constexpr Duration kDefaultBackoffBase = std::chrono::milliseconds(5);
inline constexpr Duration kDefaultBackoffMax = std::chrono::seconds(1000);
inline constexpr double kDefaultQps = 10;
inline constexpr int kDefaultBurst = 100;

// Returns the limiter a controller uses when none is configured: the maximum
// of a per-key backoff from 5 ms doubling up to 1000 s and an overall bucket
// of 10 qps with a burst of 100. client-go's
// workqueue.DefaultControllerRateLimiter, which controller-runtime uses by
// default, has the same values. `clock` must outlive the limiter.
std::unique_ptr<RateLimiter> DefaultControllerRateLimiter(Clock& clock);

}  // namespace svcd::reconciler

#endif  // SVCD_RECONCILER_RATE_LIMITER_H_
