// Router: maps a method and a path to a handler.
//
// Patterns are absolute paths whose segments are either literal text or a
// `{name}` parameter that matches exactly one non-empty segment, such as
// "/apis/svcd.io/v1alpha1/namespaces/{ns}/servicedeploys/{name}". Matching
// is exact and case-sensitive, segment by segment, on the percent-decoded
// path, so "%2F" inside a segment never splits it. One trailing slash on the
// request path is ignored.

#ifndef SVCD_SERVER_ROUTER_H_
#define SVCD_SERVER_ROUTER_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/status.h"
#include "server/http_types.h"

namespace svcd::server {

// The route that matched a request.
struct RouteMatch {
  const Handler* handler = nullptr;  // owned by the router
  AccessRule access = AccessRule::kAdmin;
  PathParams params;
  std::string pattern;  // the matched pattern, for logs
};

// The outcome of Router::Match.
struct RouteLookup {
  std::optional<RouteMatch> match;   // empty: 404, or 405 when `allowed` is not
  std::vector<std::string> allowed;  // methods registered for the path, for 405's Allow header
};

class Router {
 public:
  // Registers `handler` for `method` (such as "GET") on `pattern`.
  // Returns InvalidArgument, and registers nothing, when the pattern is not
  // absolute, has an empty segment, a malformed or repeated `{name}`, or
  // when the same method and an equivalent pattern (same literals, parameter
  // names ignored) are already registered. Not thread-safe: register every
  // route before the server starts. Match may then be called concurrently.
  Status Add(std::string method, std::string_view pattern, Handler handler, AccessRule access);

  // Finds the route for `method` and a path already split by SplitPath.
  // When several patterns match, the one whose first differing segment is a
  // literal wins, so "/hosts/all" is preferred to "/hosts/{name}".
  RouteLookup Match(std::string_view method, const std::vector<std::string>& segments) const;

 private:
  struct Segment {
    bool is_param = false;
    std::string text;  // literal text, or the parameter name
  };
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<Segment> segments;
    Handler handler;
    AccessRule access;
  };

  static bool SegmentsMatch(const std::vector<Segment>& segments,
                            const std::vector<std::string>& parts, PathParams* params);
  static bool MoreSpecific(const Route& a, const Route& b);

  std::vector<Route> routes_;
};

// Splits a raw path into percent-decoded segments, dropping one trailing
// slash. Returns InvalidArgument for a path that is not absolute, has a
// malformed escape or decodes to a NUL byte.
StatusOr<std::vector<std::string>> SplitPath(std::string_view raw_path);

// Decodes "%XX" escapes, and "+" as a space when `plus_is_space` (query
// strings). Returns InvalidArgument naming the bad escape, or for a NUL byte.
StatusOr<std::string> PercentDecode(std::string_view text, bool plus_is_space);

// Parses a raw query string ("a=1&b=x%20y") into decoded name/value pairs.
// A name without "=" gets an empty value; for a repeated name the first value
// is kept. Returns InvalidArgument for a malformed escape.
StatusOr<std::map<std::string, std::string>> ParseQuery(std::string_view raw_query);

}  // namespace svcd::server

#endif  // SVCD_SERVER_ROUTER_H_
