#include "api/status.h"

namespace svcd {

const char* CodeName(Code code) {
  switch (code) {
    case Code::kOk:
      return "OK";
    case Code::kInvalidArgument:
      return "InvalidArgument";
    case Code::kNotFound:
      return "NotFound";
    case Code::kAlreadyExists:
      return "AlreadyExists";
    case Code::kAborted:
      return "Aborted";
    case Code::kFailedPrecondition:
      return "FailedPrecondition";
    case Code::kUnauthenticated:
      return "Unauthenticated";
    case Code::kPermissionDenied:
      return "PermissionDenied";
    case Code::kResourceExhausted:
      return "ResourceExhausted";
    case Code::kUnavailable:
      return "Unavailable";
    case Code::kDeadlineExceeded:
      return "DeadlineExceeded";
    case Code::kInternal:
      return "Internal";
  }
  return "Unknown";
}

std::string Cause::ToString() const {
  std::string out;
  if (!source.empty()) out += source + ":";
  if (line > 0) out += std::to_string(line) + ":" + std::to_string(column) + ":";
  if (!out.empty()) out += " ";
  if (!field.empty()) out += field + ": ";
  return out + message;
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out = std::string(CodeName(code_)) + ": " + message_;
  for (const Cause& cause : causes_) out += "\n  " + cause.ToString();
  return out;
}

int CodeToHttp(Code code) {
  switch (code) {
    case Code::kOk:
      return 200;
    case Code::kInvalidArgument:
      return 422;
    case Code::kNotFound:
      return 404;
    case Code::kAlreadyExists:
    case Code::kAborted:
    case Code::kFailedPrecondition:
      return 409;
    case Code::kUnauthenticated:
      return 401;
    case Code::kPermissionDenied:
      return 403;
    case Code::kResourceExhausted:
      return 413;
    case Code::kUnavailable:
      return 503;
    case Code::kDeadlineExceeded:
      return 504;
    case Code::kInternal:
      return 500;
  }
  return 500;
}

}  // namespace svcd
