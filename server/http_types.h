// The request, response and handler types that resource handlers are written
// against. They carry plain strings so that handlers and their tests never
// include the HTTP library.

#ifndef SVCD_SERVER_HTTP_TYPES_H_
#define SVCD_SERVER_HTTP_TYPES_H_

#include <functional>
#include <map>
#include <string>

namespace svcd::server {

// A request as passed to a handler, after routing, authentication and reading
// the whole body.
struct Request {
  std::string method;  // upper case, such as "GET"
  std::string path;    // percent-decoded, without the query
  // Percent-decoded query parameters. When a name repeats, the first value
  // wins, as with Go's url.Values.Get.
  std::map<std::string, std::string> query;
  // Header names in lower case. Repeated headers are joined with ", ".
  // Authorization is removed unless the route is AccessRule::kPublic.
  std::map<std::string, std::string> headers;
  std::string body;  // the bytes as sent, whatever the content type
  // The authenticated user and role ("viewer", "editor" or "admin"). Without
  // a token file every request is "anonymous" with role "admin". On a route
  // with AccessRule::kPublic both are empty unless a valid token was sent.
  std::string user;
  std::string role;
  std::string request_id;  // 16 hex digits, also sent back as X-Request-Id
};

// A response as a handler returns it.
struct Response {
  int status = 200;
  std::string content_type = "application/json";  // empty: no Content-Type header
  std::string body;
  // When set, the body is the bytes of this file, streamed from disk, and
  // `body` is ignored. The server replies 500 when it cannot open the file.
  std::string body_file;
  // Extra headers. Content-Type, Content-Length and X-Request-Id are set by
  // the server and are ignored here.
  std::map<std::string, std::string> headers;
};

// Values of the `{name}` segments of a route pattern, percent-decoded.
using PathParams = std::map<std::string, std::string>;

// Handles one request. Runs on a worker thread of the server's pool, so it
// may block (database calls, waits), but each call holds one worker for its
// whole duration. An exception thrown by a handler is logged and turned into
// a 500 Status reply, so it never ends the process.
using Handler = std::function<Response(const Request&, const PathParams&)>;

// Roles of a token, from least to most privileged.
enum class Role { kViewer = 1, kEditor = 2, kAdmin = 3 };

// Returns "viewer", "editor" or "admin".
const char* RoleName(Role role);

// The least privileged caller a route admits.
enum class AccessRule {
  // No bearer token is needed. The handler authenticates the caller itself
  // where it must, as launcher reports do with their per-dispatch secret.
  kPublic,
  kViewer,
  kEditor,
  kAdmin,
};

// Returns true when `role` satisfies `rule`.
bool RoleSatisfies(Role role, AccessRule rule);

}  // namespace svcd::server

#endif  // SVCD_SERVER_HTTP_TYPES_H_
