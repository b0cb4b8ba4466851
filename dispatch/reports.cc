#include "dispatch/reports.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "dispatch/run_dir.h"

namespace svcd::dispatch {
namespace {

using Json = nlohmann::json;

// Returns at most `max` characters of `text` with every byte outside printable
// ASCII replaced by '?', so that hostile input can be echoed in a message.
std::string Printable(std::string_view text, size_t max) {
  std::string out(text.substr(0, max));
  for (char& c : out) {
    if (c < 0x20 || c > 0x7e) {
      c = '?';
    }
  }
  return out;
}

Status Invalid(std::string field, std::string message) {
  Cause cause;
  cause.field = field;
  cause.message = message;
  return Status::InvalidArgument(field + ": " + message, {cause});
}

// Parses a query parameter that must be a decimal integer >= 0.
StatusOr<int64_t> ParseCount(const std::map<std::string, std::string>& query,
                             const std::string& name) {
  auto it = query.find(name);
  const std::string field = "query." + name;
  if (it == query.end() || it->second.empty()) {
    return Invalid(field, "is required; send a decimal integer >= 0");
  }
  const std::string& text = it->second;
  int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, error] = std::from_chars(text.data(), end, value);
  if (error != std::errc() || ptr != end || value < 0) {
    return Invalid(field, "\"" + Printable(text, 32) + "\" is not a decimal integer >= 0");
  }
  return value;
}

StatusOr<ReportEvent> ParseEvent(const std::map<std::string, std::string>& query) {
  auto it = query.find("event");
  if (it == query.end()) {
    return Invalid("query.event", "is required; send started, heartbeat, log, exit or probe");
  }
  for (ReportEvent event : {ReportEvent::kStarted, ReportEvent::kHeartbeat, ReportEvent::kLog,
                            ReportEvent::kExit, ReportEvent::kProbe}) {
    if (it->second == ReportEventName(event)) {
      return event;
    }
  }
  return Invalid("query.event", "unknown event \"" + Printable(it->second, 32) +
                                    "\"; send started, heartbeat, log, exit or probe");
}

// Reads a JSON object and checks that it contains exactly `fields`.
StatusOr<Json> ParseObject(const std::string& body, const std::set<std::string>& fields) {
  Json json = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    return Invalid("body", "is not valid JSON");
  }
  if (!json.is_object()) {
    return Invalid("body", "must be a JSON object");
  }
  for (const auto& [key, value] : json.items()) {
    if (fields.count(key) == 0) {
      return Invalid("body." + Printable(key, 64), "unknown field");
    }
  }
  for (const std::string& field : fields) {
    if (!json.contains(field)) {
      return Invalid("body." + field, "is required");
    }
  }
  return json;
}

// Reads a JSON integer within [min, max]; `field` is its path for errors.
StatusOr<int64_t> IntValue(const Json& value, const std::string& field, int64_t min, int64_t max) {
  if (!value.is_number_integer()) {
    return Invalid(field, "must be an integer");
  }
  const std::string range = std::to_string(min) + ".." + std::to_string(max);
  // nlohmann stores every integer >= 0 as unsigned, which may exceed int64_t.
  if (value.is_number_unsigned() && value.get<uint64_t>() > static_cast<uint64_t>(max)) {
    return Invalid(field, value.dump() + " is outside " + range);
  }
  const int64_t number = value.get<int64_t>();
  if (number < min || number > max) {
    return Invalid(field, std::to_string(number) + " is outside " + range);
  }
  return number;
}

StatusOr<int64_t> IntField(const Json& json, const std::string& field, int64_t min, int64_t max) {
  return IntValue(json.at(field), "body." + field, min, max);
}

constexpr int64_t kMaxPid = std::numeric_limits<int32_t>::max();
constexpr int64_t kMaxInt = std::numeric_limits<int64_t>::max();

StatusOr<StartedReport> ParseStarted(const std::string& body) {
  StatusOr<Json> json = ParseObject(body, {"pid", "startTimeMs", "hostname"});
  if (!json.ok()) return json.status();
  StartedReport report;
  StatusOr<int64_t> pid = IntField(*json, "pid", 1, kMaxPid);
  if (!pid.ok()) return pid.status();
  StatusOr<int64_t> start = IntField(*json, "startTimeMs", 0, kMaxInt);
  if (!start.ok()) return start.status();
  const Json& host = json->at("hostname");
  if (!host.is_string() || host.get<std::string>().size() > 255) {
    return Invalid("body.hostname", "must be a string of at most 255 characters");
  }
  report.pid = *pid;
  report.start_time_ms = *start;
  report.hostname = host.get<std::string>();
  return report;
}

StatusOr<std::vector<int>> ParsePorts(const Json& ports, size_t max_ports) {
  if (!ports.is_array()) {
    return Invalid("body.ports", "must be an array of port numbers");
  }
  if (ports.size() > max_ports) {
    return Invalid("body.ports", "has " + std::to_string(ports.size()) +
                                     " entries; the maximum is " + std::to_string(max_ports));
  }
  std::vector<int> result;
  for (size_t i = 0; i < ports.size(); ++i) {
    StatusOr<int64_t> port = IntValue(ports[i], "body.ports[" + std::to_string(i) + "]", 1, 65535);
    if (!port.ok()) return port.status();
    result.push_back(static_cast<int>(*port));
  }
  return result;
}

StatusOr<HeartbeatReport> ParseHeartbeat(const std::string& body, const ReportLimits& limits) {
  StatusOr<Json> json = ParseObject(body, {"pid", "ports", "cpuPercent", "memBytes"});
  if (!json.ok()) return json.status();
  HeartbeatReport report;
  StatusOr<int64_t> pid = IntField(*json, "pid", 1, kMaxPid);
  if (!pid.ok()) return pid.status();
  StatusOr<std::vector<int>> ports = ParsePorts(json->at("ports"), limits.max_ports);
  if (!ports.ok()) return ports.status();
  const Json& cpu = json->at("cpuPercent");
  if (!cpu.is_number() || !std::isfinite(cpu.get<double>()) || cpu.get<double>() < 0) {
    return Invalid("body.cpuPercent", "must be a finite number >= 0");
  }
  StatusOr<int64_t> mem = IntField(*json, "memBytes", 0, kMaxInt);
  if (!mem.ok()) return mem.status();
  report.pid = *pid;
  report.ports = std::move(*ports);
  report.cpu_percent = cpu.get<double>();
  report.mem_bytes = *mem;
  return report;
}

StatusOr<ExitReport> ParseExit(const std::string& body) {
  StatusOr<Json> json = ParseObject(body, {"exitCode"});
  if (!json.ok()) return json.status();
  StatusOr<int64_t> code = IntField(*json, "exitCode", 0, 255);
  if (!code.ok()) return code.status();
  ExitReport report;
  report.exit_code = static_cast<int>(*code);
  return report;
}

// Reads the query of a probe report; the body is the command's output.
StatusOr<ProbeReport> ParseProbe(const std::map<std::string, std::string>& query,
                                 std::string body) {
  ProbeReport report;
  StatusOr<int64_t> seq = ParseCount(query, "seq");
  if (!seq.ok()) return seq.status();
  if (*seq < 1) return Invalid("query.seq", "must be >= 1; the first run of an attempt is 1");
  StatusOr<int64_t> code = ParseCount(query, "exitCode");
  if (!code.ok()) return code.status();
  if (*code > 255) return Invalid("query.exitCode", std::to_string(*code) + " is outside 0..255");
  StatusOr<int64_t> timed_out = ParseCount(query, "timedOut");
  if (!timed_out.ok()) return timed_out.status();
  if (*timed_out > 1) return Invalid("query.timedOut", "must be 0 or 1");
  StatusOr<int64_t> latency = ParseCount(query, "latencyMs");
  if (!latency.ok()) return latency.status();
  StatusOr<int64_t> started = ParseCount(query, "startedMs");
  if (!started.ok()) return started.status();
  report.seq = *seq;
  report.exit_code = static_cast<int>(*code);
  report.timed_out = *timed_out == 1;
  report.latency_ms = *latency;
  report.started_ms = *started;
  report.output = std::move(body);
  return report;
}

Status CheckBodySize(ReportEvent event, size_t size, const ReportLimits& limits) {
  size_t limit = limits.max_json_bytes;
  const char* hint = "";
  if (event == ReportEvent::kLog) {
    limit = limits.max_log_bytes;
    hint = "; send log bytes in smaller chunks";
  } else if (event == ReportEvent::kProbe) {
    limit = limits.max_probe_output_bytes;
    hint = "; send only the first bytes of the probe's output";
  }
  if (size <= limit) {
    return Status::Ok();
  }
  return Status::ResourceExhausted(std::string("the body of a ") + ReportEventName(event) +
                                   " report has " + std::to_string(size) +
                                   " bytes; the maximum is " + std::to_string(limit) + hint);
}

}  // namespace

const char* ReportEventName(ReportEvent event) {
  switch (event) {
    case ReportEvent::kStarted:
      return "started";
    case ReportEvent::kHeartbeat:
      return "heartbeat";
    case ReportEvent::kLog:
      return "log";
    case ReportEvent::kExit:
      return "exit";
    case ReportEvent::kProbe:
      return "probe";
  }
  return "unknown";
}

bool SecretsEqual(std::string_view sent, std::string_view expected) {
  unsigned char difference = sent.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < expected.size(); ++i) {
    const char c = i < sent.size() ? sent[i] : '\0';
    difference |= static_cast<unsigned char>(c ^ expected[i]);
  }
  return difference == 0;
}

StatusOr<Report> ParseReport(std::string_view dispatch_id,
                             const std::map<std::string, std::string>& query,
                             std::string_view secret, std::string body,
                             const ReportLimits& limits) {
  if (Status status = ValidatePathSegment("path.dispatchId", dispatch_id); !status.ok()) {
    return status;
  }
  if (secret.empty()) {
    return Status::Unauthenticated(std::string("the ") + kSecretHeader +
                                   " header is missing; send the attempt's secret");
  }
  StatusOr<ReportEvent> event = ParseEvent(query);
  if (!event.ok()) return event.status();
  StatusOr<int64_t> lease = ParseCount(query, "lease");
  if (!lease.ok()) return lease.status();
  if (Status status = CheckBodySize(*event, body.size(), limits); !status.ok()) {
    return status;
  }

  Report report;
  report.context.dispatch_id = std::string(dispatch_id);
  report.context.lease = *lease;
  report.context.secret = std::string(secret);
  report.event = *event;
  switch (*event) {
    case ReportEvent::kStarted: {
      StatusOr<StartedReport> started = ParseStarted(body);
      if (!started.ok()) return started.status();
      report.payload = std::move(*started);
      break;
    }
    case ReportEvent::kHeartbeat: {
      StatusOr<HeartbeatReport> heartbeat = ParseHeartbeat(body, limits);
      if (!heartbeat.ok()) return heartbeat.status();
      report.payload = std::move(*heartbeat);
      break;
    }
    case ReportEvent::kLog: {
      StatusOr<int64_t> offset = ParseCount(query, "offset");
      if (!offset.ok()) return offset.status();
      report.payload = LogReport{*offset, std::move(body)};
      break;
    }
    case ReportEvent::kExit: {
      StatusOr<ExitReport> exit = ParseExit(body);
      if (!exit.ok()) return exit.status();
      report.payload = *exit;
      break;
    }
    case ReportEvent::kProbe: {
      StatusOr<ProbeReport> probe = ParseProbe(query, std::move(body));
      if (!probe.ok()) return probe.status();
      report.payload = std::move(*probe);
      break;
    }
  }
  return report;
}

}  // namespace svcd::dispatch
