// The svcd binary under test, started as a child process on
// 127.0.0.1 with a free port, and reached over real HTTP with curl.

#ifndef SVCD_TESTS_E2E_SVCD_SERVER_H_
#define SVCD_TESTS_E2E_SVCD_SERVER_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "tests/e2e/process.h"

namespace svcd::e2e {

// Paths of the binaries under test, set by tests/e2e/CMakeLists.txt.
inline constexpr char kSvcdBinary[] = SVCD_BINARY;
inline constexpr char kSvcctlBinary[] = SVCCTL_BINARY;

struct SvcdOptions {
  std::string store_url;                // --store
  std::string store_password;           // passed as SVCD_STORE_PASSWORD; empty for SQLite
  std::string data_dir;                 // --data-dir; svcd.log is written there too
  std::string token_file;               // --token-file; empty: none
  size_t max_body_bytes = 0;            // --max-body-bytes; 0: svcd's default
  std::vector<std::string> extra_args;  // appended to the command line
  std::vector<std::string> extra_env;   // NAME=VALUE entries added to the environment
};

// Returns the environment svcd runs with: PATH, plus the store password.
std::vector<std::string> SvcdEnvironment(const SvcdOptions& options);

// Returns svcd's command line for `options`, listening on 127.0.0.1:`port`.
std::vector<std::string> SvcdArgv(const SvcdOptions& options, uint16_t port);

class SvcdServer {
 public:
  // Starts svcd and waits up to `timeout` until GET /healthz returns 200.
  // Retries with another port when the picked one was taken meanwhile.
  // Returns "" on success, otherwise what went wrong with svcd's log.
  std::string Start(const SvcdOptions& options,
                    std::chrono::milliseconds timeout = std::chrono::seconds(30));

  // Sends SIGTERM and waits for the exit; returns the exit code.
  int Stop();

  bool Running() { return process_.Running(); }
  pid_t pid() const { return process_.pid(); }
  uint16_t port() const { return port_; }
  const std::string& base_url() const { return base_url_; }
  // Returns svcd's stdout and stderr so far.
  std::string Log() const;

 private:
  BackgroundProcess process_;
  SvcdOptions options_;
  uint16_t port_ = 0;
  std::string base_url_;
};

struct HttpReply {
  int status = 0;                              // 0 when curl got no response
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
  std::string curl_error;  // curl's stderr

  // Parses the body as JSON; a discarded value when it is not JSON.
  nlohmann::json Json() const;
  // Formats status, body and curl's error for a failure message.
  std::string Describe() const;
};

struct RequestOptions {
  std::string content_type = "application/yaml";
  std::string token;                   // sent as "Authorization: Bearer TOKEN" when set
  std::vector<std::string> curl_args;  // appended to curl's command line
  std::chrono::seconds timeout{30};    // curl --max-time

  RequestOptions& WithContentType(std::string type) {
    content_type = std::move(type);
    return *this;
  }
  RequestOptions& WithToken(std::string value) {
    token = std::move(value);
    return *this;
  }
  RequestOptions& WithCurlArgs(std::vector<std::string> args) {
    curl_args = std::move(args);
    return *this;
  }
};

// Sends one request with curl. A non-empty `body` goes through curl's stdin.
HttpReply SendRequest(const std::string& method, const std::string& url, std::string_view body,
                      const RequestOptions& options = {});

}  // namespace svcd::e2e

#endif  // SVCD_TESTS_E2E_SVCD_SERVER_H_
