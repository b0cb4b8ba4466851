#include "dispatch/executor.h"

#include <utility>

namespace svcd::dispatch {

const char* AttemptStateName(AttemptState state) {
  switch (state) {
    case AttemptState::kNotClaimed:
      return "NotClaimed";
    case AttemptState::kStarting:
      return "Starting";
    case AttemptState::kRunning:
      return "Running";
    case AttemptState::kExited:
      return "Exited";
    case AttemptState::kCancelled:
      return "Cancelled";
    case AttemptState::kLost:
      return "Lost";
  }
  return "Unknown";
}

LaunchSpec MakeLaunchSpec(const DispatchRequest& request, std::string run_dir,
                          int final_report_seconds) {
  LaunchSpec spec;
  spec.script = request.script;
  spec.run_dir = std::move(run_dir);
  spec.report_url = request.report_url;
  spec.dispatch_id = request.attempt.dispatch_id;
  spec.secret = request.secret;
  spec.lease = request.lease;
  spec.description = request.description;
  spec.heartbeat_seconds = request.heartbeat_seconds;
  spec.stop_grace_seconds = request.stop_grace_seconds;
  spec.final_report_seconds = final_report_seconds;
  if (request.exec_probe && request.exec_probe->exec) {
    const api::Probe& probe = *request.exec_probe;
    spec.probe_command = probe.exec->command;
    spec.probe_initial_delay_seconds = probe.initial_delay_seconds;
    spec.probe_period_seconds = probe.period_seconds;
    spec.probe_timeout_seconds = probe.timeout_seconds;
  }
  return spec;
}

}  // namespace svcd::dispatch
