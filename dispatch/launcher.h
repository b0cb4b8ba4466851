// The launcher: a POSIX sh script, generated per attempt, that runs one
// node's script on its host and reports on it to svcd. Every executor runs
// the same launcher; the local executor spawns it, and a PowerJob executor
// sends it as the job's parameters.
//
// What a launcher does, in order:
//   1. Checks that setsid and curl are on PATH, then claims the attempt with
//      `mkdir RUN/attempts/ID`. When that directory exists already, another
//      delivery of the same attempt got there first: the launcher prints so
//      and exits 0 without starting anything.
//   2. Writes the node script, its pid file and the secret's header file in
//      the attempt directory (layout in dispatch/run_dir.h). It then runs
//      `setsid sh script.sh` in the background, in the attempt directory,
//      with stdin from /dev/null and stdout and stderr appended to
//      output.log. The service thus leads its own session and process group,
//      and carries SVCD_DISPATCH_ID in its environment.
//   3. Reports `started` until svcd accepts it, then every heartbeat period a
//      `heartbeat` and the log bytes that svcd has not accepted yet (see
//      dispatch/reports.h). Reports use curl with short timeouts; a failed
//      one is retried at the next period and never blocks the service.
//   4. When the spec has an exec probe, runs it in the background after
//      its initial delay and then once per period, and reports each result
//      as a `probe` event. The command's argv runs without a shell, in the
//      attempt directory, with SVCD_DISPATCH_ID and SVCD_SERVICE_PID set.
//      It runs under `setsid timeout`, so the whole probe session is
//      signalled at the timeout and killed after the command exits.
//   5. Waits for the service in the foreground, so the launcher lives as long
//      as the service. It then writes the exit file (exit code, or 128 +
//      signal), stops whatever the service left in its process group, sends
//      the rest of the log and `exit`, retrying for up to
//      final_report_seconds, and exits with the service's status.
// A 409 reply (the attempt was superseded) or a 401 reply (wrong secret)
// makes the launcher stop the process group (TERM, up to stop_grace_seconds,
// then KILL) and exit without further reports. TERM, INT or HUP sent to the
// launcher stop the service the same way, and the exit is still reported.
//
// It needs POSIX sh (dash, or bash running as `sh`), setsid, curl (and
// timeout when it runs an exec probe), the
// usual utilities (sed, awk, cat, tail, head, sleep, kill, mkdir) and Linux
// /proc for pids, ports, CPU and memory.
// NOTE: a background job of a non-interactive shell starts with SIGINT and
// SIGQUIT ignored, as POSIX requires, so the service inherits that; svcd
// stops services with TERM and KILL, which are not affected.

#ifndef SVCD_DISPATCH_LAUNCHER_H_
#define SVCD_DISPATCH_LAUNCHER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "api/status.h"
#include "dispatch/reports.h"

namespace svcd::dispatch {

// Everything one launcher needs. The defaults are the production values.
struct LaunchSpec {
  std::string script;       // the node's script, delivered byte for byte; no NUL
  std::string run_dir;      // absolute path of the target's run directory
  std::string report_url;   // svcd's advertise URL, such as "http://10.0.0.5:7070"
  std::string dispatch_id;  // the attempt's id (ValidatePathSegment rules)
  std::string secret;       // the attempt's report secret: 16 to 256 of [A-Za-z0-9._~+/=-]
  int64_t lease = 0;        // the target's fencing token when dispatched, >= 0
  std::string description;  // one line for the header comment, such as "deploy ns/a, target master"
  int heartbeat_seconds = 10;      // 1..3600
  int stop_grace_seconds = 10;     // TERM to KILL, 0..3600
  int final_report_seconds = 600;  // how long to retry the exit report, 0..86400
  int64_t max_log_chunk_bytes = kDefaultMaxLogChunkBytes;  // 1..16 MiB
  int connect_timeout_seconds = 3;                         // curl --connect-timeout, 1..60
  int request_timeout_seconds = 10;                        // curl --max-time, 1..300
  // The exec probe that the launcher runs on the host; an empty argv runs
  // none. Each item is one argument, without NUL; the first names the
  // program, found through PATH.
  std::vector<std::string> probe_command;
  int probe_initial_delay_seconds = 0;    // 0..86400
  int probe_period_seconds = 10;          // 1..86400
  int probe_timeout_seconds = 1;          // 1..86400
  int64_t probe_max_output_bytes = 4096;  // output bytes sent per run, 0..64 KiB
};

// The largest node script a launcher embeds.
inline constexpr size_t kMaxLauncherScriptBytes = 1024 * 1024;

// Checks every field of `spec`. Returns InvalidArgument with one Cause per
// problem, naming the field and the accepted values.
Status ValidateLaunchSpec(const LaunchSpec& spec);

// Returns the launcher script for `spec`: "#!/bin/sh", a comment line, the
// attempt's values as single-quoted shell assignments, then the fixed body.
// The text never starts with "http", "https" or "ftp", which a PowerJob
// shell processor would take for a URL to download. Returns the errors of
// ValidateLaunchSpec; nothing else fails.
StatusOr<std::string> RenderLauncher(const LaunchSpec& spec);

// Returns the URL that reports of `dispatch_id` go to: the advertise URL,
// less trailing slashes, then kReportPathPrefix and the id.
std::string ReportUrl(std::string_view advertise_url, std::string_view dispatch_id);

}  // namespace svcd::dispatch

#endif  // SVCD_DISPATCH_LAUNCHER_H_
