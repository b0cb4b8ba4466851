// One HTTP POST to one PowerJob server, with a whole-call timeout and a
// classification of how it failed, so the client can tell a request that
// never left svcd from one whose response was lost.

#ifndef SVCD_POWERJOB_HTTP_TRANSPORT_H_
#define SVCD_POWERJOB_HTTP_TRANSPORT_H_

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace svcd::powerjob {

struct HttpPost {
  std::string base_url;  // "http://host:port", no trailing slash
  std::string path;      // "/openApi/runJob"
  std::vector<std::pair<std::string, std::string>> headers;
  std::string content_type;
  std::string body;
  std::chrono::milliseconds timeout{10000};  // for the whole call
};

// The outcome of a POST.
enum class PostOutcome {
  kAnswered,      // a whole HTTP response arrived (any status code)
  kNotSent,       // no connection: refused, unresolvable or unreachable; nothing was sent
  kNoAnswer,      // the connection closed or reset before any byte of the response
  kTimedOut,      // no whole response within the timeout
  kBrokenAnswer,  // the response started but broke off
};

struct HttpAnswer {
  PostOutcome outcome = PostOutcome::kNotSent;
  int status = 0;                                            // with kAnswered
  std::string body;                                          // with kAnswered
  std::vector<std::pair<std::string, std::string>> headers;  // with kAnswered
  std::string error;                                         // otherwise: what failed, in words
};

// Sends one POST with cpprestsdk, on a connection of its own: a client is
// made for every call, so cpprestsdk never re-sends the request on a pooled
// connection that the server closed. Catches every exception and returns it
// as an outcome.
HttpAnswer Post(const HttpPost& post);

}  // namespace svcd::powerjob

#endif  // SVCD_POWERJOB_HTTP_TRANSPORT_H_
