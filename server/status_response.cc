#include "server/status_response.h"

#include <nlohmann/json.hpp>

namespace svcd::server {

const char* ReasonForCode(Code code) {
  switch (code) {
    case Code::kOk:
      return "";
    case Code::kInvalidArgument:
      return "Invalid";
    case Code::kNotFound:
      return "NotFound";
    case Code::kAlreadyExists:
      return "AlreadyExists";
    case Code::kAborted:
    case Code::kFailedPrecondition:
      return "Conflict";
    case Code::kUnauthenticated:
      return "Unauthorized";
    case Code::kPermissionDenied:
      return "Forbidden";
    case Code::kResourceExhausted:
      return "RequestEntityTooLarge";
    case Code::kUnavailable:
      return "ServiceUnavailable";
    case Code::kDeadlineExceeded:
      return "Timeout";
    case Code::kInternal:
      return "InternalError";
  }
  return "InternalError";
}

std::string StatusBody(int http_code, const std::string& reason, const Status& status,
                       const StatusSubject& subject) {
  nlohmann::json body = {
      {"kind", "Status"},    {"apiVersion", "v1"},          {"metadata", nlohmann::json::object()},
      {"status", "Failure"}, {"message", status.message()}, {"reason", reason},
      {"code", http_code},
  };

  nlohmann::json details = nlohmann::json::object();
  if (!subject.name.empty()) details["name"] = subject.name;
  if (!subject.kind.empty()) details["kind"] = subject.kind;
  if (!status.causes().empty()) {
    nlohmann::json causes = nlohmann::json::array();
    for (const Cause& cause : status.causes()) {
      nlohmann::json entry = {{"field", cause.field}, {"message", cause.message}};
      if (cause.line > 0) {
        entry["line"] = cause.line;
        entry["column"] = cause.column;
      }
      causes.push_back(std::move(entry));
    }
    details["causes"] = std::move(causes);
  }
  if (!details.empty()) body["details"] = std::move(details);

  // Replacing invalid UTF-8 keeps a message that quotes hostile input from
  // turning the error reply itself into an exception.
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Response StatusResponse(const Status& status, const StatusSubject& subject) {
  Status effective = status;
  if (status.ok()) {
    effective = Status::Internal("the handler returned an error response without an error");
  }
  Response response;
  response.status = CodeToHttp(effective.code());
  response.body = StatusBody(response.status, ReasonForCode(effective.code()), effective, subject);
  return response;
}

Response BadRequestResponse(const std::string& message) {
  Response response;
  response.status = 400;
  response.body = StatusBody(400, "BadRequest", Status::InvalidArgument(message), {});
  return response;
}

Response MethodNotAllowedResponse(const std::string& method, const std::string& path,
                                  const std::string& allowed) {
  Response response;
  response.status = 405;
  std::string message = "method " + method + " is not allowed on " + path + "; allowed: " + allowed;
  response.body = StatusBody(405, "MethodNotAllowed", Status::InvalidArgument(message), {});
  response.headers["Allow"] = allowed;
  return response;
}

}  // namespace svcd::server
