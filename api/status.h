// Status and StatusOr: the error type that crosses every boundary in svcd.
//
// A Status is either OK or carries a canonical code, a one-line message and,
// for invalid input, a list of causes that each name a field path and, where
// the input was YAML, the line and column. Exceptions from third-party
// libraries are caught at the adapter that calls them and turned into a
// Status with context.

#ifndef SVCD_API_STATUS_H_
#define SVCD_API_STATUS_H_

#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace svcd {

// Canonical codes. The REST layer maps them to HTTP codes (see CodeToHttp).
enum class Code {
  kOk = 0,
  kInvalidArgument,     // 422 (400 when the body cannot be read at all)
  kNotFound,            // 404
  kAlreadyExists,       // 409
  kAborted,             // 409: a stale resourceVersion or fencing token
  kFailedPrecondition,  // 409: the object is in the wrong state for the request
  kUnauthenticated,     // 401
  kPermissionDenied,    // 403
  kResourceExhausted,   // 413
  kUnavailable,         // 503
  kDeadlineExceeded,    // 504
  kInternal,            // 500
};

// Returns the canonical name of a code, such as "InvalidArgument".
const char* CodeName(Code code);

// One problem with one field of the input. `line` and `column` are 1-based
// and 0 when unknown (JSON input, or a field that is missing altogether).
struct Cause {
  std::string field;    // path such as "spec.master.args[2].name"
  std::string message;  // what is wrong and what to do
  int line = 0;
  int column = 0;
  std::string source;  // the file the input came from; empty when unknown

  // Formats the cause as "SOURCE:LINE:COLUMN: field: message", leaving out
  // the parts that are unknown.
  std::string ToString() const;
  friend bool operator==(const Cause&, const Cause&) = default;
};

class Status {
 public:
  // Constructs an OK status.
  Status() = default;
  Status(Code code, std::string message, std::vector<Cause> causes = {})
      : code_(code), message_(std::move(message)), causes_(std::move(causes)) {}

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m, std::vector<Cause> c = {}) {
    return Status(Code::kInvalidArgument, std::move(m), std::move(c));
  }
  static Status NotFound(std::string m) { return Status(Code::kNotFound, std::move(m)); }
  static Status AlreadyExists(std::string m) {
    return Status(Code::kAlreadyExists, std::move(m));
  }
  static Status Aborted(std::string m) { return Status(Code::kAborted, std::move(m)); }
  static Status FailedPrecondition(std::string m) {
    return Status(Code::kFailedPrecondition, std::move(m));
  }
  static Status Unauthenticated(std::string m) {
    return Status(Code::kUnauthenticated, std::move(m));
  }
  static Status PermissionDenied(std::string m, std::vector<Cause> c = {}) {
    return Status(Code::kPermissionDenied, std::move(m), std::move(c));
  }
  static Status ResourceExhausted(std::string m) {
    return Status(Code::kResourceExhausted, std::move(m));
  }
  static Status Unavailable(std::string m) { return Status(Code::kUnavailable, std::move(m)); }
  static Status DeadlineExceeded(std::string m) {
    return Status(Code::kDeadlineExceeded, std::move(m));
  }
  static Status Internal(std::string m) { return Status(Code::kInternal, std::move(m)); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  const std::vector<Cause>& causes() const { return causes_; }

  // Formats the status as "Code: message" followed by one line per cause.
  std::string ToString() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
  std::vector<Cause> causes_;
};

// Holds either a value or a non-OK Status.
template <typename T>
class StatusOr {
 public:
  StatusOr(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  StatusOr(Status status) : status_(std::move(status)) {}  // NOLINT: implicit by design

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  const T& value() const& { return *value_; }
  T& value() & { return *value_; }
  T&& value() && { return std::move(*value_); }
  const T& operator*() const& { return *value_; }
  T& operator*() & { return *value_; }
  const T* operator->() const { return &*value_; }
  T* operator->() { return &*value_; }

 private:
  Status status_;  // OK exactly when value_ holds a value
  std::optional<T> value_;
};

// Returns the HTTP status code the REST layer sends for `code`.
int CodeToHttp(Code code);

}  // namespace svcd

#endif  // SVCD_API_STATUS_H_
