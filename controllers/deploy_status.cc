#include "controllers/deploy_status.h"

#include <ctime>

namespace svcd::controllers {
namespace {

std::string PhaseOf(const StatusInputs& in) {
  if (in.terminating) return "Terminating";
  if (in.stalled) return "Failed";
  bool all_ready = !in.targets->empty();
  bool any_dispatched = false;
  for (const store::TargetRecord& target : *in.targets) {
    auto it = in.observed->find(target.name);
    const bool ready = it != in.observed->end() && it->second.ready;
    all_ready = all_ready && ready;
    any_dispatched = any_dispatched || !target.latest_dispatch_id.empty();
  }
  if (in.deploy->spec.suspend) return "Pending";
  if (all_ready) return "Ready";
  const std::string& previous = in.deploy->status.phase;
  if (previous == "Ready" || previous == "Degraded") return "Degraded";
  return any_dispatched ? "Progressing" : "Pending";
}

api::Condition MakeCondition(const StatusInputs& in, const std::string& type, bool value,
                             const std::string& reason, const std::string& message) {
  api::Condition condition{type,    value ? "True" : "False", reason,
                           message, FormatRfc3339(in.now_ms), in.deploy->metadata.generation};
  for (const api::Condition& old : in.deploy->status.conditions) {
    if (old.type == type && old.status == condition.status) {
      condition.last_transition_time = old.last_transition_time;
    }
  }
  return condition;
}

std::string UpToDateMessage(const StatusInputs& in) {
  if (in.up_to_date) return "";
  if (in.up_to_date_reason == "ProbeChanged") {
    return "the template's exec probe changed after the launchers that run it started; run "
           "svcctl rollout restart to pick it up";
  }
  if (in.up_to_date_reason == "HostChanged") {
    return "a Host's address changed after this generation was rendered; run svcctl rollout "
           "restart to pick it up";
  }
  return "the template changed after this generation was rendered; run svcctl rollout restart "
         "to pick it up";
}

std::vector<api::Condition> ConditionsOf(const StatusInputs& in, const std::string& phase) {
  std::vector<api::Condition> out;
  size_t ready = 0;
  for (const auto& target : *in.targets) {
    auto it = in.observed->find(target.name);
    ready += it != in.observed->end() && it->second.ready;
  }
  const std::string counts =
      std::to_string(ready) + " of " + std::to_string(in.targets->size()) + " targets ready";
  out.push_back(MakeCondition(in, "Ready", phase == "Ready",
                              phase == "Ready" ? "AllTargetsReady" : "TargetsNotReady", counts));
  const bool progressing = phase == "Progressing" || phase == "Degraded";
  out.push_back(
      MakeCondition(in, "Progressing", progressing,
                    progressing ? "TargetsStarting" : (phase == "Ready" ? "Converged" : phase),
                    progressing ? counts : ""));
  out.push_back(MakeCondition(in, "Stalled", in.stalled,
                              in.stalled ? in.stalled_reason : "RetryBudgetLeft",
                              in.stalled ? in.stalled_message : ""));
  out.push_back(MakeCondition(in, "UpToDate", in.up_to_date,
                              in.up_to_date ? "RenderedCommandsCurrent" : in.up_to_date_reason,
                              UpToDateMessage(in)));
  return out;
}

}  // namespace

std::string FormatRfc3339(int64_t ms) {
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

std::string EndpointOf(const api::Host& host, const std::optional<api::Probe>& probe) {
  int port = 0;
  if (probe && probe->http) port = probe->http->port;
  if (probe && probe->tcp) port = probe->tcp->port;
  if (port == 0) return "";
  const std::string& address = host.spec.address;
  const bool ipv6 = address.find(':') != std::string::npos;
  return "http://" + (ipv6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

api::ServiceDeployStatus BuildStatus(const StatusInputs& in) {
  api::ServiceDeployStatus status;
  status.observed_generation = in.deploy->metadata.generation;
  status.phase = PhaseOf(in);
  status.conditions = ConditionsOf(in, status.phase);
  status.endpoint = in.endpoint;
  for (const store::TargetRecord& target : *in.targets) {
    api::TargetStatus out;
    out.name = target.name;
    out.role = target.role;
    out.host = target.host;
    out.state = target.state;
    out.attempts = target.attempts;
    out.command_hash = target.command_hash;
    out.message = target.message;
    out.dispatch_id = target.latest_dispatch_id;
    auto it = in.observed->find(target.name);
    if (it != in.observed->end()) {
      if (it->second.alive) out.pid = it->second.pid;
      out.exit_code = it->second.exit_code;
      out.powerjob_instance_id = it->second.powerjob_instance_id;
    }
    auto retry = in.next_retry_ms->find(target.name);
    if (retry != in.next_retry_ms->end()) out.next_retry_time = FormatRfc3339(retry->second);
    status.targets.push_back(std::move(out));
  }
  return status;
}

}  // namespace svcd::controllers
