// The stop script: a POSIX sh script, generated per attempt, that a PowerJob
// shell job runs on the attempt's host to stop the attempt's processes or to
// read its state, and the parsers of the one line it prints.
//
// In stop mode it does what LocalExecutor::Stop does on svcd's own host:
//   0. claims the attempt directory (mkdir) with stop-reason "cancelled" when
//      no launcher has claimed it, so a late delivery starts nothing;
//   1. sends TERM to a launcher that has not started the service yet;
//   2. sends TERM to the service's process group and its descendants (found
//      through /proc parent links, and through the SVCD_DISPATCH_ID marker in
//      their environment), waits up to the grace period, then sends KILL;
//   3. gives the launcher time to report the exit and end, then TERM and KILL;
//   4. looks once more and KILLs what it finds; what still lives is listed.
// In inspect mode it changes nothing and prints what the attempt directory
// records and which recorded processes live.

#ifndef SVCD_POWERJOB_STOP_SCRIPT_H_
#define SVCD_POWERJOB_STOP_SCRIPT_H_

#include <chrono>
#include <string>
#include <string_view>

#include "api/status.h"
#include "dispatch/executor.h"

namespace svcd::powerjob {

struct StopScriptSpec {
  enum class Mode { kStop, kInspect };
  Mode mode = Mode::kStop;
  std::string run_dir;                     // the target's run directory on the host; absolute
  std::string dispatch_id;                 // ValidatePathSegment rules
  std::chrono::milliseconds grace{10000};  // TERM to KILL for the service
  std::chrono::milliseconds launcher_exit{15000};  // for the launcher to end on its own
  std::chrono::milliseconds kill{5000};            // for KILLed processes to vanish
  std::chrono::milliseconds poll{200};             // 10 ms to 10 s
};

// Returns the longest time a stop run can take with `spec`, about grace +
// launcher_exit + 4 * kill, plus the polls' own time.
std::chrono::milliseconds StopScriptDuration(const StopScriptSpec& spec);

// Returns the script: "#!/bin/sh", a comment, the values as single-quoted
// assignments, then the fixed body (powerjob/stop_body.sh). The text never
// starts with "http" or "ftp", which the shell processor would download.
// Errors: InvalidArgument naming the field for a relative or multi-line
// run_dir, a bad dispatch_id, or a negative or out-of-range duration.
StatusOr<std::string> RenderStopScript(const StopScriptSpec& spec);

// The parsed line of a stop run.
struct StopOutput {
  dispatch::StopResult result;  // `stopped` only with the script's "gone"
  bool claimed = false;         // the run claimed the attempt as cancelled
};

// Parses the "svcd-stop: ..." line in `output` (the script's stdout).
// Errors: Internal for an "error" line (with its reason) or when no line is
// found, quoting the start of `output`.
StatusOr<StopOutput> ParseStopOutput(std::string_view output);

// Parses the "svcd-inspect: ..." line in `output` into an AttemptInfo whose
// attempt_dir is `attempt_dir`; the state follows the same rules as the
// local executor's Inspect. Errors as ParseStopOutput.
StatusOr<dispatch::AttemptInfo> ParseInspectOutput(std::string_view output,
                                                   const std::string& attempt_dir);

}  // namespace svcd::powerjob

#endif  // SVCD_POWERJOB_STOP_SCRIPT_H_
