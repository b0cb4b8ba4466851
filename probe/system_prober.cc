#include "probe/system_prober.h"

#include "probe/checks.h"
#include "probe/text.h"

namespace svcd::probe {

SystemProber::SystemProber(SystemProberOptions options) : options_(options) {}

ProbeResult SystemProber::Run(const ProbeTarget& target) {
  reconciler::TimePoint start = clock_.Now();
  ProbeResult result;
  Status valid = ValidateProbeTarget(target);
  CheckLimits limits{options_.max_body_bytes, options_.max_exec_output_bytes};
  if (!valid.ok()) {
    result.failure = FailureKind::kInvalidProbe;
    result.message = valid.causes().empty()
                         ? valid.message()
                         : valid.causes().front().field + ": " + valid.causes().front().message;
  } else if (target.probe.http) {
    result = RunHttpCheck(target, clock_, limits);
  } else if (target.probe.tcp) {
    result = RunTcpCheck(target, clock_);
  } else {
    result = RunExecCheck(target, clock_, limits);
  }
  result.latency = std::chrono::duration_cast<std::chrono::microseconds>(clock_.Now() - start);
  if (result.message.size() > kMaxMessageBytes) {
    result.message = OneLine(result.message, kMaxMessageBytes - 3);
  }
  return result;
}

}  // namespace svcd::probe
