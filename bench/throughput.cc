#include "bench/throughput.h"

#include <sqlite3.h>
#include <stdlib.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>

#include "api/codec.h"
#include "bench/converged_store.h"
#include "bench/minimal_queue.h"
#include "controllers/deploy_controller.h"
#include "dispatch/local_executor.h"
#include "probe/system_prober.h"
#include "reconciler/controller.h"

namespace svcd::bench {
namespace {

using reconciler::Clock;
using reconciler::TimePoint;

// A shell path that does not exist: should a pass ever dispatch, posix_spawn
// fails and no launcher starts. The data_version check then reports the
// dispatch row that the attempt wrote.
constexpr char kNoShell[] = "/nonexistent/svcd-bench-starts-no-launcher";

double SecondsSince(const Clock& clock, TimePoint start) {
  return std::chrono::duration<double>(clock.Now() - start).count();
}

// Counts finished reconciles by result label.
class CountingMetrics final : public reconciler::ControllerMetrics {
 public:
  explicit CountingMetrics(Clock& clock) : clock_(clock) {}

  void ObserveReconcile(std::string_view, std::string_view result, reconciler::Duration) override {
    {
      std::lock_guard lock(mu_);
      ++by_result_[std::string(result)];
      ++total_;
    }
    finished_.notify_all();
  }
  void IncReconcileTimeouts(std::string_view) override {}
  void SetActiveWorkers(std::string_view, int) override {}

  std::map<std::string, uint64_t> ByResult() {
    std::lock_guard lock(mu_);
    return by_result_;
  }

  // Waits until `count` reconciles have finished in total, or `timeout`
  // passes. Returns whether the count was reached.
  bool WaitForTotal(uint64_t count, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    const TimePoint deadline = reconciler::DeadlineAfter(clock_.Now(), timeout);
    return clock_.WaitUntil(lock, finished_, deadline, [&] { return total_ >= count; });
  }

 private:
  Clock& clock_;
  std::mutex mu_;
  std::condition_variable finished_;
  std::map<std::string, uint64_t> by_result_;  // guarded by mu_
  uint64_t total_ = 0;                         // guarded by mu_
};

// A second, read-only connection to the SQLite file. PRAGMA data_version
// on it returns a new value once another connection has committed a write.
class CommitWatcher {
 public:
  ~CommitWatcher() { sqlite3_close(db_); }

  static StatusOr<std::unique_ptr<CommitWatcher>> Open(const std::filesystem::path& path) {
    auto watcher = std::unique_ptr<CommitWatcher>(new CommitWatcher());
    if (sqlite3_open_v2(path.c_str(), &watcher->db_, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
      return Status::Internal("cannot open " + path.string() +
                              " read-only: " + sqlite3_errmsg(watcher->db_));
    }
    return watcher;
  }

  StatusOr<int64_t> DataVersion() {
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v2(db_, "PRAGMA data_version", -1, &statement, nullptr) != SQLITE_OK) {
      return Status::Internal(std::string("PRAGMA data_version failed: ") + sqlite3_errmsg(db_));
    }
    const bool row = sqlite3_step(statement) == SQLITE_ROW;
    const int64_t version = row ? sqlite3_column_int64(statement, 0) : -1;
    sqlite3_finalize(statement);
    if (!row) return Status::Internal("PRAGMA data_version returned no row");
    return version;
  }

 private:
  CommitWatcher() = default;
  sqlite3* db_ = nullptr;
};

// Checks that every seeded deploy reports Ready and UpToDate.
Status CheckConverged(store::Store& store, size_t expected) {
  store::ListOptions list;
  list.kind = api::kKindServiceDeploy;
  list.namespace_ = kBenchNamespace;
  StatusOr<std::vector<api::Object>> deploys = store.List(list);
  if (!deploys.ok()) return deploys.status();
  if (deploys->size() != expected) {
    return Status::FailedPrecondition("the store lists " + std::to_string(deploys->size()) +
                                      " deploys, expected " + std::to_string(expected));
  }
  for (const api::Object& object : *deploys) {
    const api::ServiceDeploy& deploy = std::get<api::ServiceDeploy>(object);
    bool up_to_date = false;
    for (const api::Condition& condition : deploy.status.conditions) {
      if (condition.type == "UpToDate") up_to_date = condition.status == "True";
    }
    if (deploy.status.phase != "Ready" || !up_to_date) {
      return Status::FailedPrecondition(
          "deploy " + deploy.metadata.name + " is " + deploy.status.phase +
          (up_to_date ? "" : ", not UpToDate") +
          " after the first pass, so later passes would not be no-ops");
    }
  }
  return Status::Ok();
}

// The objects that run the measured rounds.
class Bench {
 public:
  Bench(const ThroughputOptions& options, ConvergedStore converged, Clock& clock);
  Status Start();
  void Stop();

  // Runs one controller round; returns its seconds. With `expect_no_op`,
  // FailedPrecondition when the round committed a write.
  StatusOr<double> ControllerRound(bool expect_no_op);
  // Runs one baseline round; returns its seconds.
  StatusOr<double> BaselineRound();
  store::Store& store() { return *converged_.store; }

 private:
  Status CheckResults(const std::map<std::string, uint64_t>& before);

  const ThroughputOptions& options_;
  ConvergedStore converged_;
  Clock& clock_;
  std::unique_ptr<CommitWatcher> watcher_;
  dispatch::LocalExecutor executor_;
  probe::SystemProber prober_;
  controllers::DeployController deploys_;
  CountingMetrics metrics_;
  std::unique_ptr<reconciler::Controller> controller_;
  std::atomic<uint64_t> baseline_failures_{0};
  uint64_t baseline_handled_ = 0;  // handler calls that earlier rounds waited for
  MinimalQueue baseline_;
};

dispatch::LocalExecutorOptions ExecutorOptions(const ThroughputOptions& options) {
  dispatch::LocalExecutorOptions executor;
  executor.data_dir = std::filesystem::absolute(options.work_dir / "data");
  executor.shell = kNoShell;
  return executor;
}

controllers::DeployControllerOptions DeployOptions() {
  controllers::DeployControllerOptions deploy;
  deploy.advertise_url = "http://127.0.0.1:7070";  // unused: no launcher starts
  // A converged pass requeues its key after steady_recheck. One day keeps
  // those timers from firing during the run and adding unmeasured passes.
  deploy.steady_recheck = std::chrono::hours(24);
  return deploy;
}

Bench::Bench(const ThroughputOptions& options, ConvergedStore converged, Clock& clock)
    : options_(options),
      converged_(std::move(converged)),
      clock_(clock),
      executor_(ExecutorOptions(options), clock),
      deploys_(*converged_.store, executor_, prober_, clock, DeployOptions()),
      metrics_(clock),
      baseline_(
          options.workers,
          [this](const std::string& key) {
            // The comparable trivial work: read the deploy's row.
            const size_t slash = key.find('/');
            StatusOr<api::Object> deploy = converged_.store->Get(
                {api::kKindServiceDeploy, key.substr(0, slash), key.substr(slash + 1)});
            if (!deploy.ok()) ++baseline_failures_;
          },
          clock) {}

Status Bench::Start() {
  StatusOr<std::unique_ptr<CommitWatcher>> watcher =
      CommitWatcher::Open(options_.work_dir / "bench.db");
  if (!watcher.ok()) return watcher.status();
  watcher_ = std::move(*watcher);

  reconciler::ControllerOptions controller_options;
  controller_options.name = "servicedeploy";
  controller_options.workers = options_.workers;
  controller_options.resync_period = reconciler::Duration::zero();
  controller_options.metrics = &metrics_;
  StatusOr<std::unique_ptr<reconciler::Controller>> controller =
      reconciler::Controller::Create(std::move(controller_options), deploys_, clock_);
  if (!controller.ok()) return controller.status();
  controller_ = std::move(*controller);
  reconciler::Controller* loop = controller_.get();
  deploys_.SetEnqueue([loop](const std::string& key) { loop->Enqueue(key); });
  return controller_->Start();
}

void Bench::Stop() {
  if (controller_) controller_->Stop(std::chrono::seconds(30));
  deploys_.Shutdown();
}

Status Bench::CheckResults(const std::map<std::string, uint64_t>& before) {
  for (const auto& [result, count] : metrics_.ByResult()) {
    auto it = before.find(result);
    const uint64_t added = count - (it == before.end() ? 0 : it->second);
    if (added > 0 && (result == "error" || result == "terminal")) {
      return Status::Internal(std::to_string(added) + " reconciles ended with result " + result +
                              "; the controller's log lines above name the deploys");
    }
  }
  return Status::Ok();
}

StatusOr<double> Bench::ControllerRound(bool expect_no_op) {
  StatusOr<int64_t> version_before = watcher_->DataVersion();
  if (!version_before.ok()) return version_before.status();
  const std::map<std::string, uint64_t> before = metrics_.ByResult();
  uint64_t total = 0;
  for (const auto& [result, count] : before) total += count;

  const TimePoint start = clock_.Now();
  for (const std::string& key : converged_.keys) controller_->Enqueue(key);
  if (!metrics_.WaitForTotal(total + converged_.keys.size(), options_.round_timeout)) {
    return Status::DeadlineExceeded("a controller round did not finish within " +
                                    std::to_string(options_.round_timeout.count()) +
                                    " s; raise --timeout or lower --deploys");
  }
  const double seconds = SecondsSince(clock_, start);

  if (Status checked = CheckResults(before); !checked.ok()) return checked;
  StatusOr<int64_t> version_after = watcher_->DataVersion();
  if (!version_after.ok()) return version_after.status();
  if (expect_no_op && *version_after != *version_before) {
    return Status::FailedPrecondition(
        "a measured controller round committed writes to the store, so its passes were not "
        "no-ops");
  }
  return seconds;
}

StatusOr<double> Bench::BaselineRound() {
  const TimePoint start = clock_.Now();
  for (const std::string& key : converged_.keys) baseline_.Add(key);
  baseline_handled_ += converged_.keys.size();
  if (!baseline_.WaitForHandled(baseline_handled_, options_.round_timeout)) {
    return Status::DeadlineExceeded("a baseline round did not finish within " +
                                    std::to_string(options_.round_timeout.count()) + " s");
  }
  const double seconds = SecondsSince(clock_, start);
  if (baseline_failures_ > 0) {
    return Status::Internal(std::to_string(baseline_failures_.load()) +
                            " baseline reads of a deploy row failed");
  }
  return seconds;
}

using Progress = std::function<void(const std::string&)>;

// Runs the unmeasured first round of each side. The controller's round
// writes every status, and must leave every deploy Ready.
Status WarmUp(Bench& bench, const ThroughputOptions& options, ThroughputResult& result,
              const Progress& progress) {
  StatusOr<double> seconds = bench.ControllerRound(false);
  if (!seconds.ok()) return seconds.status();
  result.warmup_seconds = *seconds;
  if (Status converged = CheckConverged(bench.store(), options.deploys); !converged.ok()) {
    return converged;
  }
  seconds = bench.BaselineRound();
  if (!seconds.ok()) return seconds.status();
  progress("warm-up done in " + std::to_string(result.warmup_seconds) +
           " s; every deploy is Ready");
  return Status::Ok();
}

// Runs the measured rounds, controller and baseline in turn.
Status MeasureRounds(Bench& bench, const ThroughputOptions& options, ThroughputResult& result,
                     const Progress& progress) {
  const double keys = options.deploys;
  for (int round = 1; round <= options.rounds; ++round) {
    StatusOr<double> seconds = bench.ControllerRound(true);
    if (!seconds.ok()) return seconds.status();
    result.controller_per_second.push_back(keys / *seconds);
    seconds = bench.BaselineRound();
    if (!seconds.ok()) return seconds.status();
    result.baseline_per_second.push_back(keys / *seconds);
    progress("round " + std::to_string(round) + " of " + std::to_string(options.rounds) +
             ": controller " + std::to_string(result.controller_per_second.back()) +
             "/s, baseline " + std::to_string(result.baseline_per_second.back()) + "/s");
  }
  return Status::Ok();
}

// Seeds the store in a fresh directory under options.seed_dir, if set,
// which is removed afterwards.
StatusOr<ConvergedStore> Seed(const ThroughputOptions& options, const Progress& progress) {
  SeedOptions seed{options.work_dir / "bench.db", {}, options.deploys, options.targets, progress};
  if (!options.seed_dir.empty()) {
    std::string dir = (options.seed_dir / "svcd-bench-seed-XXXXXX").string();
    if (mkdtemp(dir.data()) == nullptr) {
      return Status::Internal("cannot create " + dir + ": " + std::strerror(errno) +
                              "; pass another --seed-dir, or an empty one");
    }
    seed.staging_dir = dir;
  }
  StatusOr<ConvergedStore> converged = SeedConvergedStore(seed);
  if (!seed.staging_dir.empty()) {
    std::error_code error;
    std::filesystem::remove_all(seed.staging_dir, error);
  }
  return converged;
}

}  // namespace

StatusOr<ThroughputResult> RunThroughput(const ThroughputOptions& options) {
  Progress progress = [&](const std::string& line) {
    if (options.progress) options.progress("throughput: " + line);
  };
  reconciler::RealClock clock;
  ThroughputResult result;

  const TimePoint start = clock.Now();
  StatusOr<ConvergedStore> converged = Seed(options, progress);
  if (!converged.ok()) return converged.status();
  result.seed_seconds = SecondsSince(clock, start);
  progress("seeded " + std::to_string(options.deploys) + " deploys in " +
           std::to_string(result.seed_seconds) + " s");

  Bench bench(options, std::move(*converged), clock);
  Status status = bench.Start();
  if (status.ok()) status = WarmUp(bench, options, result, progress);
  if (status.ok()) status = MeasureRounds(bench, options, result, progress);
  bench.Stop();
  if (!status.ok()) return status;
  return result;
}

}  // namespace svcd::bench
