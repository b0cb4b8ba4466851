#include "reconciler/work_queue.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "reconciler/fake_clock.h"
#include "tests/reconciler/test_util.h"

namespace svcd::reconciler {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::kRealLimit;
using testing::RecordingQueueMetrics;

class WorkQueueTest : public ::testing::Test {
 protected:
  // A queue with a plain 5 ms to 1000 s backoff, so delays do not depend on
  // the shared token bucket.
  std::unique_ptr<WorkQueue> MakeQueue() {
    WorkQueueOptions options;
    options.name = "test";
    options.metrics = &metrics_;
    options.rate_limiter =
        ExponentialBackoffRateLimiter::Create(milliseconds(5), seconds(1000)).value();
    return std::make_unique<WorkQueue>(clock_, std::move(options));
  }

  // Takes a key without blocking and fails the test when none is ready.
  static std::string MustGet(WorkQueue& queue) {
    StatusOr<std::string> key = queue.Get(Duration::zero());
    EXPECT_TRUE(key.ok()) << key.status().ToString();
    return key.ok() ? *key : "";
  }

  FakeClock clock_;
  RecordingQueueMetrics metrics_;
};

TEST_F(WorkQueueTest, DeduplicatesPendingKey) {
  auto queue = MakeQueue();

  queue->Add("ns/a");
  queue->Add("ns/a");
  queue->Add("ns/b");
  queue->Add("ns/a");

  EXPECT_EQ(queue->Len(), 2u);
  EXPECT_EQ(metrics_.adds(), 2);
  EXPECT_EQ(metrics_.depth(), 2u);
  EXPECT_EQ(MustGet(*queue), "ns/a");
  EXPECT_EQ(MustGet(*queue), "ns/b");
  EXPECT_EQ(queue->Get(Duration::zero()).status().code(), Code::kDeadlineExceeded);
}

TEST_F(WorkQueueTest, HandsOutKeysInFirstAddOrder) {
  auto queue = MakeQueue();
  for (const char* key : {"c", "a", "b", "a", "c"}) {
    queue->Add(key);
  }

  EXPECT_EQ(MustGet(*queue), "c");
  EXPECT_EQ(MustGet(*queue), "a");
  EXPECT_EQ(MustGet(*queue), "b");
}

TEST_F(WorkQueueTest, HoldsBackKeyWhileProcessing) {
  auto queue = MakeQueue();
  queue->Add("a");
  ASSERT_EQ(MustGet(*queue), "a");

  queue->Add("a");
  queue->Add("a");

  EXPECT_EQ(queue->Len(), 0u);
  EXPECT_EQ(queue->Get(Duration::zero()).status().code(), Code::kDeadlineExceeded);
}

TEST_F(WorkQueueTest, RequeuesKeyDirtiedDuringProcessing) {
  auto queue = MakeQueue();
  queue->Add("a");
  ASSERT_EQ(MustGet(*queue), "a");
  queue->Add("a");

  queue->Done("a");

  EXPECT_EQ(queue->Len(), 1u);
  EXPECT_EQ(MustGet(*queue), "a");
  queue->Done("a");
  EXPECT_EQ(queue->Len(), 0u);
}

TEST_F(WorkQueueTest, DoneWithoutChangeDoesNotRequeue) {
  auto queue = MakeQueue();
  queue->Add("a");
  ASSERT_EQ(MustGet(*queue), "a");

  queue->Done("a");
  queue->Done("a");
  queue->Done("never-added");

  EXPECT_EQ(queue->Len(), 0u);
}

TEST_F(WorkQueueTest, AddAfterWaitsForClock) {
  auto queue = MakeQueue();

  queue->AddAfter("a", seconds(1));

  EXPECT_EQ(queue->Len(), 0u);
  EXPECT_EQ(queue->NumDelayed(), 1u);
  clock_.Advance(milliseconds(999));
  EXPECT_EQ(queue->Len(), 0u);
  clock_.Advance(milliseconds(1));
  EXPECT_EQ(queue->Len(), 1u);
  EXPECT_EQ(queue->NumDelayed(), 0u);
  EXPECT_EQ(MustGet(*queue), "a");
}

TEST_F(WorkQueueTest, AddAfterKeepsEarliestDueTime) {
  auto queue = MakeQueue();

  queue->AddAfter("a", seconds(10));
  queue->AddAfter("a", seconds(2));
  queue->AddAfter("a", seconds(5));

  EXPECT_EQ(queue->NumDelayed(), 1u);
  clock_.Advance(seconds(2));
  EXPECT_EQ(queue->Len(), 1u);
  EXPECT_EQ(MustGet(*queue), "a");
  queue->Done("a");
  clock_.Advance(seconds(10));
  EXPECT_EQ(queue->Len(), 0u);
}

TEST_F(WorkQueueTest, AddAfterWithoutDelayAddsAtOnce) {
  auto queue = MakeQueue();

  queue->AddAfter("a", Duration::zero());
  queue->AddAfter("b", -seconds(1));

  EXPECT_EQ(queue->Len(), 2u);
  EXPECT_EQ(queue->NumDelayed(), 0u);
}

TEST_F(WorkQueueTest, DelayedKeyDeduplicatesWithReadyKey) {
  auto queue = MakeQueue();
  queue->Add("a");
  queue->AddAfter("a", seconds(1));

  clock_.Advance(seconds(1));

  EXPECT_EQ(queue->Len(), 1u);
}

TEST_F(WorkQueueTest, BlockedGetWakesWhenDelayedKeyIsDue) {
  auto queue = MakeQueue();
  StatusOr<std::string> got = Status::Internal("Get did not return");

  std::thread worker([&] { got = queue->Get(); });
  ASSERT_TRUE(clock_.WaitForWaiters(1, kRealLimit));
  queue->AddAfter("a", seconds(30));
  clock_.Advance(seconds(30));
  worker.join();

  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, "a");
}

TEST_F(WorkQueueTest, GetTimesOutOnClock) {
  auto queue = MakeQueue();
  StatusOr<std::string> got = std::string("not set");

  std::thread worker([&] { got = queue->Get(seconds(5)); });
  ASSERT_TRUE(clock_.WaitForWaiters(1, kRealLimit));
  clock_.Advance(seconds(5));
  worker.join();

  EXPECT_EQ(got.status().code(), Code::kDeadlineExceeded);
}

TEST_F(WorkQueueTest, ShutDownUnblocksGet) {
  auto queue = MakeQueue();
  StatusOr<std::string> first = std::string("not set");
  StatusOr<std::string> second = std::string("not set");

  std::thread worker1([&] { first = queue->Get(); });
  std::thread worker2([&] { second = queue->Get(); });
  ASSERT_TRUE(clock_.WaitForWaiters(2, kRealLimit));
  queue->ShutDown();
  worker1.join();
  worker2.join();

  EXPECT_EQ(first.status().code(), Code::kUnavailable);
  EXPECT_EQ(second.status().code(), Code::kUnavailable);
  EXPECT_TRUE(queue->ShuttingDown());
}

TEST_F(WorkQueueTest, ShutDownDrainsReadyKeys) {
  auto queue = MakeQueue();
  queue->Add("a");
  queue->Add("b");
  queue->AddAfter("delayed", seconds(1));

  queue->ShutDown();
  clock_.Advance(seconds(2));

  EXPECT_EQ(queue->NumDelayed(), 0u);
  EXPECT_EQ(MustGet(*queue), "a");
  EXPECT_EQ(MustGet(*queue), "b");
  EXPECT_EQ(queue->Get().status().code(), Code::kUnavailable);
}

TEST_F(WorkQueueTest, ShutDownIgnoresNewKeys) {
  auto queue = MakeQueue();
  queue->ShutDown();

  queue->Add("a");
  queue->AddAfter("b", seconds(1));
  queue->AddRateLimited("c");
  clock_.Advance(seconds(2));

  EXPECT_EQ(queue->Len(), 0u);
  EXPECT_EQ(queue->NumDelayed(), 0u);
  EXPECT_EQ(queue->NumRequeues("c"), 0);
  EXPECT_EQ(metrics_.adds(), 0);
  EXPECT_EQ(metrics_.retries(), 0);
  EXPECT_EQ(queue->Get().status().code(), Code::kUnavailable);
}

TEST_F(WorkQueueTest, DoneAfterShutDownStillRequeuesDirtyKey) {
  auto queue = MakeQueue();
  queue->Add("a");
  ASSERT_EQ(MustGet(*queue), "a");
  queue->Add("a");

  queue->ShutDown();
  queue->Done("a");

  EXPECT_EQ(MustGet(*queue), "a");
  EXPECT_EQ(queue->Get().status().code(), Code::kUnavailable);
}

TEST_F(WorkQueueTest, AddRateLimitedBacksOffUntilForget) {
  auto queue = MakeQueue();

  // The 1st retry waits 5 ms, the 2nd 10 ms.
  queue->AddRateLimited("a");
  clock_.Advance(milliseconds(4));
  EXPECT_EQ(queue->Len(), 0u);
  clock_.Advance(milliseconds(1));
  ASSERT_EQ(MustGet(*queue), "a");
  queue->AddRateLimited("a");
  queue->Done("a");
  clock_.Advance(milliseconds(9));
  EXPECT_EQ(queue->Len(), 0u);
  clock_.Advance(milliseconds(1));
  ASSERT_EQ(MustGet(*queue), "a");
  EXPECT_EQ(queue->NumRequeues("a"), 2);
  EXPECT_EQ(metrics_.retries(), 2);

  // Forget resets the backoff, so the next retry waits 5 ms again.
  queue->Forget("a");
  queue->Done("a");
  EXPECT_EQ(queue->NumRequeues("a"), 0);
  queue->AddRateLimited("a");
  clock_.Advance(milliseconds(5));
  EXPECT_EQ(queue->Len(), 1u);
}

TEST_F(WorkQueueTest, ReportsLatencyAndWorkDuration) {
  auto queue = MakeQueue();
  queue->Add("a");
  clock_.Advance(seconds(2));
  ASSERT_EQ(MustGet(*queue), "a");
  clock_.Advance(seconds(3));

  queue->Done("a");

  ASSERT_EQ(metrics_.latencies().size(), 1u);
  EXPECT_EQ(metrics_.latencies()[0], seconds(2));
  ASSERT_EQ(metrics_.work_durations().size(), 1u);
  EXPECT_EQ(metrics_.work_durations()[0], seconds(3));
  EXPECT_EQ(metrics_.depth(), 0u);
}

TEST_F(WorkQueueTest, NeverHandsOneKeyToTwoWorkers) {
  auto queue = MakeQueue();
  constexpr int kWorkers = 4;
  constexpr int kRounds = 20000;
  const std::vector<std::string> keys = {"a", "b", "c"};
  std::mutex mu;
  std::condition_variable progressed;
  std::map<std::string, int> holders;  // guarded by mu
  int overlaps = 0;                    // guarded by mu
  int processed = 0;                   // guarded by mu

  std::vector<std::thread> workers;
  for (int i = 0; i < kWorkers; ++i) {
    workers.emplace_back([&] {
      while (true) {
        StatusOr<std::string> key = queue->Get();
        if (!key.ok()) {
          return;
        }
        {
          std::lock_guard<std::mutex> guard(mu);
          if (++holders[*key] > 1) {
            ++overlaps;
          }
        }
        // Add the key again while holding it, which a correct queue defers.
        queue->Add(*key);
        std::this_thread::yield();
        {
          std::lock_guard<std::mutex> guard(mu);
          --holders[*key];
          ++processed;
          progressed.notify_all();
        }
        queue->Done(*key);
      }
    });
  }
  for (int round = 0; round < kRounds; ++round) {
    queue->Add(keys[round % keys.size()]);
  }
  bool finished;
  {
    std::unique_lock<std::mutex> lock(mu);
    finished = progressed.wait_for(lock, kRealLimit, [&] { return processed >= kRounds; });
  }
  queue->ShutDown();
  for (std::thread& worker : workers) {
    worker.join();
  }

  EXPECT_TRUE(finished);
  EXPECT_EQ(overlaps, 0);
}

}  // namespace
}  // namespace svcd::reconciler
