// The apply-to-Ready latency benchmark: the real svcd runs the quickstart
// deploy, beside the same stand-in processes started directly.

#ifndef SVCD_BENCH_LATENCY_H_
#define SVCD_BENCH_LATENCY_H_

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "api/status.h"

namespace svcd::bench {

struct LatencyOptions {
  std::filesystem::path work_dir;  // an empty directory for svcd's data and the logs
  std::filesystem::path svcd;      // the svcd binary
  std::filesystem::path standin;   // the stand-in model server
  // The quickstart manifest. Its ports 18000, 18001 and 18002 are replaced
  // by free ports before use.
  std::filesystem::path manifest;
  int rounds = 10;
  // Maximum wait for svcd to serve, for a deploy to become Ready or go away,
  // and for the direct processes to pass their probes.
  std::chrono::seconds timeout{120};
  std::function<void(const std::string&)> progress;  // one line per call; may be empty
};

struct LatencyResult {
  // Seconds of each round, in round order.
  std::vector<double> svcd_ready;    // apply request sent to status phase Ready seen
  std::vector<double> svcd_delete;   // delete request sent to 404 for the deploy
  std::vector<double> direct_ready;  // first posix_spawn to every probe passed
};

// Starts svcd on a free loopback port with SQLite in work_dir, then runs
// `rounds` rounds of two measurements in turn:
//   - svcd: POST the manifest to the apply endpoint, poll the deploy's
//     status every 20 ms until its phase is Ready, DELETE the deploy and
//     poll until it is gone.
//   - direct: posix_spawn each node's process (the stand-in with the argv
//     and envs that svcd renders for it), and run each node's probe every
//     20 ms with the same prober svcd uses until every one passes, then stop
//     the processes. A node without a probe (the quickstart's workers) is
//     checked with a TCP connect to its --port.
// Errors: InvalidArgument for a manifest that is not the quickstart's shape
// (naming the field); DeadlineExceeded when a wait outlasts the timeout;
// Internal when a process cannot start or exits early, or svcd reports
// the deploy Failed. svcd's log is work_dir/svcd.log.
StatusOr<LatencyResult> RunLatency(const LatencyOptions& options);

}  // namespace svcd::bench

#endif  // SVCD_BENCH_LATENCY_H_
