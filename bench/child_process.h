// Child processes of the benchmark: svcd and the stand-in model servers.

#ifndef SVCD_BENCH_CHILD_PROCESS_H_
#define SVCD_BENCH_CHILD_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "api/status.h"
#include "reconciler/clock.h"

namespace svcd::bench {

// One process started with posix_spawn in a process group of its own, with
// stdin from /dev/null and stdout and stderr appended to a log file. The
// destructor sends SIGKILL to the group when the process still runs.
class ChildProcess {
 public:
  explicit ChildProcess(reconciler::Clock& clock) : clock_(clock) {}
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Starts `argv` (argv[0] is a path) with exactly the environment `env`
  // ("NAME=value" entries). Internal, with the system's reason, when
  // posix_spawn fails; FailedPrecondition when this object already started
  // a process.
  Status Start(const std::vector<std::string>& argv, const std::vector<std::string>& env,
               const std::filesystem::path& log_path);

  // Returns true while the process has not exited, reaping it once it has.
  bool Running();

  // Sends SIGTERM to the process group, waits up to `grace` for the process
  // to exit, then sends SIGKILL and waits up to 5 s more. DeadlineExceeded
  // when it is still there after that. Stopping a process that is not
  // running is OK.
  Status Stop(std::chrono::milliseconds grace);

  pid_t pid() const { return pid_; }

 private:
  // Waits up to `timeout` for the process to exit; returns whether it did.
  bool WaitForExit(std::chrono::milliseconds timeout);

  reconciler::Clock& clock_;
  pid_t pid_ = -1;
  bool exited_ = false;
};

// Returns a TCP port on 127.0.0.1 that was free a moment ago and is not in
// `used_ports`, and adds it to `used_ports`. Another process may bind it before the
// caller does. Unavailable when no socket can be bound.
StatusOr<uint16_t> PickFreePort(std::set<uint16_t>& used_ports);

// Returns the current environment with PATH replaced by `path_prefix`, ':'
// and the old PATH (or /usr/local/bin:/usr/bin:/bin when there is none).
std::vector<std::string> EnvironmentWithPath(const std::string& path_prefix);

}  // namespace svcd::bench

#endif  // SVCD_BENCH_CHILD_PROCESS_H_
