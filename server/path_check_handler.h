// Checks of the path segments that name a namespace or an object, shared by
// every REST route that has them.
//
// The router matches `{ns}` and `{name}` against any non-empty segment, so a
// handler would otherwise look up "Bad_NS!" in the store, find nothing and
// return an empty list or a plain 404. These checks apply the rules of
// metadata.namespace and metadata.name instead and reject the request with
// 400 BadRequest naming the segment and the rule.
//
// Header-only because both svcd_apiserver and svcd_archive_routes use it, and
// svcd_apiserver already links svcd_archive_routes.

#ifndef SVCD_SERVER_PATH_CHECK_HANDLER_H_
#define SVCD_SERVER_PATH_CHECK_HANDLER_H_

#include <optional>
#include <regex>
#include <string>
#include <utility>

#include "api/document.h"
#include "api/fields.h"
#include "api/rules.h"
#include "server/http_types.h"
#include "server/status_response.h"

namespace svcd::server {

// Returns true when `value` is a valid metadata.name or metadata.namespace:
// a DNS-1123 label of at most 63 characters.
inline bool IsObjectNameSegment(const std::string& value) {
  static const std::regex kLabel(api::kDns1123LabelPattern);
  return value.size() <= static_cast<size_t>(api::kMaxNameLength) &&
         std::regex_match(value, kLabel);
}

// Checks the `{ns}` and `{name}` parameters of a matched path with the rules
// of metadata.namespace and metadata.name. Returns a 400 BadRequest response
// naming the first invalid segment and the rule, or nullopt when both are
// valid or absent.
inline std::optional<Response> CheckPathSegments(const PathParams& params) {
  for (const auto& [param, field] : {std::pair<const char*, const char*>{"ns", "namespace"},
                                     std::pair<const char*, const char*>{"name", "name"}}) {
    auto it = params.find(param);
    if (it == params.end()) continue;
    if (IsObjectNameSegment(it->second)) continue;
    return BadRequestResponse(
        "invalid " + std::string(field) + " " + api::QuoteForMessage(it->second) +
        " in the request path: like metadata." + field +
        ", it must be at most 63 lower-case letters, digits or '-', starting and ending with a "
        "letter or digit");
  }
  return std::nullopt;
}

// Wraps `handler` so that it runs only when CheckPathSegments accepts the
// path; otherwise the wrapper returns the 400 response.
inline Handler WithCheckedPathSegments(Handler handler) {
  return [handler = std::move(handler)](const Request& request, const PathParams& params) {
    if (std::optional<Response> rejected = CheckPathSegments(params)) return *rejected;
    return handler(request, params);
  };
}

}  // namespace svcd::server

#endif  // SVCD_SERVER_PATH_CHECK_HANDLER_H_
