// AttemptStopper: stops every local process of one attempt, as
// LocalExecutor::Stop promises.

#ifndef SVCD_DISPATCH_ATTEMPT_STOPPER_H_
#define SVCD_DISPATCH_ATTEMPT_STOPPER_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "dispatch/executor.h"
#include "dispatch/process_table.h"
#include "reconciler/clock.h"

namespace svcd::dispatch {

struct StopTimeouts {
  std::chrono::milliseconds grace{10000};          // TERM to KILL for the service
  std::chrono::milliseconds launcher_exit{15000};  // for the launcher to exit on its own
  std::chrono::milliseconds kill{5000};            // for KILLed processes to vanish
  std::chrono::milliseconds poll{100};
};

// One use per Stop call; not thread-safe.
//
// The processes of an attempt are the service's process group, every
// descendant of the service found through parent links, and every process
// whose environment marks it with the attempt's SVCD_DISPATCH_ID (which
// catches daemons whose parent has exited). They get TERM, then KILL after
// the grace period. The launcher, which records and reports the exit status,
// is then given `launcher_exit` to finish on its own before its process
// group gets TERM and KILL, followed by any descendant of it. Parent links
// are read while the parents still live, so the table is read again at every
// poll and every process seen once stays tracked.
class AttemptStopper {
 public:
  // `spawned_launcher` is the launcher's pid when this svcd spawned it, or 0;
  // it matters before the launcher has written its pid file.
  AttemptStopper(std::filesystem::path attempt_dir, std::string dispatch_id, pid_t spawned_launcher,
                 reconciler::Clock& clock);

  StopResult Run(const StopTimeouts& timeouts);

 private:
  struct Tracked {
    uint64_t start_ticks = 0;
    std::string command;
    std::string role;  // "service", "descendant" or "launcher"
  };

  // Reads the pid files and the process table; adds new attempt processes.
  // With `scan_environ`, also searches every environment for the marker.
  void Refresh(bool scan_environ);
  void Track(const ProcessInfo& info, const char* role);
  // Sends `signal` to the service's group and to each live tracked process
  // whose role is not "launcher" (or only the launcher's, with `launcher`).
  void Signal(int signal, bool launcher);
  bool AnyLive(bool launcher) const;
  // Polls until no tracked process of that kind lives or `timeout` passes.
  bool WaitGone(std::chrono::milliseconds timeout, bool launcher, bool scan_environ);

  std::filesystem::path attempt_dir_;
  std::string marker_;  // "SVCD_DISPATCH_ID=<id>"
  reconciler::Clock& clock_;
  std::chrono::milliseconds poll_{100};
  std::optional<ProcessInfo> service_;
  std::optional<ProcessInfo> launcher_;
  std::map<pid_t, Tracked> tracked_;
  int signalled_ = 0;
};

}  // namespace svcd::dispatch

#endif  // SVCD_DISPATCH_ATTEMPT_STOPPER_H_
