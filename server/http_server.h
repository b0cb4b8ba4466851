// HttpServer: the HTTP front of svcd. It accepts connections, authenticates
// bearer tokens, routes requests to handlers on a bounded worker pool, and
// serves /healthz, /readyz and /version itself.
//
// Every request goes through these steps, and the first one that fails
// replies with a Kubernetes Status body:
//   1. /healthz and /version are served at once on the I/O thread, so they
//      stay responsive while every worker is busy. While stopping, every other
//      request gets 503.
//   2. The path and query are decoded (400 when malformed) and routed (404,
//      or 405 with an Allow header).
//   3. Unless the route is AccessRule::kPublic, the bearer token is checked
//      (401) and the role compared with the route's rule (403).
//   4. A declared Content-Length above the body limit gets 413 before any of
//      the body is read. A chunked body is read in bounded pieces and
//      discarded past the limit, then gets 413. The HTTP library buffers
//      incoming bytes without backpressure, so when more than the limit is
//      waiting unread the server stops reading and replies 413 at once. The
//      memory a request uses stays below about twice the limit.
//   5. The handler, or the readiness check for /readyz, runs on a worker
//      thread; when the wait queue is full the request gets 503.
// Replies sent before the body was read carry "Connection: close", because
// the unread rest of the body would otherwise be parsed as the next request.
//
// Bodies are passed to handlers as bytes whatever their content type.
// NOTE: the HTTP library (cpprestsdk 2.10.18) sends no "100 Continue"
// interim response, so a client that sends "Expect: 100-continue" waits for
// its own timeout (1 s for curl) before sending the body; the body then
// arrives intact.

#ifndef SVCD_SERVER_HTTP_SERVER_H_
#define SVCD_SERVER_HTTP_SERVER_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "api/status.h"
#include "server/auth.h"
#include "server/router.h"

namespace svcd::server {

// One finished request, as passed to HttpServerOptions::request_observer.
struct RequestRecord {
  std::string_view method;  // as the client sent it
  // The matched route pattern, the path of a built-in endpoint ("/healthz",
  // "/readyz", "/version"), or empty when no route matched.
  std::string_view route;
  int status = 0;                                 // the HTTP status code sent
  std::chrono::steady_clock::duration elapsed{};  // from arrival to the reply
};

struct HttpServerOptions {
  // "HOST:PORT" or "[IPV6]:PORT"; port 0 picks a free port, see BoundPort.
  // Without an authenticator only loopback addresses are accepted.
  std::string listen = "127.0.0.1:7070";
  // Largest accepted request body in bytes; larger bodies get 413.
  size_t max_body_bytes = 1 << 20;
  // Threads that run handlers and the readiness check.
  size_t workers = 8;
  // Requests that may wait for a free worker; beyond that they get 503.
  size_t max_queued_requests = 1024;
  // Called for GET /readyz on a worker thread: OK replies 200, an error 503
  // with its message. Unset means always ready. It should return within a
  // few seconds, like a database ping.
  std::function<Status()> readiness_check;
  // Called once per request when its reply is sent, on the I/O or worker
  // thread that sends it, such as for request metrics. It must be fast and
  // must not throw. Unset means no call.
  std::function<void(const RequestRecord&)> request_observer;
};

class HttpServer {
 public:
  // `authenticator` may be null: every request then acts as user "anonymous"
  // with role admin, and Start accepts loopback addresses only.
  HttpServer(HttpServerOptions options, Router router,
             std::unique_ptr<TokenAuthenticator> authenticator);

  // Calls Stop with a 10 s timeout if the server is running, then waits for
  // every handler still running to return.
  ~HttpServer();

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds the listen address and starts serving. Returns InvalidArgument for
  // a malformed address; FailedPrecondition for a non-loopback address
  // without an authenticator, for an IPv6 address (the HTTP library cannot
  // bind IPv6 literals) or when called twice; Unavailable when the address
  // cannot be bound, with the system's reason.
  Status Start();

  // Stops accepting requests (new ones get 503), waits up to `timeout` for
  // requests in progress to finish, then closes the listener and every
  // connection. Returns OK when all finished in time, DeadlineExceeded naming
  // how many were still running; their handlers keep their worker threads
  // until they return. Safe to call more than once and before Start.
  Status Stop(std::chrono::milliseconds timeout);

  // Returns the bound TCP port (the picked one when the address had port 0),
  // or 0 before Start.
  uint16_t BoundPort() const;

  // Returns "http://HOST:PORT" of the bound address, or "" before Start.
  std::string BaseUrl() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace svcd::server

#endif  // SVCD_SERVER_HTTP_SERVER_H_
