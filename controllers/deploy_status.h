// The observed state of each target in one reconcile, and the deploy status
// computed from it. The functions are pure, so the phase and condition rules
// are tested without processes.

#ifndef SVCD_CONTROLLERS_DEPLOY_STATUS_H_
#define SVCD_CONTROLLERS_DEPLOY_STATUS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api/types.h"
#include "store/runtime_store.h"

namespace svcd::controllers {

// The observed state of a target's latest attempt.
struct Observed {
  bool dispatched = false;  // an attempt exists and has not been stopped
  bool started = false;     // the launcher reported the process
  bool alive = false;       // started and not exited
  bool exited = false;
  std::optional<int> exit_code;
  std::optional<int64_t> pid;
  bool ready = false;          // probe ready, or alive when there is no probe
  bool ever_ready = false;     // the probe succeeded at least once
  bool probe_failing = false;  // ready once, then failureThreshold failures
  std::string probe_message;   // the latest probe result, for people
  int64_t submit_ms = 0;
  int64_t end_ms = 0;
  std::string dispatch_id;
  std::optional<int64_t> powerjob_instance_id;  // set once runJob returned it
  int attempt = 0;                              // the dispatch's attempt number, from 1
  int64_t last_report_ms = 0;                   // the launcher's latest started or heartbeat report
  std::string error;                            // why the dispatch failed or was lost, when it did
};

struct StatusInputs {
  const api::ServiceDeploy* deploy = nullptr;
  const std::vector<store::TargetRecord>* targets = nullptr;
  const std::map<std::string, Observed>* observed = nullptr;
  const std::map<std::string, int64_t>* next_retry_ms = nullptr;
  std::string endpoint;
  bool terminating = false;
  bool stalled = false;
  std::string stalled_reason;
  std::string stalled_message;
  bool up_to_date = true;
  std::string up_to_date_reason;
  int64_t now_ms = 0;
};

// Computes the status: phase, conditions (keeping lastTransitionTime of a
// condition whose status did not change), endpoint and targets.
api::ServiceDeployStatus BuildStatus(const StatusInputs& in);

// Formats epoch milliseconds as RFC 3339 in UTC, seconds precision.
std::string FormatRfc3339(int64_t ms);

// Returns the master's service URL from its Host address and probe port
// ("http://[::1]:8000"), or "" without a probe port.
std::string EndpointOf(const api::Host& host, const std::optional<api::Probe>& probe);

}  // namespace svcd::controllers

#endif  // SVCD_CONTROLLERS_DEPLOY_STATUS_H_
