// HttpServer on cpprestsdk's http_listener (cpprestsdk 2.10.18, Boost.Asio
// backend). cpprestsdk types stay in this file so that the public headers
// compile without it.
//
// Facts about that backend that shape this file:
// - The listener callback runs on an I/O thread of cpprestsdk's shared
//   thread pool, so it only decodes, routes and checks, and never blocks.
// - The backend starts pushing the body into the request's stream as soon as
//   the headers are parsed, before the callback runs, and sends a reply only
//   after the whole body has been received. To reply at once to a request
//   whose body will not be read, the receive is ended with an error through
//   _complete(), the same call the backend makes when a connection breaks.
// - A pplx task whose exception is never observed calls std::terminate when
//   it is destroyed, so every task here ends in a continuation that calls
//   get() inside try/catch.

#include "server/http_server.h"

#include <cpprest/filestream.h>
#include <cpprest/http_listener.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <utility>
#include <vector>

#include "api/version.h"
#include "server/listen_address.h"
#include "server/status_response.h"
#include "server/worker_pool.h"

namespace svcd::server {
namespace {

namespace http = web::http;
using web::http::experimental::listener::http_listener;

constexpr size_t kReadChunkBytes = 64 * 1024;
constexpr int kBindAttempts = 5;
constexpr std::chrono::milliseconds kDestructorStopTimeout(10000);

std::string NewRequestId() {
  thread_local std::mt19937_64 generator(std::random_device{}());
  char text[17];
  std::snprintf(text, sizeof(text), "%016llx", static_cast<unsigned long long>(generator()));
  return text;
}

std::string ToLower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// Opens `path` for a streamed response body and returns its size.
StatusOr<uint64_t> OpenBodyFile(const std::string& path, concurrency::streams::istream& stream) {
  std::error_code error;
  const uintmax_t bytes = std::filesystem::file_size(path, error);
  if (error) return Status::NotFound("cannot stat " + path + ": " + error.message());
  try {
    stream = concurrency::streams::file_stream<uint8_t>::open_istream(path).get();
  } catch (const std::exception& e) {
    return Status::NotFound("cannot open " + path + ": " + e.what());
  }
  return static_cast<uint64_t>(bytes);
}

Response TextResponse(int status, std::string body) {
  Response response;
  response.status = status;
  response.content_type = "text/plain; charset=utf-8";
  response.body = std::move(body);
  return response;
}

}  // namespace

class HttpServer::Impl {
 public:
  struct Exchange;

  Impl(HttpServerOptions options, Router router, std::unique_ptr<TokenAuthenticator> authenticator)
      : options_(std::move(options)), router_(std::move(router)), auth_(std::move(authenticator)) {}

  Status Start();
  Status Stop(std::chrono::milliseconds timeout);
  void WaitIdle();
  uint16_t port() const { return port_.load(); }
  std::string BaseUrl() const;

  void BeginRequest();
  void EndRequest();

 private:
  Status Bind(const std::string& host, uint16_t port);
  void OnRequest(http::http_request message);
  void Serve(const std::shared_ptr<Exchange>& exchange);
  bool ServeBuiltIn(const std::shared_ptr<Exchange>& exchange);
  std::optional<RouteLookup> DecodeAndRoute(const std::shared_ptr<Exchange>& exchange);
  void StartBody(const std::shared_ptr<Exchange>& exchange);
  bool Authorize(const std::shared_ptr<Exchange>& exchange, AccessRule rule);
  void ReadBody(const std::shared_ptr<Exchange>& exchange);
  void OnBodyRead(const std::shared_ptr<Exchange>& exchange, pplx::task<size_t> read);
  void OnBodyComplete(const std::shared_ptr<Exchange>& exchange);
  void Dispatch(const std::shared_ptr<Exchange>& exchange, std::function<Response()> work);
  Response CallHandler(const Exchange& exchange);
  Response CheckReadiness();
  // Replies at once without reading the rest of the body, and closes the
  // connection when a body was expected.
  void ReplyAndDropBody(const std::shared_ptr<Exchange>& exchange, Response response);
  // Builds the 413 reply. `bytes` is the body size when `complete`, otherwise
  // the bytes received before reading stopped.
  Response TooLargeResponse(uint64_t bytes, bool complete) const;
  void Reply(const std::shared_ptr<Exchange>& exchange, Response response, bool close_connection);
  void ObserveRequest(const Exchange& exchange, int status,
                      std::chrono::steady_clock::duration elapsed);

  const HttpServerOptions options_;
  const Router router_;
  const std::unique_ptr<TokenAuthenticator> auth_;

  std::mutex lifecycle_mutex_;  // serializes Start and Stop
  std::unique_ptr<WorkerPool> pool_;
  std::unique_ptr<http_listener> listener_;
  std::string host_;
  bool started_ = false;
  bool stopped_ = false;
  std::atomic<uint16_t> port_{0};
  std::atomic<bool> draining_{false};

  std::mutex in_flight_mutex_;
  std::condition_variable idle_;
  size_t in_flight_ = 0;  // guarded by in_flight_mutex_
};

// One request from its arrival to its reply. Owned by shared pointers held
// by the pending continuation or worker task; its destruction ends the
// request for the in-flight count.
struct HttpServer::Impl::Exchange {
  Exchange(HttpServer::Impl* owner, http::http_request message);
  ~Exchange();

  HttpServer::Impl* const impl;
  http::http_request http;
  Request request;
  std::string raw_path;  // still percent-encoded, safe to log
  std::optional<RouteMatch> route;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  std::vector<uint8_t> chunk;
  size_t body_bytes = 0;  // bytes received, including discarded ones
  bool over_limit = false;
  bool built_in = false;  // /healthz, /readyz or /version
  std::atomic<bool> replied{false};
};

HttpServer::Impl::Exchange::Exchange(HttpServer::Impl* owner, http::http_request message)
    : impl(owner), http(std::move(message)) {
  impl->BeginRequest();
}

HttpServer::Impl::Exchange::~Exchange() { impl->EndRequest(); }

void HttpServer::Impl::BeginRequest() {
  std::lock_guard<std::mutex> lock(in_flight_mutex_);
  ++in_flight_;
}

void HttpServer::Impl::EndRequest() {
  std::lock_guard<std::mutex> lock(in_flight_mutex_);
  if (--in_flight_ == 0) idle_.notify_all();
}

void HttpServer::Impl::WaitIdle() {
  std::unique_lock<std::mutex> lock(in_flight_mutex_);
  while (!idle_.wait_for(lock, std::chrono::seconds(10), [this] { return in_flight_ == 0; })) {
    spdlog::warn("http server: waiting for {} request(s) whose handlers have not returned",
                 in_flight_);
  }
}

std::string HttpServer::Impl::BaseUrl() const {
  uint16_t bound = port_.load();
  return bound == 0 ? "" : "http://" + host_ + ":" + std::to_string(bound);
}

Status HttpServer::Impl::Start() {
  std::lock_guard<std::mutex> lock(lifecycle_mutex_);
  if (started_ || stopped_) {
    return Status::FailedPrecondition("the HTTP server was already started; create a new one");
  }
  StatusOr<ListenAddress> address = ParseListenAddress(options_.listen);
  if (!address.ok()) return address.status();
  if (!IsLoopback(*address) && auth_ == nullptr) {
    return Status::FailedPrecondition(
        "cannot listen on " + address->ToString() +
        " without a token file: every request would act as admin. Pass --token-file FILE, or "
        "listen on a loopback address such as 127.0.0.1:" +
        std::to_string(address->port));
  }
  if (address->ipv6) {
    return Status::FailedPrecondition(
        "cannot listen on " + address->ToString() +
        ": the HTTP library (cpprestsdk 2.10.18) cannot bind IPv6 addresses; listen on "
        "127.0.0.1:" +
        std::to_string(address->port) + " instead");
  }
  // "localhost" may resolve to several addresses; binding the IPv4 loopback
  // keeps the bound address and a picked port unambiguous.
  host_ = ToLower(address->host) == "localhost" ? "127.0.0.1" : address->host;

  pool_ = std::make_unique<WorkerPool>(options_.workers, options_.max_queued_requests);
  Status bound;
  for (int attempt = 1; attempt <= kBindAttempts; ++attempt) {
    uint16_t port = address->port;
    if (port == 0) {
      StatusOr<uint16_t> picked = PickFreePort(ListenAddress{host_, 0, false});
      if (!picked.ok()) return picked.status();
      port = *picked;
    }
    bound = Bind(host_, port);
    // Only a picked port can be lost to another process; retry those.
    if (bound.ok() || address->port != 0) break;
  }
  if (!bound.ok()) {
    pool_.reset();
    return bound;
  }
  started_ = true;
  spdlog::info("http server: listening on {} (workers={} max_body_bytes={} auth={})", BaseUrl(),
               options_.workers, options_.max_body_bytes, auth_ ? "token file" : "none");
  return Status::Ok();
}

Status HttpServer::Impl::Bind(const std::string& host, uint16_t port) {
  std::string where = host + ":" + std::to_string(port);
  try {
    auto listener = std::make_unique<http_listener>(web::uri("http://" + where + "/"));
    listener->support([this](http::http_request message) { OnRequest(std::move(message)); });
    listener->open().wait();
    listener_ = std::move(listener);
    port_.store(port);
    return Status::Ok();
  } catch (const std::exception& e) {
    return Status::Unavailable("cannot listen on " + where + ": " + e.what());
  }
}

Status HttpServer::Impl::Stop(std::chrono::milliseconds timeout) {
  std::lock_guard<std::mutex> lock(lifecycle_mutex_);
  if (stopped_ || !started_) {
    stopped_ = true;
    return Status::Ok();
  }
  stopped_ = true;
  draining_.store(true);
  spdlog::info("http server: stopping, waiting up to {} ms for requests in progress",
               timeout.count());

  size_t still_running = 0;
  {
    std::unique_lock<std::mutex> in_flight_lock(in_flight_mutex_);
    idle_.wait_for(in_flight_lock, timeout, [this] { return in_flight_ == 0; });
    still_running = in_flight_;
  }
  try {
    listener_->close().wait();
  } catch (const std::exception& e) {
    spdlog::warn("http server: closing the listener failed: {}", e.what());
  }
  pool_->Shutdown();
  port_.store(0);
  spdlog::info("http server: stopped");
  if (still_running > 0) {
    return Status::DeadlineExceeded(
        std::to_string(still_running) + " request(s) were still in progress after " +
        std::to_string(timeout.count()) + " ms; their connections were closed");
  }
  return Status::Ok();
}

void HttpServer::Impl::OnRequest(http::http_request message) {
  auto exchange = std::make_shared<Exchange>(this, std::move(message));
  try {
    Serve(exchange);
  } catch (const std::exception& e) {
    spdlog::error("http request id={}: failed before its handler ran: {}",
                  exchange->request.request_id, e.what());
    Reply(exchange, StatusResponse(Status::Internal("internal error; see the server log")), true);
  }
}

void HttpServer::Impl::Serve(const std::shared_ptr<Exchange>& exchange) {
  Request& request = exchange->request;
  request.request_id = NewRequestId();
  request.method = exchange->http.method();
  exchange->raw_path = exchange->http.request_uri().path();
  for (const auto& [name, value] : exchange->http.headers()) {
    request.headers[ToLower(name)] = value;
  }
  if (ServeBuiltIn(exchange)) return;
  if (draining_.load()) {
    ReplyAndDropBody(exchange, StatusResponse(Status::Unavailable("the server is shutting down")));
    return;
  }

  std::optional<RouteLookup> lookup = DecodeAndRoute(exchange);
  if (!lookup) return;
  // Set before the token check, so that a 401 or 403 is observed with its route.
  exchange->route = std::move(lookup->match);
  // Unknown paths still need a valid token, so that 404s reveal nothing.
  if (!Authorize(exchange, exchange->route ? exchange->route->access : AccessRule::kViewer)) return;
  if (!exchange->route) {
    std::string allowed;
    for (const std::string& method : lookup->allowed) {
      allowed += (allowed.empty() ? "" : ", ") + method;
    }
    ReplyAndDropBody(exchange,
                     allowed.empty()
                         ? StatusResponse(Status::NotFound("no resource at " + request.path))
                         : MethodNotAllowedResponse(request.method, request.path, allowed));
    return;
  }
  StartBody(exchange);
}

std::optional<RouteLookup> HttpServer::Impl::DecodeAndRoute(
    const std::shared_ptr<Exchange>& exchange) {
  Request& request = exchange->request;
  StatusOr<std::vector<std::string>> segments = SplitPath(exchange->raw_path);
  StatusOr<std::map<std::string, std::string>> query =
      ParseQuery(exchange->http.request_uri().query());
  if (!segments.ok() || !query.ok()) {
    const Status& bad = segments.ok() ? query.status() : segments.status();
    ReplyAndDropBody(exchange,
                     BadRequestResponse("cannot decode the request URI: " + bad.message()));
    return std::nullopt;
  }

  request.query = std::move(query).value();
  request.path.clear();
  for (const std::string& segment : *segments) request.path += "/" + segment;
  if (request.path.empty()) request.path = "/";
  return router_.Match(request.method, *segments);
}

void HttpServer::Impl::StartBody(const std::shared_ptr<Exchange>& exchange) {
  // Reject a declared length over the limit before reading any of the body.
  http::http_headers& headers = exchange->http.headers();
  uint64_t declared = headers.content_length();
  if (declared > options_.max_body_bytes) {
    ReplyAndDropBody(exchange, TooLargeResponse(declared, true));
    return;
  }
  if (declared == 0 && !headers.has(http::header_names::transfer_encoding)) {
    OnBodyComplete(exchange);
    return;
  }
  exchange->chunk.resize(kReadChunkBytes);
  ReadBody(exchange);
}

bool HttpServer::Impl::ServeBuiltIn(const std::shared_ptr<Exchange>& exchange) {
  const std::string& path = exchange->raw_path;
  if (path != "/healthz" && path != "/readyz" && path != "/version") return false;
  if (exchange->request.method != "GET") {
    ReplyAndDropBody(exchange, MethodNotAllowedResponse(exchange->request.method, path, "GET"));
    return true;
  }
  exchange->request.path = path;
  exchange->built_in = true;
  if (path == "/healthz") {
    Reply(exchange, TextResponse(200, "ok"), false);
  } else if (path == "/version") {
    Response response;
    response.body = nlohmann::json{{"version", kVersion}}.dump();
    Reply(exchange, std::move(response), false);
  } else if (draining_.load()) {
    Reply(exchange, StatusResponse(Status::Unavailable("the server is shutting down")), false);
  } else {
    Dispatch(exchange, [this] { return CheckReadiness(); });
  }
  return true;
}

bool HttpServer::Impl::Authorize(const std::shared_ptr<Exchange>& exchange, AccessRule rule) {
  Request& request = exchange->request;
  if (auth_ == nullptr) {
    request.user = "anonymous";
    request.role = RoleName(Role::kAdmin);
    return true;
  }
  auto header = request.headers.find("authorization");
  std::string authorization = header == request.headers.end() ? "" : header->second;
  if (rule == AccessRule::kPublic) {
    if (authorization.empty()) return true;
    StatusOr<Principal> principal = auth_->Authenticate(authorization);
    if (principal.ok()) {
      request.user = principal->user;
      request.role = RoleName(principal->role);
    }
    return true;
  }

  // Token-authenticated handlers never see the token.
  if (header != request.headers.end()) request.headers.erase(header);
  StatusOr<Principal> principal = auth_->Authenticate(authorization);
  if (!principal.ok()) {
    Response response = StatusResponse(principal.status());
    response.headers["WWW-Authenticate"] = "Bearer realm=\"svcd\"";
    ReplyAndDropBody(exchange, std::move(response));
    return false;
  }
  request.user = principal->user;
  request.role = RoleName(principal->role);
  if (!RoleSatisfies(principal->role, rule)) {
    Role needed = rule == AccessRule::kAdmin    ? Role::kAdmin
                  : rule == AccessRule::kEditor ? Role::kEditor
                                                : Role::kViewer;
    ReplyAndDropBody(exchange, StatusResponse(Status::PermissionDenied(
                                   "user \"" + request.user + "\" with role " + request.role +
                                   " may not " + request.method + " " + request.path + ": role " +
                                   RoleName(needed) + " or higher is required")));
    return false;
  }
  return true;
}

// NOTE: there is no read timeout. A client that stops sending mid-body holds
// no thread, but its request stays open until it disconnects or Stop closes
// the connection.
void HttpServer::Impl::ReadBody(const std::shared_ptr<Exchange>& exchange) {
  try {
    auto buffer = exchange->http.body().streambuf();
    buffer.getn(exchange->chunk.data(), exchange->chunk.size())
        .then([this, exchange](pplx::task<size_t> read) { OnBodyRead(exchange, std::move(read)); });
  } catch (const std::exception& e) {
    Reply(exchange, BadRequestResponse(std::string("cannot read the request body: ") + e.what()),
          true);
  }
}

void HttpServer::Impl::OnBodyRead(const std::shared_ptr<Exchange>& exchange,
                                  pplx::task<size_t> read) {
  try {
    size_t count = read.get();
    if (count == 0) {
      OnBodyComplete(exchange);
      return;
    }
    exchange->body_bytes += count;
    // The backend buffers the body without backpressure, so the bytes it has
    // received but this reader has not taken yet (the backlog) use memory too.
    size_t backlog = exchange->http.body().streambuf().in_avail();
    std::string& body = exchange->request.body;
    if (!exchange->over_limit && body.size() + count + backlog > options_.max_body_bytes) {
      // Keep reading so that the reply can be sent, but keep nothing more.
      exchange->over_limit = true;
      std::string().swap(body);
    }
    if (exchange->over_limit && backlog > options_.max_body_bytes) {
      // The client sends faster than this reader discards, so stop receiving.
      ReplyAndDropBody(exchange, TooLargeResponse(exchange->body_bytes + backlog, false));
      return;
    }
    if (!exchange->over_limit) {
      body.append(reinterpret_cast<const char*>(exchange->chunk.data()), count);
    }
    ReadBody(exchange);
  } catch (const std::exception& e) {
    // The client went away or sent a malformed chunk; the reply may not arrive.
    Reply(exchange, BadRequestResponse(std::string("cannot read the request body: ") + e.what()),
          true);
  } catch (...) {
    // An exception escaping this continuation would end the process.
    Reply(exchange, BadRequestResponse("cannot read the request body"), true);
  }
}

void HttpServer::Impl::OnBodyComplete(const std::shared_ptr<Exchange>& exchange) {
  exchange->chunk = {};
  if (exchange->over_limit) {
    Reply(exchange, TooLargeResponse(exchange->body_bytes, true), false);
    return;
  }
  Dispatch(exchange, [this, raw = exchange.get()] { return CallHandler(*raw); });
}

void HttpServer::Impl::Dispatch(const std::shared_ptr<Exchange>& exchange,
                                std::function<Response()> work) {
  bool queued = pool_->TrySubmit(
      [this, exchange, work = std::move(work)] { Reply(exchange, work(), false); });
  if (!queued) {
    Response busy = StatusResponse(
        Status::Unavailable("the server is busy: " + std::to_string(options_.max_queued_requests) +
                            " requests are waiting for a worker; retry later"));
    busy.headers["Retry-After"] = "1";
    Reply(exchange, std::move(busy), false);
  }
}

Response HttpServer::Impl::CallHandler(const Exchange& exchange) {
  const RouteMatch& route = *exchange.route;
  std::string failure;
  try {
    Response response = (*route.handler)(exchange.request, route.params);
    if (response.status >= 200 && response.status <= 599) return response;
    failure = "returned HTTP status " + std::to_string(response.status);
  } catch (const std::exception& e) {
    failure = std::string("threw: ") + e.what();
  } catch (...) {
    failure = "threw a non-standard exception";
  }
  spdlog::error("http request id={}: handler for {} {} {}", exchange.request.request_id,
                exchange.request.method, route.pattern, failure);
  return StatusResponse(Status::Internal(
      "internal error while handling " + exchange.request.method + " " + exchange.request.path +
      "; the server log has details under request id " + exchange.request.request_id));
}

Response HttpServer::Impl::CheckReadiness() {
  if (!options_.readiness_check) return TextResponse(200, "ok");
  Status ready;
  try {
    ready = options_.readiness_check();
  } catch (const std::exception& e) {
    ready = Status::Unavailable(std::string("readiness check threw: ") + e.what());
  } catch (...) {
    ready = Status::Unavailable("readiness check threw a non-standard exception");
  }
  if (ready.ok()) return TextResponse(200, "ok");
  return StatusResponse(Status::Unavailable("not ready: " + ready.message()));
}

Response HttpServer::Impl::TooLargeResponse(uint64_t bytes, bool complete) const {
  std::string limit = std::to_string(options_.max_body_bytes);
  std::string message = complete ? "request body of " + std::to_string(bytes) +
                                       " bytes exceeds the limit of " + limit + " bytes"
                                 : "request body exceeds the limit of " + limit + " bytes; " +
                                       std::to_string(bytes) +
                                       " bytes arrived before the server stopped reading";
  return StatusResponse(Status::ResourceExhausted(message));
}

void HttpServer::Impl::ReplyAndDropBody(const std::shared_ptr<Exchange>& exchange,
                                        Response response) {
  const http::http_headers& headers = exchange->http.headers();
  bool body_pending =
      headers.content_length() > 0 || headers.has(http::header_names::transfer_encoding);
  if (body_pending) {
    // End the receive so the backend sends the reply now, then drops the
    // connection with the unread rest of the body.
    exchange->http._get_impl()->_complete(
        0, std::make_exception_ptr(std::runtime_error("request body not read: request rejected")));
  }
  Reply(exchange, std::move(response), body_pending);
}

void HttpServer::Impl::Reply(const std::shared_ptr<Exchange>& exchange, Response response,
                             bool close_connection) {
  if (exchange->replied.exchange(true)) return;
  const Request& request = exchange->request;
  concurrency::streams::istream file_body;
  uint64_t file_bytes = 0;
  if (!response.body_file.empty()) {
    StatusOr<uint64_t> opened = OpenBodyFile(response.body_file, file_body);
    if (opened.ok()) {
      file_bytes = *opened;
    } else {
      spdlog::error("http request id={}: cannot send {}: {}", request.request_id,
                    response.body_file, opened.status().ToString());
      response =
          StatusResponse(Status::Internal("cannot read the response file; see the server log"));
    }
  }
  try {
    http::http_response out(static_cast<http::status_code>(response.status));
    for (const auto& [name, value] : response.headers) {
      std::string lower = ToLower(name);
      if (lower == "content-type" || lower == "content-length" || lower == "x-request-id") continue;
      if ((name + value).find_first_of("\r\n") != std::string::npos) {
        spdlog::error("http request id={}: dropped response header {} with a line break",
                      request.request_id, name);
        continue;
      }
      out.headers().add(name, value);
    }
    out.headers().add("X-Request-Id", request.request_id);
    if (close_connection) out.headers().add(http::header_names::connection, "close");
    if (file_body.is_valid()) {
      out.set_body(file_body, file_bytes);
    } else {
      out.set_body(std::vector<unsigned char>(response.body.begin(), response.body.end()));
    }
    if (response.content_type.empty()) {
      out.headers().remove(http::header_names::content_type);
    } else {
      out.headers().set_content_type(response.content_type);
    }
    // The continuation keeps the exchange, and so the in-flight count, until
    // the response is written, so that Stop never cuts a reply short.
    exchange->http.reply(out).then([exchange, file_body](pplx::task<void> sent) {
      try {
        sent.get();
      } catch (...) {
        // The client closed the connection; the reply is dropped.
      }
      if (file_body.is_valid()) file_body.close().wait();
    });
  } catch (const std::exception& e) {
    spdlog::debug("http request id={}: reply failed: {}", request.request_id, e.what());
  }

  auto elapsed = std::chrono::steady_clock::now() - exchange->start;
  ObserveRequest(*exchange, response.status, elapsed);
  spdlog::debug(
      "http request id={} method={} path={} route={} status={} user={} body_bytes={} "
      "duration_ms={}",
      request.request_id, request.method, exchange->raw_path,
      exchange->route ? exchange->route->pattern : "-", response.status,
      request.user.empty() ? "-" : request.user, exchange->body_bytes,
      std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count());
}

void HttpServer::Impl::ObserveRequest(const Exchange& exchange, int status,
                                      std::chrono::steady_clock::duration elapsed) {
  if (!options_.request_observer) return;
  std::string_view route;
  if (exchange.route) {
    route = exchange.route->pattern;
  } else if (exchange.built_in) {
    route = exchange.raw_path;
  }
  try {
    options_.request_observer(RequestRecord{exchange.request.method, route, status, elapsed});
  } catch (const std::exception& e) {
    spdlog::error("http request id={}: request observer threw: {}", exchange.request.request_id,
                  e.what());
  }
}

HttpServer::HttpServer(HttpServerOptions options, Router router,
                       std::unique_ptr<TokenAuthenticator> authenticator)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(router),
                                   std::move(authenticator))) {}

HttpServer::~HttpServer() {
  Status stopped = impl_->Stop(kDestructorStopTimeout);
  if (!stopped.ok()) spdlog::warn("http server: {}", stopped.ToString());
  impl_->WaitIdle();
}

Status HttpServer::Start() { return impl_->Start(); }

Status HttpServer::Stop(std::chrono::milliseconds timeout) { return impl_->Stop(timeout); }

uint16_t HttpServer::BoundPort() const { return impl_->port(); }

std::string HttpServer::BaseUrl() const { return impl_->BaseUrl(); }

}  // namespace svcd::server
