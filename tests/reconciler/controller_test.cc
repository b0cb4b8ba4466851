#include "reconciler/controller.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "reconciler/fake_clock.h"
#include "tests/reconciler/test_util.h"

namespace svcd::reconciler {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using testing::EventCounter;
using testing::Gate;
using testing::RecordingControllerMetrics;

// A reconciler that runs a test-supplied body and records, per key, how many
// calls started and how often two calls for one key overlapped.
class ScriptedReconciler final : public Reconciler {
 public:
  // `call` counts the calls for this key, starting at 1.
  using Body = std::function<Result(const std::string& key, const Context& ctx, int call)>;

  explicit ScriptedReconciler(Body body) : body_(std::move(body)) {}

  Result Reconcile(const std::string& key, const Context& ctx) override {
    int call;
    {
      std::lock_guard<std::mutex> guard(mu_);
      call = ++calls_[key];
      if (++running_[key] > 1) {
        ++overlaps_;
      }
    }
    started.Increment(key);
    Result result = Result::Done();
    try {
      result = body_(key, ctx, call);
    } catch (...) {
      Finish(key);
      throw;
    }
    Finish(key);
    return result;
  }

  int calls(const std::string& key) const {
    std::lock_guard<std::mutex> guard(mu_);
    auto it = calls_.find(key);
    return it == calls_.end() ? 0 : it->second;
  }

  int overlaps() const {
    std::lock_guard<std::mutex> guard(mu_);
    return overlaps_;
  }

  // Counts started calls by key.
  EventCounter started;

 private:
  void Finish(const std::string& key) {
    std::lock_guard<std::mutex> guard(mu_);
    --running_[key];
  }

  const Body body_;
  mutable std::mutex mu_;
  std::map<std::string, int> calls_;    // guarded by mu_
  std::map<std::string, int> running_;  // guarded by mu_
  int overlaps_ = 0;                    // guarded by mu_
};

class ControllerTest : public ::testing::Test {
 protected:
  ControllerOptions BaseOptions() {
    ControllerOptions options;
    options.name = "test";
    options.resync_period = Duration::zero();
    options.metrics = &metrics_;
    return options;
  }

  std::unique_ptr<Controller> StartController(ControllerOptions options, Reconciler& reconciler) {
    auto controller = Controller::Create(std::move(options), reconciler, clock_);
    EXPECT_TRUE(controller.ok()) << controller.status().ToString();
    if (!controller.ok()) {
      return nullptr;
    }
    Status started = (*controller)->Start();
    EXPECT_TRUE(started.ok()) << started.ToString();
    return std::move(controller).value();
  }

  FakeClock clock_;
  RecordingControllerMetrics metrics_;
};

TEST_F(ControllerTest, RejectsInvalidOptions) {
  ScriptedReconciler reconciler([](auto&, auto&, int) { return Result::Done(); });
  struct Case {
    std::string field;
    std::function<void(ControllerOptions&)> change;
  };
  const std::vector<Case> cases = {
      {"options.name", [](ControllerOptions& o) { o.name = ""; }},
      {"options.workers", [](ControllerOptions& o) { o.workers = 0; }},
      {"options.workers", [](ControllerOptions& o) { o.workers = kMaxWorkers + 1; }},
      {"options.reconcile_timeout",
       [](ControllerOptions& o) { o.reconcile_timeout = -seconds(1); }},
      {"options.resync_period", [](ControllerOptions& o) { o.resync_period = -seconds(1); }},
      {"options.resync_jitter", [](ControllerOptions& o) { o.resync_jitter = -0.1; }},
      {"options.resync_jitter", [](ControllerOptions& o) { o.resync_jitter = 1.5; }},
      {"options.lister", [](ControllerOptions& o) { o.resync_period = minutes(1); }},
  };

  for (const Case& c : cases) {
    ControllerOptions options = BaseOptions();
    c.change(options);
    auto controller = Controller::Create(std::move(options), reconciler, clock_);
    EXPECT_EQ(controller.status().code(), Code::kInvalidArgument) << c.field;
    EXPECT_NE(controller.status().message().find(c.field), std::string::npos)
        << c.field << " not named in: " << controller.status().message();
  }
}

TEST_F(ControllerTest, ReconcilesAddedKey) {
  ScriptedReconciler reconciler([](auto&, auto&, int) { return Result::Done(); });
  auto controller = StartController(BaseOptions(), reconciler);
  ASSERT_NE(controller, nullptr);

  controller->Enqueue("ns/a");

  ASSERT_TRUE(metrics_.events.WaitFor("success", 1));
  EXPECT_EQ(reconciler.calls("ns/a"), 1);
  EXPECT_TRUE(controller->Stop(minutes(1)).ok());
}

TEST_F(ControllerTest, StartTwiceFails) {
  ScriptedReconciler reconciler([](auto&, auto&, int) { return Result::Done(); });
  auto controller = StartController(BaseOptions(), reconciler);
  ASSERT_NE(controller, nullptr);

  EXPECT_EQ(controller->Start().code(), Code::kFailedPrecondition);
  ASSERT_TRUE(controller->Stop(minutes(1)).ok());
  EXPECT_EQ(controller->Start().code(), Code::kFailedPrecondition);
}

TEST_F(ControllerTest, NeverRunsOneKeyOnTwoWorkers) {
  Gate release_a;
  ScriptedReconciler reconciler([&](const std::string& key, auto&, int call) {
    if (key == "a" && call == 1) {
      release_a.Pass();
    }
    return Result::Done();
  });
  ControllerOptions options = BaseOptions();
  options.workers = 4;
  auto controller = StartController(std::move(options), reconciler);
  ASSERT_NE(controller, nullptr);

  // While "a" is held by one worker, add it again and give the three idle
  // workers other keys queued behind it. A queue that handed "a" out twice
  // would start the second call before "b" and "c".
  controller->Enqueue("a");
  ASSERT_TRUE(reconciler.started.WaitFor("a", 1));
  controller->Enqueue("a");
  controller->Enqueue("b");
  controller->Enqueue("c");
  ASSERT_TRUE(reconciler.started.WaitFor("b", 1));
  ASSERT_TRUE(reconciler.started.WaitFor("c", 1));
  ASSERT_TRUE(metrics_.events.WaitFor("success", 2));
  EXPECT_EQ(reconciler.calls("a"), 1);

  // Releasing the first call lets the deferred second one run.
  release_a.Open();
  ASSERT_TRUE(reconciler.started.WaitFor("a", 2));
  ASSERT_TRUE(metrics_.events.WaitFor("success", 4));
  EXPECT_EQ(reconciler.overlaps(), 0);
  EXPECT_GE(metrics_.max_active(), 2);
  EXPECT_TRUE(controller->Stop(minutes(1)).ok());
}

TEST_F(ControllerTest, NeverOverlapsUnderLoad) {
  constexpr int kTarget = 3000;
  std::atomic<Controller*> self{nullptr};
  std::atomic<int> finished{0};
  // Each reconcile adds its own key again while it runs, so every key stays
  // busy and the queue must keep deferring it until Done.
  ScriptedReconciler reconciler([&](const std::string& key, auto&, int) {
    if (finished.fetch_add(1) < kTarget) {
      self.load()->Enqueue(key);
    }
    std::this_thread::yield();
    return Result::Done();
  });
  ControllerOptions options = BaseOptions();
  options.workers = 4;
  auto controller = StartController(std::move(options), reconciler);
  ASSERT_NE(controller, nullptr);
  self = controller.get();

  for (const char* key : {"a", "b", "c", "d", "e"}) {
    controller->Enqueue(key);
  }

  ASSERT_TRUE(metrics_.events.WaitFor("success", kTarget));
  EXPECT_TRUE(controller->Stop(minutes(1)).ok());
  EXPECT_EQ(reconciler.overlaps(), 0);
}

TEST_F(ControllerTest, RetriesErrorWithGrowingBackoff) {
  ScriptedReconciler reconciler([](auto&, auto&, int call) -> Result {
    if (call <= 2) {
      return Status::Unavailable("store is down");
    }
    return Result::Done();
  });
  auto controller = StartController(BaseOptions(), reconciler);
  ASSERT_NE(controller, nullptr);

  controller->Enqueue("a");
  ASSERT_TRUE(metrics_.events.WaitFor("error", 1));
  EXPECT_EQ(controller->queue().NumRequeues("a"), 1);
  EXPECT_EQ(controller->queue().NumDelayed(), 1u);

  // The first retry is due after 5 ms.
  clock_.Advance(milliseconds(4));
  EXPECT_EQ(controller->queue().Len(), 0u);
  clock_.Advance(milliseconds(1));
  ASSERT_TRUE(metrics_.events.WaitFor("error", 2));
  EXPECT_EQ(reconciler.calls("a"), 2);

  // The second retry is due after 10 ms. Success resets the backoff.
  clock_.Advance(milliseconds(9));
  EXPECT_EQ(controller->queue().Len(), 0u);
  clock_.Advance(milliseconds(1));
  ASSERT_TRUE(metrics_.events.WaitFor("success", 1));
  EXPECT_EQ(reconciler.calls("a"), 3);
  EXPECT_EQ(controller->queue().NumRequeues("a"), 0);
  EXPECT_TRUE(controller->Stop(minutes(1)).ok());
}

TEST_F(ControllerTest, TerminalErrorIsNotRetried) {
  ScriptedReconciler reconciler([](auto&, auto&, int call) -> Result {
    return TerminalError(Status::InvalidArgument("spec.replicas: must be at least 1"));
  });
  auto controller = StartController(BaseOptions(), reconciler);
  ASSERT_NE(controller, nullptr);

  controller->Enqueue("a");
  ASSERT_TRUE(metrics_.events.WaitFor("terminal", 1));

  EXPECT_EQ(controller->queue().NumDelayed(), 0u);
  EXPECT_EQ(controller->queue().NumRequeues("a"), 0);
  clock_.Advance(seconds(2000));
  EXPECT_EQ(controller->queue().Len(), 0u);
  EXPECT_EQ(reconciler.calls("a"), 1);
  EXPECT_EQ(metrics_.events.Get("error"), 0);

  // A new add, such as a change to the object, runs it again.
  controller->Enqueue("a");
  ASSERT_TRUE(metrics_.events.WaitFor("terminal", 2));
  EXPECT_EQ(reconciler.calls("a"), 2);
  EXPECT_TRUE(controller->Stop(minutes(1)).ok());
}

TEST_F(ControllerTest, RequeueAfterComesBackAfterDelay) {
  ScriptedReconciler reconciler([](auto&, auto&, int call) {
    return call == 1 ? Result::RequeueAfter(seconds(30)) : Result::Done();
  });
  auto controller = StartController(BaseOptions(), reconciler);
  ASSERT_NE(controller, nullptr);

  controller->Enqueue("a");
  ASSERT_TRUE(metrics_.events.WaitFor("requeue_after", 1));
  EXPECT_EQ(controller->queue().NumDelayed(), 1u);
  EXPECT_EQ(controller->queue().NumRequeues("a"), 0);

  clock_.Advance(seconds(29));
  EXPECT_EQ(controller->queue().Len(), 0u);
  EXPECT_EQ(reconciler.calls("a"), 1);
  clock_.Advance(seconds(1));
  ASSERT_TRUE(metrics_.events.WaitFor("success", 1));
  EXPECT_EQ(reconciler.calls("a"), 2);
  EXPECT_TRUE(controller->Stop(minutes(1)).ok());
}

TEST_F(ControllerTest, RequeueUsesRateLimiter) {
  ScriptedReconciler reconciler(
      [](auto&, auto&, int call) { return call == 1 ? Result::Requeue() : Result::Done(); });
  auto controller = StartController(BaseOptions(), reconciler);
  ASSERT_NE(controller, nullptr);

  controller->Enqueue("a");
  ASSERT_TRUE(metrics_.events.WaitFor("requeue", 1));
  EXPECT_EQ(controller->queue().NumRequeues("a"), 1);

  clock_.Advance(milliseconds(5));
  ASSERT_TRUE(metrics_.events.WaitFor("success", 1));
  EXPECT_EQ(reconciler.calls("a"), 2);
  EXPECT_TRUE(controller->Stop(minutes(1)).ok());
}

TEST_F(ControllerTest, ExceptionIsRetriedAsError) {
  ScriptedReconciler reconciler([](auto&, auto&, int call) -> Result {
    if (call == 1) {
      throw std::runtime_error("boom");
    }
    return Result::Done();
  });
  auto controller = StartController(BaseOptions(), reconciler);
  ASSERT_NE(controller, nullptr);

  controller->Enqueue("a");
  ASSERT_TRUE(metrics_.events.WaitFor("error", 1));
  clock_.Advance(milliseconds(5));
  ASSERT_TRUE(metrics_.events.WaitFor("success", 1));
  EXPECT_EQ(reconciler.calls("a"), 2);
  EXPECT_TRUE(controller->Stop(minutes(1)).ok());
}

TEST_F(ControllerTest, ReportsReconcileTimeout) {
  std::mutex mu;
  TimePoint deadline_seen;
  bool done_after_wait = false;
  bool full_wait = true;
  ScriptedReconciler reconciler([&](auto&, const Context& ctx, int) -> Result {
    // A reconcile stuck on a slow step that honours the context.
    const bool waited = ctx.Wait(std::chrono::hours(1));
    std::lock_guard<std::mutex> guard(mu);
    deadline_seen = ctx.deadline();
    full_wait = waited;
    done_after_wait = ctx.Done();
    return Status::DeadlineExceeded("slow step did not finish");
  });
  ControllerOptions options = BaseOptions();
  options.reconcile_timeout = seconds(10);
  const TimePoint start = clock_.Now();
  auto controller = StartController(std::move(options), reconciler);
  ASSERT_NE(controller, nullptr);

  controller->Enqueue("a");
  ASSERT_TRUE(reconciler.started.WaitFor("a", 1));
  clock_.Advance(seconds(10));

  ASSERT_TRUE(metrics_.events.WaitFor("timeout", 1));
  ASSERT_TRUE(metrics_.events.WaitFor("error", 1));
  {
    std::lock_guard<std::mutex> guard(mu);
    EXPECT_EQ(deadline_seen, start + seconds(10));
    EXPECT_FALSE(full_wait);
    EXPECT_TRUE(done_after_wait);
  }
  EXPECT_EQ(metrics_.events.Get("timeout"), 1);
  EXPECT_TRUE(controller->Stop(minutes(1)).ok());
}

TEST_F(ControllerTest, FastReconcileIsNotATimeout) {
  ScriptedReconciler reconciler([](auto&, auto&, int) { return Result::Done(); });
  ControllerOptions options = BaseOptions();
  options.reconcile_timeout = seconds(10);
  auto controller = StartController(std::move(options), reconciler);
  ASSERT_NE(controller, nullptr);

  controller->Enqueue("a");
  ASSERT_TRUE(metrics_.events.WaitFor("success", 1));
  clock_.Advance(seconds(60));
  ASSERT_TRUE(controller->Stop(minutes(1)).ok());

  EXPECT_EQ(metrics_.events.Get("timeout"), 0);
}

TEST_F(ControllerTest, ResyncReAddsListedKeys) {
  ScriptedReconciler reconciler([](auto&, auto&, int) { return Result::Done(); });
  EventCounter lists;
  ControllerOptions options = BaseOptions();
  options.resync_period = minutes(1);
  options.resync_jitter = 0.1;
  options.lister = [&]() -> StatusOr<std::vector<std::string>> {
    lists.Increment("list");
    return std::vector<std::string>{"ns/a", "ns/b"};
  };
  auto controller = StartController(std::move(options), reconciler);
  ASSERT_NE(controller, nullptr);

  // 66 s covers the period plus the largest jitter of 10 %.
  clock_.Advance(seconds(66));
  ASSERT_TRUE(reconciler.started.WaitFor("ns/a", 1));
  ASSERT_TRUE(reconciler.started.WaitFor("ns/b", 1));
  ASSERT_TRUE(metrics_.events.WaitFor("success", 2));
  EXPECT_EQ(lists.Get("list"), 1);

  clock_.Advance(seconds(66));
  ASSERT_TRUE(reconciler.started.WaitFor("ns/a", 2));
  ASSERT_TRUE(reconciler.started.WaitFor("ns/b", 2));
  EXPECT_EQ(lists.Get("list"), 2);
  EXPECT_TRUE(controller->Stop(minutes(1)).ok());
}

TEST_F(ControllerTest, ResyncFailureRetriesNextPeriod) {
  ScriptedReconciler reconciler([](auto&, auto&, int) { return Result::Done(); });
  EventCounter lists;
  ControllerOptions options = BaseOptions();
  options.resync_period = minutes(1);
  options.resync_jitter = 0;
  options.lister = [&]() -> StatusOr<std::vector<std::string>> {
    lists.Increment("list");
    if (lists.Get("list") == 1) {
      return Status::Unavailable("store is down");
    }
    return std::vector<std::string>{"ns/a"};
  };
  auto controller = StartController(std::move(options), reconciler);
  ASSERT_NE(controller, nullptr);

  clock_.Advance(minutes(1));
  ASSERT_TRUE(lists.WaitFor("list", 1));
  clock_.Advance(minutes(1));
  ASSERT_TRUE(reconciler.started.WaitFor("ns/a", 1));
  EXPECT_EQ(lists.Get("list"), 2);
  EXPECT_TRUE(controller->Stop(minutes(1)).ok());
}

TEST_F(ControllerTest, StopCancelsRunningReconcile) {
  bool cancelled_seen = false;
  ScriptedReconciler reconciler([&](auto&, const Context& ctx, int) {
    ctx.Wait(std::chrono::hours(1));
    cancelled_seen = ctx.Cancelled();
    return Result::Done();
  });
  auto controller = StartController(BaseOptions(), reconciler);
  ASSERT_NE(controller, nullptr);
  controller->Enqueue("a");
  ASSERT_TRUE(reconciler.started.WaitFor("a", 1));

  EXPECT_TRUE(controller->Stop(minutes(1)).ok());

  EXPECT_TRUE(cancelled_seen);
  EXPECT_EQ(metrics_.events.Get("success"), 1);
}

TEST_F(ControllerTest, StopTimesOutOnStuckReconcile) {
  Gate release;
  ScriptedReconciler reconciler([&](auto&, auto&, int) {
    release.Pass();  // ignores the context on purpose
    return Result::Done();
  });
  auto controller = StartController(BaseOptions(), reconciler);
  ASSERT_NE(controller, nullptr);
  controller->Enqueue("ns/stuck");
  ASSERT_TRUE(reconciler.started.WaitFor("ns/stuck", 1));

  Status stopped = controller->Stop(Duration::zero());

  EXPECT_EQ(stopped.code(), Code::kDeadlineExceeded);
  EXPECT_NE(stopped.message().find("ns/stuck"), std::string::npos) << stopped.message();
  release.Open();
  EXPECT_TRUE(controller->Stop(minutes(1)).ok());
}

TEST_F(ControllerTest, StopDrainsQueuedKeys) {
  Gate release;
  ScriptedReconciler reconciler([&](const std::string& key, auto&, int) {
    if (key == "first") {
      release.Pass();
    }
    return Result::Done();
  });
  ControllerOptions options = BaseOptions();
  options.workers = 1;
  auto controller = StartController(std::move(options), reconciler);
  ASSERT_NE(controller, nullptr);
  controller->Enqueue("first");
  ASSERT_TRUE(reconciler.started.WaitFor("first", 1));
  controller->Enqueue("second");

  release.Open();
  ASSERT_TRUE(controller->Stop(minutes(1)).ok());

  EXPECT_EQ(reconciler.calls("second"), 1);
  controller->Enqueue("third");
  EXPECT_EQ(controller->queue().Len(), 0u);
}

TEST(ResultTest, MapsEachResultToOneOutcome) {
  EXPECT_EQ(OutcomeOf(Result::Done()), Outcome::kSuccess);
  EXPECT_EQ(OutcomeOf(Status::Ok()), Outcome::kSuccess);
  EXPECT_EQ(OutcomeOf(Status::Unavailable("x")), Outcome::kError);
  EXPECT_EQ(OutcomeOf(Result::Error(Status::Internal("x"))), Outcome::kError);
  EXPECT_EQ(OutcomeOf(Result::Requeue()), Outcome::kRequeue);
  EXPECT_EQ(OutcomeOf(Result::RequeueAfter(seconds(1))), Outcome::kRequeueAfter);
  EXPECT_EQ(OutcomeOf(Result::RequeueAfter(Duration::zero())), Outcome::kRequeue);
  EXPECT_EQ(OutcomeOf(TerminalError(Status::InvalidArgument("x"))), Outcome::kTerminal);
}

TEST(ResultTest, ErrorWithOkStatusBecomesInternal) {
  const Result error = Result::Error(Status::Ok());
  const Result terminal = TerminalError(Status::Ok());

  EXPECT_EQ(error.status().code(), Code::kInternal);
  EXPECT_EQ(terminal.status().code(), Code::kInternal);
  EXPECT_TRUE(terminal.terminal());
}

TEST(ResultTest, LabelsOutcomes) {
  EXPECT_EQ(OutcomeLabel(Outcome::kSuccess), "success");
  EXPECT_EQ(OutcomeLabel(Outcome::kError), "error");
  EXPECT_EQ(OutcomeLabel(Outcome::kRequeue), "requeue");
  EXPECT_EQ(OutcomeLabel(Outcome::kRequeueAfter), "requeue_after");
  EXPECT_EQ(OutcomeLabel(Outcome::kTerminal), "terminal");
}

TEST(ContextTest, WaitRunsFullDuration) {
  FakeClock clock;
  Context ctx("a", 1, clock.Now() + std::chrono::hours(1), clock);
  bool completed = false;

  std::thread waiter([&] { completed = ctx.Wait(seconds(5)); });
  ASSERT_TRUE(clock.WaitForWaiters(1, testing::kRealLimit));
  clock.Advance(seconds(5));
  waiter.join();

  EXPECT_TRUE(completed);
  EXPECT_FALSE(ctx.Done());
}

TEST(ContextTest, WaitEndsOnCancel) {
  FakeClock clock;
  Context ctx("a", 1, TimePoint::max(), clock);
  bool completed = true;

  std::thread waiter([&] { completed = ctx.Wait(seconds(5)); });
  ASSERT_TRUE(clock.WaitForWaiters(1, testing::kRealLimit));
  ctx.Cancel();
  waiter.join();

  EXPECT_FALSE(completed);
  EXPECT_TRUE(ctx.Cancelled());
  EXPECT_TRUE(ctx.Done());
}

TEST(ContextTest, WaitEndsAtDeadline) {
  FakeClock clock;
  const TimePoint deadline = clock.Now() + seconds(2);
  Context ctx("a", 1, deadline, clock);
  bool completed = true;

  std::thread waiter([&] { completed = ctx.Wait(seconds(5)); });
  ASSERT_TRUE(clock.WaitForWaiters(1, testing::kRealLimit));
  clock.Advance(seconds(2));
  waiter.join();

  EXPECT_FALSE(completed);
  EXPECT_FALSE(ctx.Cancelled());
  EXPECT_TRUE(ctx.Done());
}

}  // namespace
}  // namespace svcd::reconciler
