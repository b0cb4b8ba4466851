// The run directory of one target and the files that an attempt leaves there.
//
// RUN is DATA_DIR/run/<deploy uid>/<target>. Each attempt (one dispatch of
// the target) claims RUN/attempts/<dispatch id> with mkdir, which is atomic,
// so a second delivery of the same attempt finds it taken and starts nothing.
// The launcher then writes, inside the attempt directory:
//   launcher.pid, launcher.starttime  the launcher's pid and start time
//   script.sh                         the node script, byte for byte
//   service.pid, service.starttime    the node script's process, which leads
//                                     its own session and process group
//   output.log                        stdout and stderr of the service
//   log.offset                        bytes of output.log that svcd accepted
//   exit                              exit code, or 128 + signal number
//   stop-reason                       why the service was stopped (below)
//   report.*                          scratch files of the reports;
//                                     report.headers contains the secret
// A start time is field 22 of /proc/PID/stat (clock ticks after boot); with
// the pid it names one process even after the pid is reused.
//
// The local executor also writes RUN/launchers/<dispatch id>.sh (the
// launcher, mode 0600 because it contains the secret) and <dispatch id>.out
// (the launcher's own output).

#ifndef SVCD_DISPATCH_RUN_DIR_H_
#define SVCD_DISPATCH_RUN_DIR_H_

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "api/status.h"

namespace svcd::dispatch {

// File names inside an attempt directory.
inline constexpr char kLauncherPidFile[] = "launcher.pid";
inline constexpr char kLauncherStartFile[] = "launcher.starttime";
inline constexpr char kScriptFile[] = "script.sh";
inline constexpr char kServicePidFile[] = "service.pid";
inline constexpr char kServiceStartFile[] = "service.starttime";
inline constexpr char kOutputLogFile[] = "output.log";
inline constexpr char kLogOffsetFile[] = "log.offset";
inline constexpr char kExitFile[] = "exit";
inline constexpr char kStopReasonFile[] = "stop-reason";

// Values of the stop-reason file.
inline constexpr char kStopReasonSignal[] = "signal";          // the launcher got TERM, INT or HUP
inline constexpr char kStopReasonSuperseded[] = "superseded";  // svcd replied 409
inline constexpr char kStopReasonUnauthenticated[] = "unauthenticated";  // svcd replied 401
inline constexpr char kStopReasonSetupFailed[] = "setup-failed";  // attempt files not written
inline constexpr char kStopReasonCancelled[] = "cancelled";       // Stop claimed the attempt first

// The environment variable, set to the dispatch id, that every process of an
// attempt inherits from the launcher.
inline constexpr char kDispatchIdEnv[] = "SVCD_DISPATCH_ID";

// Checks that `value` can be a path segment and a URL segment: 1 to 128
// characters from [A-Za-z0-9._-], starting with a letter or digit. Returns
// InvalidArgument with a Cause on `field` otherwise.
Status ValidatePathSegment(std::string_view field, std::string_view value);

// Returns DATA_DIR/run/<deploy_uid>/<target>. The caller validates the
// segments with ValidatePathSegment first.
std::filesystem::path TargetRunDir(const std::filesystem::path& data_dir,
                                   std::string_view deploy_uid, std::string_view target);

// Returns RUN/attempts/<dispatch_id>.
std::filesystem::path AttemptDir(const std::filesystem::path& run_dir,
                                 std::string_view dispatch_id);

// Returns the first line of a file of at most 4 KiB, without its newline, or
// std::nullopt when the file is missing, unreadable or larger.
std::optional<std::string> ReadSmallFile(const std::filesystem::path& path);

// Returns the file's first line as a decimal integer, or std::nullopt when
// the file is missing or contains anything else.
std::optional<int64_t> ReadIntFile(const std::filesystem::path& path);

}  // namespace svcd::dispatch

#endif  // SVCD_DISPATCH_RUN_DIR_H_
