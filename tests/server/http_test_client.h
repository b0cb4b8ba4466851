// Test clients for the HTTP server tests: curl run as a process, and a raw
// TCP client for requests curl will not send (a length without a body,
// malformed escapes).

#ifndef SVCD_TESTS_SERVER_HTTP_TEST_CLIENT_H_
#define SVCD_TESTS_SERVER_HTTP_TEST_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace svcd::server::testing {

struct HttpResult {
  int status = 0;                              // 0 when no response was parsed
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
  std::chrono::milliseconds elapsed{0};
  std::string error;  // curl's stderr or the socket error, when any
};

// Runs `curl ARGS...` and returns what it wrote to stdout; `error` receives
// its stderr.
std::string RunCurl(const std::vector<std::string>& args, std::string* error);

// Runs `curl -sS -i --max-time 30 ARGS...` and parses the final response
// (skipping interim 1xx responses).
HttpResult Curl(const std::vector<std::string>& args);

// Sends `request` to 127.0.0.1:`port`, reads until the server closes the
// connection or `timeout` passes, and parses the response.
HttpResult RawRequest(uint16_t port, const std::string& request,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Writes `size` pseudo-random bytes to a new file under the test's temporary
// directory and returns its path.
std::string WriteRandomFile(const std::string& name, size_t size);

// Writes `contents` to a new file under the test's temporary directory and
// returns its path.
std::string WriteFile(const std::string& name, const std::string& contents);

}  // namespace svcd::server::testing

#endif  // SVCD_TESTS_SERVER_HTTP_TEST_CLIENT_H_
