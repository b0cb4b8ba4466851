// The HTTP client svcctl talks to svcd with.

#ifndef SVCD_CMD_SVCCTL_CLIENT_H_
#define SVCD_CMD_SVCCTL_CLIENT_H_

#include <chrono>
#include <string>

#include "api/status.h"

namespace svcd::ctl {

struct ClientOptions {
  std::string server = "http://127.0.0.1:7070";  // --server, else SVCD_SERVER
  std::string token;                              // --token, else SVCD_TOKEN
  std::chrono::seconds timeout{30};               // per request
};

struct HttpReply {
  int status = 0;
  std::string content_type;
  std::string body;
};

class ApiClient {
 public:
  explicit ApiClient(ClientOptions options) : options_(std::move(options)) {}

  // Sends one request and returns the reply, whatever its HTTP status. Fails
  // with Unavailable, naming the URL, when svcd cannot be reached, and with
  // DeadlineExceeded when no reply arrives within the timeout.
  // `path_and_query` starts with '/'.
  StatusOr<HttpReply> Send(const std::string& method, const std::string& path_and_query,
                           const std::string& body = "",
                           const std::string& content_type = "application/json") const;

  const ClientOptions& options() const { return options_; }

 private:
  ClientOptions options_;
};

// Turns a non-2xx reply into a Status: a Kubernetes Status body gives the
// code, message and causes; any other body is quoted, shortened.
Status ReplyToStatus(const HttpReply& reply);

// Percent-encodes `text` for use in a URL query value or path segment.
std::string UrlEncode(const std::string& text);

}  // namespace svcd::ctl

#endif  // SVCD_CMD_SVCCTL_CLIENT_H_
