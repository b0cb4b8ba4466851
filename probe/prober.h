// Prober: runs one health check (HTTP, TCP or exec) against one target.
//
// The types here are what a controller passes in and gets back. The only
// implementation that touches the system is SystemProber (system_prober.h);
// ProbeScheduler (probe_scheduler.h) runs a Prober on a schedule.

#ifndef SVCD_PROBE_PROBER_H_
#define SVCD_PROBE_PROBER_H_

#include <chrono>
#include <optional>
#include <string>

#include "api/status.h"
#include "api/types.h"

namespace svcd::probe {

// The address, port and probe spec of one check.
struct ProbeTarget {
  // The Host's spec.address: an IPv4 address, an IPv6 literal (brackets are
  // accepted and removed) or a DNS name. Bind-only addresses such as 0.0.0.0
  // and :: are rejected.
  std::string address;
  // The port to connect to. 0 uses the port of the probe itself (http.port or
  // tcp.port); any other value replaces it. Exec probes ignore it.
  int port = 0;
  // The probe spec with its timings, as in api/types.h.
  api::Probe probe;
  // Set for an exec probe that runs elsewhere: the dispatch id of the
  // launcher that runs it on the target's host and reports each result.
  // ProbeScheduler then takes results from Report instead of a Prober.
  std::string reported_by;

  friend bool operator==(const ProbeTarget&, const ProbeTarget&) = default;
};

// The reason a check failed. kNone means it succeeded.
enum class FailureKind {
  kNone,
  // The connection was refused: nothing listens on the port (yet). A caller
  // that waits for a process to start may treat it as "not started".
  kConnectionRefused,
  // timeoutSeconds passed before the check finished.
  kTimeout,
  // The HTTP status was not the expected one (default: any 2xx).
  kBadStatus,
  // The HTTP status was a 3xx that expectStatus does not name. Redirects are
  // never followed.
  kRedirect,
  // The response body does not contain the keyword.
  kKeywordMissing,
  // The peer sent something that is not a valid HTTP/1.x response, or closed
  // the connection before the response ended.
  kProtocolError,
  // Name resolution failed, or the connection failed for a reason other than
  // a refusal (unreachable, reset).
  kNetworkError,
  // An exec probe's command exited with a non-zero code or was killed by a
  // signal other than the probe's own timeout kill.
  kExitCode,
  // An exec probe's command could not be started (not found, not executable).
  kExecStartFailed,
  // The target fails ValidateProbeTarget; nothing was run.
  kInvalidProbe,
  // A check that a launcher runs and reports sent no result in time.
  kNoReport,
};

// Returns the CamelCase name of `kind`, such as "ConnectionRefused", for use
// as a reason in events and conditions. kNone is "Succeeded".
const char* FailureKindName(FailureKind kind);

// The outcome of one check.
struct ProbeResult {
  bool success = false;
  FailureKind failure = FailureKind::kNone;  // kNone exactly when success
  // Time from the start of the check to its result, measured on a real clock.
  std::chrono::microseconds latency{0};
  int http_status = 0;           // 0 unless an HTTP status line was read
  std::optional<int> exit_code;  // exec only: the exit code, or 128 + signal
  // One line of at most kMaxMessageBytes for people: what was checked and
  // what happened. It never contains timestamps, and control characters
  // from the peer's output are replaced with spaces.
  std::string message;
};

inline constexpr std::size_t kMaxMessageBytes = 1024;

// Checks `target` without touching the network. Returns OK, or
// InvalidArgument with one cause per problem, each naming the field path
// ("address", "port", "probe.http.headers[1].name", ...) and the fix.
Status ValidateProbeTarget(const ProbeTarget& target);

// Returns the port a check of `target` connects to: target.port when it is
// not 0, else the port of its http or tcp probe, else 0.
int EffectivePort(const ProbeTarget& target);

// Runs single checks.
//
// Thread-safety: implementations allow concurrent Run calls from any
// thread.
class Prober {
 public:
  virtual ~Prober() = default;

  // Runs one check of `target` and returns its result. A target that fails
  // ValidateProbeTarget yields kInvalidProbe. The call blocks for about
  // target.probe.timeout_seconds at most, apart from DNS resolution (see
  // SystemProber). Implementations must not throw, because ProbeScheduler
  // calls Run on its own threads.
  virtual ProbeResult Run(const ProbeTarget& target) = 0;
};

}  // namespace svcd::probe

#endif  // SVCD_PROBE_PROBER_H_
