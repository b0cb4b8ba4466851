#include "metrics/exposition.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "metrics/text_format.h"
#include "server/listen_address.h"

namespace svcd::metrics {
namespace {

// Binds a plain socket to an IPv4 address, as the HTTP library does (with
// SO_REUSEADDR), and closes it again. Returns Unavailable with the system's
// reason when that fails.
//
// The HTTP library (cpprestsdk 2.10.18) shares one acceptor among the
// listeners of one process on the same host and port. A second listener on
// svcd's own API port fails, and while failing it unregisters the first
// listener's path, so the API server stops serving requests. Checking the port
// with a socket first keeps that from happening. Another process can still
// take the port between the check and the bind; the HTTP library then
// reports it as usual.
Status CheckPortFree(const std::string& host, uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  if (inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1) return Status::Ok();

  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::Ok();  // the HTTP library reports its own failure
  int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  int bound = bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address));
  int error = errno;
  close(fd);
  if (bound == 0) return Status::Ok();
  return Status::Unavailable("cannot listen on " + host + ":" + std::to_string(port) + ": " +
                             std::strerror(error));
}

// Leads a bind failure caused by a taken port with the usual words and the
// fix. The system and the HTTP library both report "Address already in use".
std::string ExplainBindError(const std::string& message) {
  if (message.find("already in use") != std::string::npos) {
    return "address already in use; stop the process that holds the port or pick another "
           "port (" +
           message + ")";
  }
  return message;
}

}  // namespace

Status AddMetricsRoute(server::Router& router, const Registry& registry) {
  return router.Add(
      "GET", kMetricsPath,
      [&registry](const server::Request&, const server::PathParams&) {
        server::Response response;
        response.content_type = kTextContentType;
        response.body = registry.Render();
        return response;
      },
      server::AccessRule::kPublic);
}

std::function<void(const server::RequestRecord&)> ApiRequestObserver(SvcdMetrics& metrics) {
  return [&metrics](const server::RequestRecord& record) {
    metrics.ObserveApiRequest(record.method, record.route, record.status, record.elapsed);
  };
}

StatusOr<std::unique_ptr<server::HttpServer>> StartMetricsListener(MetricsListenerOptions options,
                                                                   const Registry& registry) {
  const std::string context = "--metrics-listen " + options.address + ": ";
  server::Router router;
  if (Status added = AddMetricsRoute(router, registry); !added.ok()) {
    return Status::Internal(context + added.message());
  }

  StatusOr<server::ListenAddress> parsed = server::ParseListenAddress(options.address);
  if (parsed.ok() && parsed->port != 0) {
    std::string host = parsed->host == "localhost" ? "127.0.0.1" : parsed->host;
    if (Status free = CheckPortFree(host, parsed->port); !free.ok()) {
      return Status(free.code(), context + ExplainBindError(free.message()));
    }
  }

  server::HttpServerOptions http;
  http.listen = options.address;
  http.workers = options.workers;
  http.max_queued_requests = 64;
  // Scrapes are GET requests without a body.
  http.max_body_bytes = 4096;
  auto listener = std::make_unique<server::HttpServer>(std::move(http), std::move(router),
                                                       std::move(options.authenticator));
  Status started = listener->Start();
  if (!started.ok()) {
    std::string reason = started.code() == Code::kUnavailable ? ExplainBindError(started.message())
                                                              : started.message();
    return Status(started.code(), context + reason);
  }
  return listener;
}

}  // namespace svcd::metrics
