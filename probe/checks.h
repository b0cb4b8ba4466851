// The three kinds of check that SystemProber runs. Each expects a target that
// passed ValidateProbeTarget and leaves ProbeResult::latency to the caller.

#ifndef SVCD_PROBE_CHECKS_H_
#define SVCD_PROBE_CHECKS_H_

#include <cstddef>

#include "probe/prober.h"
#include "reconciler/clock.h"

namespace svcd::probe {

struct CheckLimits {
  std::size_t max_body_bytes;         // HTTP body bytes read at most
  std::size_t max_exec_output_bytes;  // exec output bytes kept at most
};

// Sends one HTTP/1.1 request with `Connection: close` and judges the
// response: the status, then the keyword. Redirects are not followed.
ProbeResult RunHttpCheck(const ProbeTarget& target, const reconciler::Clock& clock,
                         const CheckLimits& limits);

// Opens a TCP connection and closes it again.
ProbeResult RunTcpCheck(const ProbeTarget& target, const reconciler::Clock& clock);

// Runs the command in a process group of its own and waits for its exit.
ProbeResult RunExecCheck(const ProbeTarget& target, const reconciler::Clock& clock,
                         const CheckLimits& limits);

}  // namespace svcd::probe

#endif  // SVCD_PROBE_CHECKS_H_
