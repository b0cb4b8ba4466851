#include "server/router.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <utility>

namespace svcd::server {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsParamName(std::string_view name) {
  if (name.empty() || !(std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_')) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

}  // namespace

StatusOr<std::string> PercentDecode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '+' && plus_is_space) {
      out.push_back(' ');
      continue;
    }
    if (c != '%') {
      out.push_back(c);
      continue;
    }
    int high = i + 1 < text.size() ? HexValue(text[i + 1]) : -1;
    int low = i + 2 < text.size() ? HexValue(text[i + 2]) : -1;
    if (high < 0 || low < 0) {
      return Status::InvalidArgument("malformed percent escape at offset " + std::to_string(i) +
                                     ": expected % followed by two hex digits");
    }
    out.push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  if (out.find('\0') != std::string::npos) {
    return Status::InvalidArgument("a NUL byte (%00) is not allowed in paths or query strings");
  }
  return out;
}

StatusOr<std::vector<std::string>> SplitPath(std::string_view raw_path) {
  if (raw_path.empty() || raw_path[0] != '/') {
    return Status::InvalidArgument("request path must start with '/'");
  }
  std::string_view rest = raw_path.substr(1);
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);

  std::vector<std::string> segments;
  if (rest.empty()) return segments;
  while (true) {
    size_t slash = rest.find('/');
    StatusOr<std::string> segment = PercentDecode(rest.substr(0, slash), false);
    if (!segment.ok()) return segment.status();
    segments.push_back(std::move(segment).value());
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  return segments;
}

StatusOr<std::map<std::string, std::string>> ParseQuery(std::string_view raw_query) {
  std::map<std::string, std::string> query;
  while (!raw_query.empty()) {
    size_t amp = raw_query.find('&');
    std::string_view pair = raw_query.substr(0, amp);
    raw_query = amp == std::string_view::npos ? std::string_view() : raw_query.substr(amp + 1);
    if (pair.empty()) continue;

    size_t eq = pair.find('=');
    StatusOr<std::string> name = PercentDecode(pair.substr(0, eq), true);
    if (!name.ok()) return name.status();
    std::string value;
    if (eq != std::string_view::npos) {
      StatusOr<std::string> decoded = PercentDecode(pair.substr(eq + 1), true);
      if (!decoded.ok()) return decoded.status();
      value = std::move(decoded).value();
    }
    query.emplace(std::move(name).value(), std::move(value));  // keeps the first value
  }
  return query;
}

Status Router::Add(std::string method, std::string_view pattern, Handler handler,
                   AccessRule access) {
  std::string context = "route " + method + " " + std::string(pattern);
  if (method.empty() || !handler) {
    return Status::InvalidArgument(context + ": method and handler must be set");
  }
  if (pattern.empty() || pattern[0] != '/') {
    return Status::InvalidArgument(context + ": pattern must start with '/'");
  }

  // Parse the segments, checking each parameter and literal.
  Route route{method, std::string(pattern), {}, std::move(handler), access};
  std::set<std::string> names;
  std::string_view rest = pattern.substr(1);
  while (!rest.empty()) {
    size_t slash = rest.find('/');
    std::string_view text = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    if (text.empty() || (slash != std::string_view::npos && rest.empty())) {
      return Status::InvalidArgument(context + ": empty segment or trailing '/'");
    }
    Segment segment;
    if (text.front() == '{' && text.back() == '}') {
      segment.is_param = true;
      segment.text = std::string(text.substr(1, text.size() - 2));
      if (!IsParamName(segment.text) || !names.insert(segment.text).second) {
        return Status::InvalidArgument(context + ": parameter {" + segment.text +
                                       "} must be a unique identifier");
      }
    } else if (text.find_first_of("{}") != std::string_view::npos) {
      return Status::InvalidArgument(context + ": '{' and '}' may only enclose a whole segment");
    } else {
      segment.text = std::string(text);
    }
    route.segments.push_back(std::move(segment));
  }

  // Reject a route that could never be chosen because an equivalent one exists.
  for (const Route& existing : routes_) {
    if (existing.method != route.method || existing.segments.size() != route.segments.size()) {
      continue;
    }
    bool same = std::equal(existing.segments.begin(), existing.segments.end(),
                           route.segments.begin(), [](const Segment& a, const Segment& b) {
                             return a.is_param == b.is_param && (a.is_param || a.text == b.text);
                           });
    if (same) {
      return Status::InvalidArgument(context + ": conflicts with route " + existing.method + " " +
                                     existing.pattern);
    }
  }
  routes_.push_back(std::move(route));
  return Status::Ok();
}

bool Router::SegmentsMatch(const std::vector<Segment>& segments,
                           const std::vector<std::string>& parts, PathParams* params) {
  if (segments.size() != parts.size()) return false;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (segments[i].is_param) {
      if (parts[i].empty()) return false;
      (*params)[segments[i].text] = parts[i];
    } else if (segments[i].text != parts[i]) {
      return false;
    }
  }
  return true;
}

bool Router::MoreSpecific(const Route& a, const Route& b) {
  for (size_t i = 0; i < a.segments.size() && i < b.segments.size(); ++i) {
    if (a.segments[i].is_param != b.segments[i].is_param) return !a.segments[i].is_param;
  }
  return false;
}

RouteLookup Router::Match(std::string_view method, const std::vector<std::string>& segments) const {
  RouteLookup lookup;
  const Route* best = nullptr;
  PathParams best_params;
  for (const Route& route : routes_) {
    PathParams params;
    if (!SegmentsMatch(route.segments, segments, &params)) continue;
    if (route.method != method) {
      if (std::find(lookup.allowed.begin(), lookup.allowed.end(), route.method) ==
          lookup.allowed.end()) {
        lookup.allowed.push_back(route.method);
      }
      continue;
    }
    if (best == nullptr || MoreSpecific(route, *best)) {
      best = &route;
      best_params = std::move(params);
    }
  }
  if (best != nullptr) {
    lookup.match = RouteMatch{&best->handler, best->access, std::move(best_params), best->pattern};
    lookup.allowed.clear();
  }
  return lookup;
}

}  // namespace svcd::server
