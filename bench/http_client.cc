#include "bench/http_client.h"

#include <cpprest/http_client.h>

#include <vector>

namespace svcd::bench {

namespace http = web::http;

struct HttpClient::Impl {
  explicit Impl(const std::string& base_url, const http::client::http_client_config& config)
      : client(base_url, config) {}
  http::client::http_client client;
};

HttpClient::HttpClient(std::string base_url, std::chrono::milliseconds timeout)
    : base_url_(std::move(base_url)) {
  http::client::http_client_config config;
  config.set_timeout(timeout);
  impl_ = std::make_unique<Impl>(base_url_, config);
}

HttpClient::~HttpClient() = default;

StatusOr<HttpReply> HttpClient::Send(const std::string& method, const std::string& path,
                                     const std::string& body, const std::string& content_type) {
  try {
    http::http_request request(method);
    request.set_request_uri(path);
    request.headers().add("Accept", "application/json");
    if (!body.empty()) request.set_body(body, content_type);
    http::http_response response = impl_->client.request(request).get();
    HttpReply reply;
    reply.status = response.status_code();
    std::vector<unsigned char> bytes = response.extract_vector().get();
    reply.body.assign(bytes.begin(), bytes.end());
    return reply;
  } catch (const std::exception& e) {
    // cpprestsdk reports refused connections and timeouts as exceptions.
    return Status::Unavailable(method + " " + base_url_ + path + " failed: " + e.what());
  }
}

}  // namespace svcd::bench
