#include "cmd/svcctl/client.h"

#include <cpprest/http_client.h>

#include <nlohmann/json.hpp>

namespace svcd::ctl {
namespace {

namespace http = web::http;

// svcd's default --max-body-bytes.
constexpr size_t kDefaultMaxBodyBytes = 1 << 20;

Code CodeFromHttp(int status) {
  switch (status) {
    case 400:
    case 422:
      return Code::kInvalidArgument;
    case 401:
      return Code::kUnauthenticated;
    case 403:
      return Code::kPermissionDenied;
    case 404:
      return Code::kNotFound;
    case 409:
      return Code::kAborted;
    case 413:
      return Code::kResourceExhausted;
    case 503:
      return Code::kUnavailable;
    case 504:
      return Code::kDeadlineExceeded;
    default:
      return Code::kInternal;
  }
}

}  // namespace

StatusOr<HttpReply> ApiClient::Send(const std::string& method, const std::string& path_and_query,
                                    const std::string& body,
                                    const std::string& content_type) const {
  const std::string url = options_.server + path_and_query;
  try {
    http::client::http_client_config config;
    config.set_timeout(options_.timeout);
    http::client::http_client client(options_.server, config);
    http::http_request request(method);
    request.set_request_uri(path_and_query);
    if (!options_.token.empty()) {
      request.headers().add("Authorization", "Bearer " + options_.token);
    }
    request.headers().add("Accept", "application/json");
    if (!body.empty() || method == "POST" || method == "PUT") {
      request.set_body(body, content_type);
    }
    http::http_response response = client.request(request).get();
    HttpReply reply;
    reply.status = response.status_code();
    reply.content_type = response.headers().content_type();
    std::vector<unsigned char> bytes = response.extract_vector().get();
    reply.body.assign(bytes.begin(), bytes.end());
    return reply;
  } catch (const http::http_exception& e) {
    const std::string what = e.what();
    if (what.find("timed out") != std::string::npos) {
      return Status::DeadlineExceeded("no reply from svcd at " + url + " within " +
                                      std::to_string(options_.timeout.count()) + " s");
    }
    // svcd replies to a body over its limit with 413 and closes the connection
    // while the rest is still being sent, so the client sees a failed write.
    if (body.size() >= kDefaultMaxBodyBytes && what.find("request body") != std::string::npos) {
      return Status::ResourceExhausted(
          "svcd closed the connection while receiving the " + std::to_string(body.size()) +
          "-byte request body: svcd rejects bodies over its --max-body-bytes (1048576 bytes "
          "unless set otherwise); split the manifest into smaller files (" +
          what + ")");
    }
    return Status::Unavailable("cannot reach svcd at " + options_.server + ": " + what +
                               " (is svcd running? set --server or SVCD_SERVER)");
  } catch (const std::exception& e) {
    return Status::Unavailable("request to " + url + " failed: " + e.what());
  }
}

Status ReplyToStatus(const HttpReply& reply) {
  const Code code = CodeFromHttp(reply.status);
  nlohmann::json doc = nlohmann::json::parse(reply.body, nullptr, false);
  if (doc.is_object() && doc.value("kind", "") == "Status") {
    std::vector<Cause> causes;
    if (doc.contains("details") && doc["details"].contains("causes")) {
      for (const auto& c : doc["details"]["causes"]) {
        Cause cause;
        cause.field = c.value("field", "");
        cause.message = c.value("message", "");
        cause.line = c.value("line", 0);
        cause.column = c.value("column", 0);
        causes.push_back(std::move(cause));
      }
    }
    return Status(code, doc.value("message", "HTTP " + std::to_string(reply.status)),
                  std::move(causes));
  }
  std::string text = reply.body.substr(0, 200);
  return Status(code, "HTTP " + std::to_string(reply.status) + (text.empty() ? "" : ": " + text));
}

std::string UrlEncode(const std::string& text) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace svcd::ctl
