// Serving metrics over HTTP: the GET /metrics route on svcd's API server, a
// separate metrics listener, and the hook that counts API requests.

#ifndef SVCD_METRICS_EXPOSITION_H_
#define SVCD_METRICS_EXPOSITION_H_

#include <functional>
#include <memory>
#include <string>

#include "api/status.h"
#include "metrics/registry.h"
#include "metrics/svcd_metrics.h"
#include "server/auth.h"
#include "server/http_server.h"
#include "server/router.h"

namespace svcd::metrics {

// The path both servers serve the metrics on.
inline constexpr char kMetricsPath[] = "/metrics";

// Registers GET /metrics on `router` with AccessRule::kPublic, so that a
// Prometheus server scrapes it without a token. The reply has the content
// type kTextContentType and the body registry.Render(). Rendering runs on the
// scrape's own request thread. It takes each family's mutex only to copy
// series pointers, so workers that update series never wait for formatting. `registry` must outlive
// the router and every server built from it. Returns the router's InvalidArgument when GET /metrics
// is already registered.
Status AddMetricsRoute(server::Router& router, const Registry& registry);

// Returns a request observer for HttpServerOptions::request_observer that
// records every request in svcd_api_requests_total and
// svcd_api_request_duration_seconds. `metrics` must outlive the server.
std::function<void(const server::RequestRecord&)> ApiRequestObserver(SvcdMetrics& metrics);

// Options of the separate metrics listener (`svcd --metrics-listen`).
struct MetricsListenerOptions {
  // "HOST:PORT"; port 0 picks a free port, see HttpServer::BoundPort.
  std::string address;
  // Optional. Without it the listener accepts loopback addresses only, as
  // every svcd HTTP server does; with it, any address. /metrics needs no
  // token either way.
  std::unique_ptr<server::TokenAuthenticator> authenticator = nullptr;
  // Threads that render scrapes; one or two are plenty for Prometheus.
  size_t workers = 2;
};

// Starts an HTTP server of its own that serves GET /metrics (and the
// server's built-in /healthz, /readyz and /version), so scrapes never wait
// behind API requests. Returns the running server; destroying it stops it.
// Every error names the flag and the address, such as
// "--metrics-listen 127.0.0.1:9100: address already in use; ...":
// InvalidArgument for a malformed address, FailedPrecondition for a
// non-loopback address without an authenticator, Unavailable when the
// address cannot be bound. `registry` must outlive the server.
StatusOr<std::unique_ptr<server::HttpServer>> StartMetricsListener(MetricsListenerOptions options,
                                                                   const Registry& registry);

}  // namespace svcd::metrics

#endif  // SVCD_METRICS_EXPOSITION_H_
