// Executor: starts, stops and inspects attempts of targets on their hosts.
// The local executor runs launchers as child processes of svcd; a PowerJob
// executor will run the same launcher through PowerJob behind this interface.

#ifndef SVCD_DISPATCH_EXECUTOR_H_
#define SVCD_DISPATCH_EXECUTOR_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "api/status.h"
#include "api/types.h"
#include "dispatch/launcher.h"

namespace svcd::dispatch {

// Names one attempt: the deploy's uid, the target ("master", "worker-0") and
// the dispatch id. Each must pass ValidatePathSegment (dispatch/run_dir.h).
struct AttemptRef {
  std::string deploy_uid;
  std::string target;
  std::string dispatch_id;
};

struct DispatchRequest {
  AttemptRef attempt;
  api::Host host;               // where the target runs; the local executor ignores it
  std::string script;           // the node's rendered script
  std::string description;      // one line for logs and the launcher, "deploy ns/a, target master"
  std::string secret;           // the attempt's report secret (LaunchSpec rules)
  int64_t lease = 0;            // the target's fencing token for this attempt
  std::string report_url;       // svcd's advertise URL
  int heartbeat_seconds = 10;   // how often the launcher reports
  int stop_grace_seconds = 10;  // TERM to KILL when the launcher itself stops the service
  // The target's probe when it is an exec probe: the launcher runs it on
  // the host and reports each result. Unset otherwise.
  std::optional<api::Probe> exec_probe;
};

// Returns the launcher spec of `request` for a launcher whose target run
// directory is `run_dir`. Both executors send this launcher.
LaunchSpec MakeLaunchSpec(const DispatchRequest& request, std::string run_dir,
                          int final_report_seconds);

struct StopRequest {
  AttemptRef attempt;
  // Time between TERM and KILL for the service's process group.
  std::chrono::milliseconds grace{10000};
};

// A process of the attempt that was still alive when Stop gave up on it.
struct Survivor {
  int64_t pid = 0;
  std::string command;  // from /proc/PID/stat
  std::string role;     // "service", "descendant" or "launcher"
};

struct StopResult {
  bool stopped = false;             // true when no process of the attempt is left
  std::vector<Survivor> survivors;  // empty exactly when `stopped`
  int signalled = 0;                // processes and groups that were sent a signal
  std::optional<int> exit_status;   // from the exit file, when the launcher wrote one
};

enum class AttemptState {
  kNotClaimed,  // no launcher has claimed the attempt
  kStarting,    // claimed and the launcher runs, but the service has no pid yet
  kRunning,     // the service is alive
  kExited,      // the launcher recorded the exit status
  kCancelled,   // claimed, and no service was started or will start
  kLost,        // the service is gone without a recorded exit status
};

// Returns "NotClaimed", "Starting", "Running", "Exited", "Cancelled" or "Lost".
const char* AttemptStateName(AttemptState state);

// The state of one attempt as its host records it.
struct AttemptInfo {
  AttemptState state = AttemptState::kNotClaimed;
  std::optional<int64_t> pid;  // the service, leader of its session and process group
  bool alive = false;          // the service pid is live and started when recorded
  std::optional<int64_t> launcher_pid;
  bool launcher_alive = false;
  std::optional<int> exit_status;  // exit code, or 128 + signal number
  std::string stop_reason;         // the stop-reason file, see dispatch/run_dir.h
  int64_t log_bytes = 0;           // size of output.log
  int64_t log_bytes_reported = 0;  // bytes that svcd accepted, from log.offset
  std::string attempt_dir;         // where the files are, on the target's host
};

// Thread-safety: every method may be called from several threads at once,
// also for the same attempt.
class Executor {
 public:
  virtual ~Executor() = default;

  // Starts the launcher of one attempt. OK means the launcher was handed to
  // the host; whether the service started is learned from its reports or
  // from Inspect. Delivering the same attempt again is harmless: its
  // launcher finds the attempt claimed and starts nothing.
  // Errors: InvalidArgument for a bad id or launch value (naming the field),
  // Unavailable or Internal when the host could not take the launcher.
  virtual Status Dispatch(const DispatchRequest& request) = 0;

  // Stops every process of the attempt: TERM to the service's process group,
  // up to `grace`, KILL, then KILL for any remaining descendant of the
  // service or the launcher (also those that called setsid). An attempt that
  // no launcher has claimed yet is claimed as cancelled, so a late delivery
  // starts nothing. Every wait has a timeout; a process still alive at the
  // end is listed in `survivors`, never ignored.
  // Errors: InvalidArgument for a bad id; Internal when the host cannot be
  // reached or the run directory cannot be written.
  virtual StatusOr<StopResult> Stop(const StopRequest& request) = 0;

  // Reads what the host records about the attempt, without changing it. Used
  // to adopt attempts again after an svcd restart: launchers and services
  // keep running (and reporting) while svcd is down.
  // Errors: InvalidArgument for a bad id; Internal when the host cannot be
  // reached.
  virtual StatusOr<AttemptInfo> Inspect(const AttemptRef& attempt) = 0;
};

}  // namespace svcd::dispatch

#endif  // SVCD_DISPATCH_EXECUTOR_H_
