// The no-op reconcile throughput benchmark: the real Controller and
// DeployController against a store of converged deploys, beside a minimal
// queue that reads one row per key.

#ifndef SVCD_BENCH_THROUGHPUT_H_
#define SVCD_BENCH_THROUGHPUT_H_

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "api/status.h"

namespace svcd::bench {

struct ThroughputOptions {
  std::filesystem::path work_dir;  // an empty directory for the store and the data dir
  // A directory, ideally on tmpfs, where the store is seeded before it moves
  // to work_dir (see SeedOptions::staging_dir); empty seeds in place.
  std::filesystem::path seed_dir;
  int deploys = 10000;
  int targets = 4;  // per deploy, the master included
  int workers = 4;  // of the Controller and of the minimal queue alike
  int rounds = 10;  // measured rounds of each side, interleaved
  // Maximum wait for one round (every key once) of either side.
  std::chrono::seconds round_timeout{600};
  std::function<void(const std::string&)> progress;  // one line per call; may be empty
};

struct ThroughputResult {
  double seed_seconds = 0;    // time to create the store and converge every deploy
  double warmup_seconds = 0;  // the first controller round, which writes each status
  // Reconciles per second of each measured round, in round order.
  std::vector<double> controller_per_second;
  std::vector<double> baseline_per_second;
};

// Seeds a converged store (see converged_store.h), starts a Controller with
// a DeployController over it, and runs one warm-up round of each side, then
// `rounds` measured rounds of the controller and of the minimal queue, in
// turn. A round adds every deploy key once and ends when the last handler
// call or reconcile returns.
//
// The warm-up round of the controller writes each deploy's status, and
// after it every deploy must be Ready and UpToDate. No measured controller
// round may commit anything to the database, which a second SQLite
// connection checks with PRAGMA data_version. Either failure is
// FailedPrecondition, because then the passes measured are not no-ops.
// DeadlineExceeded when a round outlasts round_timeout; Internal when a
// reconcile or a baseline read fails.
StatusOr<ThroughputResult> RunThroughput(const ThroughputOptions& options);

}  // namespace svcd::bench

#endif  // SVCD_BENCH_THROUGHPUT_H_
