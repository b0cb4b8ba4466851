#include "api/rules.h"

#include <arpa/inet.h>

#include <cctype>
#include <charconv>
#include <map>
#include <string>

#include "api/document.h"

namespace svcd::api {
namespace {

bool IsAlnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

// A DNS label as RFC 1123 allows it, in either case: alphanumerics and '-',
// not starting or ending with '-', at most 63 characters.
bool IsDnsLabel(std::string_view label, bool lowercase_only) {
  if (label.empty() || label.size() > 63) return false;
  if (!IsAlnum(label.front()) || !IsAlnum(label.back())) return false;
  for (char c : label) {
    if (lowercase_only && std::isupper(static_cast<unsigned char>(c))) return false;
    if (!IsAlnum(c) && c != '-') return false;
  }
  return true;
}

bool IsDnsName(std::string_view name, bool lowercase_only) {
  if (name.empty() || name.size() > 253) return false;
  size_t start = 0;
  std::string_view last;
  while (true) {
    size_t dot = name.find('.', start);
    std::string_view label = name.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (!IsDnsLabel(label, lowercase_only)) return false;
    last = label;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  // An all-numeric last label would make "10.0.0.300" a valid name.
  for (char c : last) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return true;
  }
  return false;
}

bool IsIpLiteral(std::string_view value, int family) {
  std::string copy(value);
  unsigned char buffer[16];
  return inet_pton(family, copy.c_str(), buffer) == 1;
}

bool IsLabelName(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  if (!IsAlnum(name.front()) || !IsAlnum(name.back())) return false;
  for (char c : name) {
    if (!IsAlnum(c) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

}  // namespace

std::string CheckHostAddress(std::string_view value) {
  if (IsIpLiteral(value, AF_INET) || IsIpLiteral(value, AF_INET6)) return "";
  if (IsDnsName(value, false)) return "";
  return "must be an IPv4 address, an IPv6 literal or a DNS name, without scheme, port, path or "
         "spaces";
}

std::string CheckWorkerAddress(std::string_view value) {
  constexpr char kShape[] = "must be host:port, such as 10.0.0.12:27777 or [fd00::1]:27777";
  size_t colon = value.rfind(':');
  if (colon == std::string_view::npos) return kShape;
  std::string_view host = value.substr(0, colon);
  std::string_view port_text = value.substr(colon + 1);
  int port = 0;
  auto [end, error] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || error != std::errc() || end != port_text.data() + port_text.size() ||
      port < 1 || port > 65535 || port_text.front() == '0') {
    return std::string(kShape) + ", with a port in 1..65535";
  }
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    return IsIpLiteral(host.substr(1, host.size() - 2), AF_INET6) ? "" : kShape;
  }
  if (IsIpLiteral(host, AF_INET) || IsDnsName(host, false)) return "";
  return kShape;
}

std::string CheckEnvNameNotReserved(std::string_view value) {
  if (value.substr(0, 5) == kReservedEnvPrefix) {
    return "names starting with SVCD_ are reserved for the variables svcd sets on every node; "
           "rename it";
  }
  return "";
}

std::string CheckLabelKey(std::string_view value) {
  size_t slash = value.find('/');
  std::string_view name = value;
  if (slash != std::string_view::npos) {
    std::string_view prefix = value.substr(0, slash);
    if (!IsDnsName(prefix, true)) {
      return "the prefix before '/' must be a lowercase DNS subdomain of at most 253 characters";
    }
    name = value.substr(slash + 1);
  }
  if (!IsLabelName(name)) {
    return "the name must be 1 to 63 characters of letters, digits, '-', '_' or '.', starting "
           "and ending with a letter or digit";
  }
  return "";
}

std::string CheckLabelValue(std::string_view value) {
  if (value.empty() || IsLabelName(value)) return "";
  return "must be empty or 1 to 63 characters of letters, digits, '-', '_' or '.', starting and "
         "ending with a letter or digit";
}

std::string CheckHeaderValue(std::string_view value) {
  for (char c : value) {
    unsigned char u = static_cast<unsigned char>(c);
    if ((u < 0x20 && u != '\t') || u == 0x7f) {
      return "must not contain CR, LF or other control characters";
    }
  }
  return "";
}

std::string RenderedArgName(std::string_view name) {
  if (!name.empty() && name.front() == '-') return std::string(name);
  return "--" + std::string(name);
}

void CheckUniqueEnvNames(Reporter& reporter, std::string_view field,
                         const std::vector<EnvVar>& envs) {
  std::map<std::string_view, size_t> first;
  for (size_t i = 0; i < envs.size(); ++i) {
    auto [it, inserted] = first.emplace(envs[i].name, i);
    if (inserted || envs[i].name.empty()) continue;
    reporter.Error(std::string(field) + "[" + std::to_string(i) + "].name",
                   "duplicate env name " + QuoteForMessage(envs[i].name) + " (also at index " +
                       std::to_string(it->second) + "); keep one of them");
  }
}

void CheckUniqueArgNames(Reporter& reporter, std::string_view field, const std::vector<Arg>& args) {
  std::map<std::string, size_t> first;
  for (size_t i = 0; i < args.size(); ++i) {
    if (!args[i].name || args[i].name->empty()) continue;
    auto [it, inserted] = first.emplace(RenderedArgName(*args[i].name), i);
    if (inserted) continue;
    reporter.Error(std::string(field) + "[" + std::to_string(i) + "].name",
                   "duplicate arg name " + QuoteForMessage(*args[i].name) + " (also at index " +
                       std::to_string(it->second) + "); keep one of them");
  }
}

}  // namespace svcd::api
