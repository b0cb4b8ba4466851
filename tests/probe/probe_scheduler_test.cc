// Tests of ProbeScheduler on a FakeClock. The checks are real: exec probes
// of `test -f FILE`, whose result each test flips by creating or removing
// the file, and TCP probes of a port that refuses.

#include "probe/probe_scheduler.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "probe/system_prober.h"
#include "reconciler/fake_clock.h"
#include "tests/probe/test_servers.h"

namespace svcd::probe {
namespace {

using std::chrono::seconds;
using testing::kRealLimit;

// Events that the scheduler's threads deliver, for the test thread to wait on.
class EventLog {
 public:
  void Add(const ProbeEvent& event) {
    std::lock_guard<std::mutex> guard(mu_);
    events_.push_back(event);
    threads_.push_back(std::this_thread::get_id());
    changed_.notify_all();
  }

  // Blocks until at least `n` events arrived. Returns false after kRealLimit.
  bool WaitForCount(std::size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return changed_.wait_for(lock, kRealLimit, [&] { return events_.size() >= n; });
  }

  std::vector<ProbeEvent> events() const {
    std::lock_guard<std::mutex> guard(mu_);
    return events_;
  }

  std::vector<std::thread::id> threads() const {
    std::lock_guard<std::mutex> guard(mu_);
    return threads_;
  }

  std::size_t size() const {
    std::lock_guard<std::mutex> guard(mu_);
    return events_.size();
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::vector<ProbeEvent> events_;
  std::vector<std::thread::id> threads_;
};

// A file whose existence decides the result of the exec probe `test -f`.
class FlagFile {
 public:
  FlagFile() {
    char path[] = "/tmp/probe-flag-XXXXXX";
    int fd = mkstemp(path);
    if (fd >= 0) close(fd);
    path_ = path;
  }
  ~FlagFile() { std::filesystem::remove(path_); }

  void Set(bool present) {
    if (present) {
      std::ofstream(path_).put('1');
    } else {
      std::filesystem::remove(path_);
    }
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

ProbeTarget FileTarget(const FlagFile& flag, int success_threshold = 1, int failure_threshold = 1) {
  ProbeTarget target;
  target.probe.exec = api::ExecProbe{{"test", "-f", flag.path()}};
  target.probe.initial_delay_seconds = 5;
  target.probe.period_seconds = 10;
  target.probe.timeout_seconds = 5;
  target.probe.success_threshold = success_threshold;
  target.probe.failure_threshold = failure_threshold;
  return target;
}

class ProbeSchedulerTest : public ::testing::Test {
 protected:
  // Creates the scheduler with callbacks that record into results_ and
  // transitions_.
  void StartScheduler(int num_threads = 2) {
    ProbeSchedulerOptions options;
    options.num_threads = num_threads;
    options.on_result = [this](const ProbeEvent& event) { results_.Add(event); };
    options.on_transition = [this](const ProbeEvent& event) { transitions_.Add(event); };
    scheduler_ = std::make_unique<ProbeScheduler>(clock_, prober_, std::move(options));
  }

  // Moves the clock by `d` once the schedule thread waits, and waits for the
  // result count to reach `results`.
  void AdvanceAndWait(reconciler::Duration d, std::size_t results) {
    ASSERT_TRUE(clock_.WaitForWaiters(1, kRealLimit));
    clock_.Advance(d);
    ASSERT_TRUE(results_.WaitForCount(results)) << "results: " << results_.size();
  }

  reconciler::FakeClock clock_;
  SystemProber prober_;
  EventLog results_;
  EventLog transitions_;
  std::unique_ptr<ProbeScheduler> scheduler_;
};

TEST_F(ProbeSchedulerTest, FirstCheckAfterInitialDelay) {
  FlagFile flag;
  StartScheduler();
  ASSERT_TRUE(scheduler_->Register("eval/qwen/master", FileTarget(flag)).ok());

  ASSERT_TRUE(clock_.WaitForWaiters(1, kRealLimit));
  clock_.Advance(seconds(4));
  ASSERT_TRUE(clock_.WaitForWaiters(1, kRealLimit));
  EXPECT_EQ(results_.size(), 0u);
  AdvanceAndWait(seconds(1), 1);

  ProbeEvent event = results_.events()[0];
  EXPECT_EQ(event.key, "eval/qwen/master");
  EXPECT_TRUE(event.result.success) << event.result.message;
  EXPECT_EQ(event.started, reconciler::FakeClock().WallNow() + seconds(5));
  EXPECT_NE(results_.threads()[0], std::this_thread::get_id());
}

TEST_F(ProbeSchedulerTest, ThresholdsDecideTransitions) {
  FlagFile flag;
  StartScheduler();
  ASSERT_TRUE(scheduler_->Register("k", FileTarget(flag, 2, 3)).ok());

  AdvanceAndWait(seconds(5), 1);  // success 1 of 2: not ready yet
  EXPECT_EQ(transitions_.size(), 0u);
  AdvanceAndWait(seconds(10), 2);  // success 2 of 2: ready
  ASSERT_TRUE(transitions_.WaitForCount(1));
  EXPECT_TRUE(transitions_.events()[0].state.ready);

  flag.Set(false);
  AdvanceAndWait(seconds(10), 3);  // failure 1 of 3
  AdvanceAndWait(seconds(10), 4);  // failure 2 of 3
  EXPECT_EQ(transitions_.size(), 1u);
  EXPECT_TRUE(scheduler_->Get("k")->ready);
  EXPECT_EQ(scheduler_->Get("k")->consecutive_failures, 2);
  AdvanceAndWait(seconds(10), 5);  // failure 3 of 3: not ready
  ASSERT_TRUE(transitions_.WaitForCount(2));
  EXPECT_FALSE(transitions_.events()[1].state.ready);
  EXPECT_EQ(transitions_.events()[1].result.failure, FailureKind::kExitCode);

  flag.Set(true);
  AdvanceAndWait(seconds(10), 6);
  AdvanceAndWait(seconds(10), 7);
  ASSERT_TRUE(transitions_.WaitForCount(3));
  EXPECT_TRUE(transitions_.events()[2].state.ready);
  EXPECT_EQ(transitions_.size(), 3u);
}

TEST_F(ProbeSchedulerTest, RefusalsBeforeFirstSuccessNoTransition) {
  testing::RefusingPort port;
  ProbeTarget target;
  target.address = "127.0.0.1";
  target.probe.tcp = api::TcpProbe{port.port()};
  target.probe.period_seconds = 10;
  target.probe.failure_threshold = 1;
  StartScheduler();
  ASSERT_TRUE(scheduler_->Register("k", target).ok());

  ASSERT_TRUE(results_.WaitForCount(1));  // initial delay 0: checked at once
  for (std::size_t i = 2; i <= 4; ++i) AdvanceAndWait(seconds(10), i);

  for (const ProbeEvent& event : results_.events()) {
    EXPECT_EQ(event.result.failure, FailureKind::kConnectionRefused) << event.result.message;
    EXPECT_FALSE(event.state.ever_ready);
  }
  EXPECT_EQ(transitions_.size(), 0u);
}

TEST_F(ProbeSchedulerTest, UnregisterStopsChecks) {
  FlagFile flag;
  // One probe thread runs the jobs of one pass in key order, so the control
  // key "b" finishes only after a check of "a" would have.
  StartScheduler(1);
  ASSERT_TRUE(scheduler_->Register("a", FileTarget(flag)).ok());
  ASSERT_TRUE(scheduler_->Register("b", FileTarget(flag)).ok());
  AdvanceAndWait(seconds(5), 2);

  ASSERT_TRUE(scheduler_->Unregister("a").ok());
  AdvanceAndWait(seconds(10), 3);
  AdvanceAndWait(seconds(10), 4);

  std::vector<ProbeEvent> events = results_.events();
  EXPECT_EQ(events[2].key, "b");
  EXPECT_EQ(events[3].key, "b");
  EXPECT_EQ(scheduler_->Get("a").status().code(), Code::kNotFound);
  EXPECT_EQ(scheduler_->Unregister("a").code(), Code::kNotFound);
}

TEST_F(ProbeSchedulerTest, UnregisterFromCallbackSkipsTransition) {
  FlagFile flag;
  ProbeSchedulerOptions options;
  options.on_result = [this](const ProbeEvent& event) {
    EXPECT_TRUE(scheduler_->Unregister(event.key).ok());
    results_.Add(event);
  };
  options.on_transition = [this](const ProbeEvent& event) { transitions_.Add(event); };
  scheduler_ = std::make_unique<ProbeScheduler>(clock_, prober_, std::move(options));
  ProbeTarget target = FileTarget(flag);
  target.probe.initial_delay_seconds = 0;
  ASSERT_TRUE(scheduler_->Register("k", target).ok());

  ASSERT_TRUE(results_.WaitForCount(1));
  scheduler_->Stop();  // returns only after the callback finished

  EXPECT_TRUE(results_.events()[0].state.ready);
  EXPECT_EQ(transitions_.size(), 0u);
}

TEST_F(ProbeSchedulerTest, UpdateRestartsScheduleKeepsReadiness) {
  FlagFile flag;
  FlagFile missing;
  missing.Set(false);
  StartScheduler();
  ASSERT_TRUE(scheduler_->Register("k", FileTarget(flag)).ok());
  AdvanceAndWait(seconds(5), 1);
  ASSERT_TRUE(transitions_.WaitForCount(1));

  ProbeTarget failing = FileTarget(missing, 1, 2);
  failing.probe.initial_delay_seconds = 3;
  ASSERT_TRUE(scheduler_->Update("k", failing).ok());
  AdvanceAndWait(seconds(3), 2);

  StatusOr<ProbeState> state = scheduler_->Get("k");
  ASSERT_TRUE(state.ok());
  EXPECT_FALSE(state->last_result->success);
  EXPECT_TRUE(state->ready);  // one failure of two
  EXPECT_EQ(state->consecutive_failures, 1);
  EXPECT_EQ(state->consecutive_successes, 0);
  EXPECT_TRUE(scheduler_->Update("k", failing).ok());  // equal: no restart
  AdvanceAndWait(seconds(10), 3);
  ASSERT_TRUE(transitions_.WaitForCount(2));
  EXPECT_FALSE(transitions_.events()[1].state.ready);
}

TEST_F(ProbeSchedulerTest, ReportedResultsReplaceChecks) {
  FlagFile flag;  // absent: a check run by the scheduler would fail
  StartScheduler();
  ProbeTarget target = FileTarget(flag);
  target.reported_by = "d-1";
  ASSERT_TRUE(scheduler_->Register("k", target).ok());

  ProbeResult passed;
  passed.success = true;
  passed.message = "exited with 0 on the host";
  const reconciler::WallTime started = clock_.WallNow() - seconds(3);
  ASSERT_TRUE(scheduler_->Report("k", "d-1", passed, started).ok());
  ASSERT_TRUE(results_.WaitForCount(1));
  ProbeResult failed;
  failed.failure = FailureKind::kExitCode;
  failed.exit_code = 3;
  EXPECT_EQ(scheduler_->Report("k", "d-0", failed, started).code(), Code::kFailedPrecondition);
  EXPECT_EQ(scheduler_->Report("other", "d-1", failed, started).code(), Code::kNotFound);
  ASSERT_TRUE(scheduler_->Report("k", "d-1", failed, started).ok());
  ASSERT_TRUE(transitions_.WaitForCount(2));

  const std::vector<ProbeEvent> events = results_.events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_TRUE(events[0].result.success);
  EXPECT_EQ(events[0].started, started);
  EXPECT_EQ(events[1].result.exit_code, 3);
  const std::vector<ProbeEvent> transitions = transitions_.events();
  EXPECT_TRUE(transitions[0].state.ready);
  EXPECT_FALSE(transitions[1].state.ready);

  // A target that runs its own checks takes no reports.
  ProbeTarget local = FileTarget(flag);
  ASSERT_TRUE(scheduler_->Register("local", local).ok());
  EXPECT_EQ(scheduler_->Report("local", "", passed, started).code(), Code::kFailedPrecondition);
  local.reported_by = "d-1";
  local.probe.exec.reset();
  local.probe.tcp = api::TcpProbe{80};
  local.address = "127.0.0.1";
  EXPECT_EQ(scheduler_->Register("tcp", local).code(), Code::kInvalidArgument);
}

TEST_F(ProbeSchedulerTest, MissingReportsCountAsFailures) {
  FlagFile flag;
  flag.Set(true);  // a check run by the scheduler would pass
  StartScheduler();
  ProbeTarget target = FileTarget(flag);  // delay 5, period 10, timeout 5
  target.reported_by = "d-1";
  ASSERT_TRUE(scheduler_->Register("k", target).ok());

  // Due at 5 + 10 + 5 + 15 (the default grace) seconds.
  AdvanceAndWait(seconds(34), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(results_.size(), 0u);
  AdvanceAndWait(seconds(1), 1);
  ProbeEvent missing = results_.events()[0];
  EXPECT_EQ(missing.result.failure, FailureKind::kNoReport);
  EXPECT_NE(missing.result.message.find("dispatch d-1"), std::string::npos);

  ProbeResult passed;
  passed.success = true;
  ASSERT_TRUE(scheduler_->Report("k", "d-1", passed, clock_.WallNow()).ok());
  ASSERT_TRUE(transitions_.WaitForCount(1));
  // After a result, the next is due within period + timeout + grace, then
  // one failure more per period without results.
  AdvanceAndWait(seconds(30), 3);
  AdvanceAndWait(seconds(10), 4);
  const std::vector<ProbeEvent> events = results_.events();
  EXPECT_EQ(events[2].result.failure, FailureKind::kNoReport);
  EXPECT_EQ(events[3].result.failure, FailureKind::kNoReport);
  ASSERT_TRUE(transitions_.WaitForCount(2));
  EXPECT_FALSE(transitions_.events()[1].state.ready);
}

TEST_F(ProbeSchedulerTest, RejectsBadCalls) {
  FlagFile flag;
  StartScheduler();
  ProbeTarget invalid = FileTarget(flag);
  invalid.probe.period_seconds = 0;

  Status empty_key = scheduler_->Register("", FileTarget(flag));
  Status bad_target = scheduler_->Register("k", invalid);
  ASSERT_TRUE(scheduler_->Register("k", FileTarget(flag)).ok());
  Status duplicate = scheduler_->Register("k", FileTarget(flag));
  Status unknown = scheduler_->Update("other", FileTarget(flag));
  scheduler_->Stop();
  Status stopped = scheduler_->Register("late", FileTarget(flag));

  EXPECT_EQ(empty_key.code(), Code::kInvalidArgument);
  EXPECT_EQ(bad_target.code(), Code::kInvalidArgument);
  ASSERT_EQ(bad_target.causes().size(), 1u);
  EXPECT_EQ(bad_target.causes()[0].field, "probe.periodSeconds");
  EXPECT_EQ(duplicate.code(), Code::kAlreadyExists);
  EXPECT_EQ(unknown.code(), Code::kNotFound);
  EXPECT_EQ(stopped.code(), Code::kFailedPrecondition);
}

}  // namespace
}  // namespace svcd::probe
