// SystemProber: the Prober that runs real checks with sockets and processes.

#ifndef SVCD_PROBE_SYSTEM_PROBER_H_
#define SVCD_PROBE_SYSTEM_PROBER_H_

#include <cstddef>

#include "probe/prober.h"
#include "reconciler/clock.h"

namespace svcd::probe {

struct SystemProberOptions {
  // HTTP body bytes read at most. The keyword is searched in these bytes
  // only, and a longer body is not read to its end. Default 1 MiB.
  std::size_t max_body_bytes = 1024 * 1024;
  // Exec output bytes (stdout and stderr together) kept at most. Output
  // beyond it is read and dropped so the command never blocks on a full pipe.
  // Default 4 KiB.
  std::size_t max_exec_output_bytes = 4096;
};

// Runs checks on this machine:
//   - http: HTTP/1.1 over a plain TCP socket (no TLS), one request with
//     `Connection: close`. Connect, send and the whole read share one
//     deadline of timeoutSeconds. 3xx responses are not followed.
//   - tcp: a TCP connect within timeoutSeconds.
//   - exec: the command's argv through posix_spawnp (PATH lookup, no shell)
//     with svcd's environment, in a new process group. The group is killed
//     with SIGKILL at the timeout, and also after the command exits so that
//     nothing it started keeps running. Exit code 0 is success.
//
// Exec commands run on the machine that runs svcd. The deploy controller
// therefore never hands it a target's exec probe: those run in the
// target's launcher and arrive through ProbeScheduler::Report.
//
// Socket and process deadlines use a RealClock, because they bound real
// waits. Thread-safety: Run may be called from many threads at once.
class SystemProber final : public Prober {
 public:
  explicit SystemProber(SystemProberOptions options = {});

  ProbeResult Run(const ProbeTarget& target) override;

 private:
  const SystemProberOptions options_;
  const reconciler::RealClock clock_;
};

}  // namespace svcd::probe

#endif  // SVCD_PROBE_SYSTEM_PROBER_H_
