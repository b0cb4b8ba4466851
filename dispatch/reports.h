// The report protocol between a launcher and svcd.
//
// A launcher sends every report as
//   POST {advertise}/apis/svcd.io/v1alpha1/reports/{dispatchId}?event=E&lease=N
//   X-Svcd-Attempt-Secret: SECRET
// where N is the target's fencing token (lease_version) when the attempt was
// dispatched, and E is one of
//   started    {"pid": 123, "startTimeMs": 1700000000000, "hostname": "gpu-01"}
//   heartbeat  {"pid": 123, "ports": [8000], "cpuPercent": 12.5, "memBytes": 1048576}
//   log        raw bytes of output.log, with `offset=BYTES` in the query giving
//              the position of the first byte, so a resend is recognized
//   exit       {"exitCode": 137}   (exit code, or 128 + signal number)
//   probe      raw bytes of an exec probe's output, with `seq=N` (1, 2, ...
//              per attempt), `exitCode=C`, `timedOut=0|1`, `latencyMs=L` and
//              `startedMs=T` (Unix time in milliseconds) in the query
// ParseReport turns one such request into a typed Report. Its input comes
// from the network, so every field is checked and unknown fields are errors.

#ifndef SVCD_DISPATCH_REPORTS_H_
#define SVCD_DISPATCH_REPORTS_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "api/status.h"

namespace svcd::dispatch {

// The route of reports, in server::Router's pattern syntax.
inline constexpr char kReportRoutePattern[] = "/apis/svcd.io/v1alpha1/reports/{dispatchId}";
// The path of reports for one dispatch id is this prefix and the id.
inline constexpr char kReportPathPrefix[] = "/apis/svcd.io/v1alpha1/reports/";
// The header that carries the attempt's secret.
inline constexpr char kSecretHeader[] = "X-Svcd-Attempt-Secret";
// Launchers send log bytes in chunks of at most this many bytes by default.
inline constexpr size_t kDefaultMaxLogChunkBytes = 256 * 1024;

enum class ReportEvent { kStarted, kHeartbeat, kLog, kExit, kProbe };

// Returns "started", "heartbeat", "log", "exit" or "probe".
const char* ReportEventName(ReportEvent event);

struct StartedReport {
  int64_t pid = 0;            // the service's pid, also its session and group id
  int64_t start_time_ms = 0;  // when the service started, Unix time in milliseconds
  std::string hostname;       // the launcher host's node name

  friend bool operator==(const StartedReport&, const StartedReport&) = default;
};

struct HeartbeatReport {
  int64_t pid = 0;
  std::vector<int> ports;  // TCP ports the process group listens on, ascending
  double cpu_percent = 0;  // CPU use of the group since the last heartbeat; 100 is one core
  int64_t mem_bytes = 0;   // resident memory of the group

  friend bool operator==(const HeartbeatReport&, const HeartbeatReport&) = default;
};

struct LogReport {
  int64_t offset = 0;  // position of bytes[0] in the attempt's output.log
  std::string bytes;   // raw bytes, not necessarily whole lines or UTF-8

  friend bool operator==(const LogReport&, const LogReport&) = default;
};

struct ExitReport {
  int exit_code = 0;  // 0..255; 128 + N when signal N ended the service

  friend bool operator==(const ExitReport&, const ExitReport&) = default;
};

// One run of an exec probe by the launcher on the target's host.
struct ProbeReport {
  int64_t seq = 0;         // 1 for the attempt's first run, then +1 per run
  int exit_code = 0;       // 0..255; 128 + N when signal N ended the command
  bool timed_out = false;  // the command ran into the probe's timeoutSeconds
  int64_t latency_ms = 0;  // from start to exit, measured on the host
  int64_t started_ms = 0;  // when the run started, Unix time in milliseconds
  std::string output;      // the first bytes of stdout and stderr together

  friend bool operator==(const ProbeReport&, const ProbeReport&) = default;
};

// The sender of a report and its fencing token.
struct ReportContext {
  std::string dispatch_id;
  int64_t lease = 0;
  std::string secret;  // as sent; compare it, never log it
};

struct Report {
  ReportContext context;
  ReportEvent event = ReportEvent::kStarted;
  std::variant<StartedReport, HeartbeatReport, LogReport, ExitReport, ProbeReport> payload;
};

struct ReportLimits {
  // Largest JSON body of started, heartbeat and exit reports.
  size_t max_json_bytes = 16 * 1024;
  // Largest body of a log report.
  size_t max_log_bytes = kDefaultMaxLogChunkBytes;
  // Largest body (output bytes) of a probe report.
  size_t max_probe_output_bytes = 64 * 1024;
  // Maximum number of ports in one heartbeat.
  size_t max_ports = 1024;
};

// Returns true when `sent` equals `expected`. The time taken depends only on
// the lengths, so a caller cannot find a secret byte by byte by timing.
bool SecretsEqual(std::string_view sent, std::string_view expected);

// Parses one report request: the `{dispatchId}` path segment, the decoded
// query, the secret header's value (empty when absent) and the body.
//
// Errors, each naming the field and what to send instead:
//   Unauthenticated   the secret header is missing or empty
//   ResourceExhausted the body is over `limits`
//   InvalidArgument   a bad dispatch id, an unknown or missing `event`, a
//                     `lease`, `offset`, `seq`, `latencyMs` or `startedMs`
//                     that is not a decimal integer >= 0 (seq >= 1),
//                     a field out of range (pid < 1, a port outside 1..65535,
//                     exit code outside 0..255, negative memory or CPU), a
//                     missing or unknown JSON field. A body that is not JSON
//                     at all has exactly one Cause, on the field "body".
StatusOr<Report> ParseReport(std::string_view dispatch_id,
                             const std::map<std::string, std::string>& query,
                             std::string_view secret, std::string body,
                             const ReportLimits& limits = {});

}  // namespace svcd::dispatch

#endif  // SVCD_DISPATCH_REPORTS_H_
