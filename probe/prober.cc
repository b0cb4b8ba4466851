#include "probe/prober.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <string>
#include <string_view>
#include <vector>

#include "api/rules.h"
#include "probe/text.h"

namespace svcd::probe {
namespace {

// Header fields that the HTTP check writes itself, because they describe the
// framing of its own request.
constexpr std::string_view kFramingHeaders[] = {"content-length", "transfer-encoding",
                                                "connection"};

void AddCause(std::vector<Cause>& causes, std::string field, std::string message) {
  Cause cause;
  cause.field = std::move(field);
  cause.message = std::move(message);
  causes.push_back(std::move(cause));
}

bool IsTokenChar(char c) {
  static constexpr std::string_view kSymbols = "!#$%&'*+-.^_`|~";
  unsigned char u = static_cast<unsigned char>(c);
  return (u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') ||
         kSymbols.find(c) != std::string_view::npos;
}

std::string CheckBindOnlyAddress(const std::string& address) {
  in_addr v4{};
  if (inet_pton(AF_INET, address.c_str(), &v4) == 1) {
    uint32_t host_order = ntohl(v4.s_addr);
    if (host_order == INADDR_ANY || host_order == INADDR_BROADCAST || IN_MULTICAST(host_order)) {
      return "is a bind, broadcast or multicast address; use the address the host is reached at";
    }
    return "";
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, address.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_UNSPECIFIED(&v6) || IN6_IS_ADDR_MULTICAST(&v6)) {
      return "is a bind or multicast address; use the address the host is reached at";
    }
  }
  return "";
}

void CheckAddress(const ProbeTarget& target, std::vector<Cause>& causes) {
  std::string address = UnbracketAddress(target.address);
  if (address.empty()) {
    AddCause(causes, "address", "is required: set the Host's spec.address");
    return;
  }
  std::string problem = api::CheckHostAddress(address);
  if (problem.empty()) problem = CheckBindOnlyAddress(address);
  if (!problem.empty()) {
    AddCause(causes, "address", Quote(target.address) + " " + problem);
  }
}

void CheckRange(std::string_view field, int value, int minimum, int maximum,
                std::vector<Cause>& causes) {
  if (value < minimum || value > maximum) {
    AddCause(causes, std::string(field),
             "must be in " + std::to_string(minimum) + ".." + std::to_string(maximum) + ", not " +
                 std::to_string(value));
  }
}

void CheckHeaders(const api::HttpProbe& http, std::vector<Cause>& causes) {
  for (std::size_t i = 0; i < http.headers.size(); ++i) {
    const api::HttpHeader& header = http.headers[i];
    std::string field = "probe.http.headers[" + std::to_string(i) + "]";
    bool token = !header.name.empty();
    for (char c : header.name) token = token && IsTokenChar(c);
    if (!token) {
      AddCause(causes, field + ".name", "must be a non-empty HTTP token such as Content-Type");
      continue;
    }
    std::string lower = ToLower(header.name);
    for (std::string_view framing : kFramingHeaders) {
      if (lower == framing) {
        AddCause(causes, field + ".name",
                 header.name +
                     " is set by the probe itself to frame the "
                     "request; remove this header");
      }
    }
    std::string problem = api::CheckHeaderValue(header.value);
    if (!problem.empty()) AddCause(causes, field + ".value", problem);
  }
}

void CheckHttp(const api::HttpProbe& http, std::vector<Cause>& causes) {
  if (http.method != "GET" && http.method != "POST") {
    AddCause(causes, "probe.http.method", "must be GET or POST, not " + Quote(http.method));
  }
  bool path_ok = !http.path.empty() && http.path.front() == '/';
  for (char c : http.path) {
    unsigned char u = static_cast<unsigned char>(c);
    path_ok = path_ok && u > 0x20 && u != 0x7f;
  }
  if (!path_ok) {
    AddCause(causes, "probe.http.path",
             "must start with '/' and contain no spaces or control characters");
  }
  CheckHeaders(http, causes);
  if (http.expect_status) {
    CheckRange("probe.http.expectStatus", *http.expect_status, 100, 599, causes);
  }
}

void CheckExec(const api::ExecProbe& exec, std::vector<Cause>& causes) {
  if (exec.command.empty() || exec.command.front().empty()) {
    AddCause(causes, "probe.exec.command", "must name a program as its first item");
  }
  for (std::size_t i = 0; i < exec.command.size(); ++i) {
    if (exec.command[i].find('\0') != std::string::npos) {
      AddCause(causes, "probe.exec.command[" + std::to_string(i) + "]",
               "contains a NUL character, which no argument can carry");
    }
  }
}

void CheckTimings(const api::Probe& probe, std::vector<Cause>& causes) {
  CheckRange("probe.initialDelaySeconds", probe.initial_delay_seconds, 0, 3600, causes);
  CheckRange("probe.periodSeconds", probe.period_seconds, 1, 3600, causes);
  CheckRange("probe.timeoutSeconds", probe.timeout_seconds, 1, 3600, causes);
  CheckRange("probe.failureThreshold", probe.failure_threshold, 1, 100, causes);
  CheckRange("probe.successThreshold", probe.success_threshold, 1, 100, causes);
}

}  // namespace

const char* FailureKindName(FailureKind kind) {
  switch (kind) {
    case FailureKind::kNone:
      return "Succeeded";
    case FailureKind::kConnectionRefused:
      return "ConnectionRefused";
    case FailureKind::kTimeout:
      return "Timeout";
    case FailureKind::kBadStatus:
      return "BadStatus";
    case FailureKind::kRedirect:
      return "Redirect";
    case FailureKind::kKeywordMissing:
      return "KeywordMissing";
    case FailureKind::kProtocolError:
      return "ProtocolError";
    case FailureKind::kNetworkError:
      return "NetworkError";
    case FailureKind::kExitCode:
      return "ExitCode";
    case FailureKind::kExecStartFailed:
      return "ExecStartFailed";
    case FailureKind::kInvalidProbe:
      return "InvalidProbe";
    case FailureKind::kNoReport:
      return "NoReport";
  }
  return "Unknown";
}

int EffectivePort(const ProbeTarget& target) {
  if (target.port != 0) return target.port;
  if (target.probe.http) return target.probe.http->port;
  if (target.probe.tcp) return target.probe.tcp->port;
  return 0;
}

Status ValidateProbeTarget(const ProbeTarget& target) {
  std::vector<Cause> causes;
  const api::Probe& probe = target.probe;
  int kinds = probe.http.has_value() + probe.tcp.has_value() + probe.exec.has_value();
  if (kinds != 1) {
    AddCause(causes, "probe", "set exactly one of http, tcp and exec");
  }
  if (probe.http || probe.tcp) {
    CheckAddress(target, causes);
    CheckRange("port", target.port, 0, 65535, causes);
    if (target.port == 0) {
      CheckRange(probe.http ? "probe.http.port" : "probe.tcp.port", EffectivePort(target), 1, 65535,
                 causes);
    }
  }
  if (probe.http) CheckHttp(*probe.http, causes);
  if (probe.exec) CheckExec(*probe.exec, causes);
  if (!target.reported_by.empty() && !probe.exec) {
    AddCause(causes, "reported_by", "is only allowed with an exec probe; clear it");
  }
  CheckTimings(probe, causes);
  if (causes.empty()) return Status::Ok();
  return Status::InvalidArgument("invalid probe target", std::move(causes));
}

}  // namespace svcd::probe
