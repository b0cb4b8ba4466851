// A small HTTP client for the benchmark's calls to svcd's REST API.

#ifndef SVCD_BENCH_HTTP_CLIENT_H_
#define SVCD_BENCH_HTTP_CLIENT_H_

#include <chrono>
#include <memory>
#include <string>

#include "api/status.h"

namespace svcd::bench {

struct HttpReply {
  int status = 0;
  std::string body;
};

// Sends requests to one server, such as "http://127.0.0.1:7070", reusing its
// connections. Thread-compatible: use one client per thread.
class HttpClient {
 public:
  // `timeout` bounds each request.
  HttpClient(std::string base_url, std::chrono::milliseconds timeout);
  ~HttpClient();

  // Sends `method` to `path` (starting with '/') and returns the reply,
  // whatever its HTTP status. A non-empty `body` is sent with
  // `content_type`. Unavailable, naming the URL, when no reply arrives
  // (connection refused, timeout).
  StatusOr<HttpReply> Send(const std::string& method, const std::string& path,
                           const std::string& body = "",
                           const std::string& content_type = "application/json");

  const std::string& base_url() const { return base_url_; }

 private:
  struct Impl;  // the cpprestsdk client, kept out of this header
  std::string base_url_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace svcd::bench

#endif  // SVCD_BENCH_HTTP_CLIENT_H_
