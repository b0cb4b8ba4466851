#include "server/worker_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <stdexcept>

namespace svcd::server {
namespace {

TEST(WorkerPoolTest, RunsEveryQueuedTask) {
  std::atomic<int> done{0};
  {
    WorkerPool pool(3, 100);
    for (int i = 0; i < 100; ++i) ASSERT_TRUE(pool.TrySubmit([&done] { ++done; }));
  }  // the destructor waits for queued tasks
  EXPECT_EQ(done.load(), 100);
}

TEST(WorkerPoolTest, RejectsWhenQueueIsFull) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> started;
  WorkerPool pool(1, 2);

  ASSERT_TRUE(pool.TrySubmit([&] {
    started.set_value();
    released.wait();
  }));
  started.get_future().wait();  // the only worker is now busy
  EXPECT_TRUE(pool.TrySubmit([] {}));
  EXPECT_TRUE(pool.TrySubmit([] {}));
  EXPECT_FALSE(pool.TrySubmit([] {}));
  release.set_value();
}

TEST(WorkerPoolTest, SurvivesThrowingTask) {
  WorkerPool pool(1, 10);
  ASSERT_TRUE(pool.TrySubmit([] { throw std::runtime_error("handler bug"); }));
  ASSERT_TRUE(pool.TrySubmit([] { throw 42; }));
  std::promise<void> ran;
  ASSERT_TRUE(pool.TrySubmit([&ran] { ran.set_value(); }));
  EXPECT_EQ(ran.get_future().wait_for(std::chrono::seconds(5)), std::future_status::ready);
}

TEST(WorkerPoolTest, RejectsAfterShutdown) {
  WorkerPool pool(1, 10);
  pool.Shutdown();
  EXPECT_FALSE(pool.TrySubmit([] {}));
}

}  // namespace
}  // namespace svcd::server
