// Error responses in the shape of Kubernetes' `Status` object (kind Status,
// apiVersion v1), so that kubectl-style clients can print them:
//
//   {"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
//    "message":"...","reason":"Invalid","code":422,
//    "details":{"name":"qwen","kind":"ServiceDeploy",
//               "causes":[{"field":"spec.master.host","message":"...",
//                          "line":7,"column":11}]}}
//
// `details` appears only when a name, kind or cause is known; a cause's
// `line` and `column` only when the line is known.

#ifndef SVCD_SERVER_STATUS_RESPONSE_H_
#define SVCD_SERVER_STATUS_RESPONSE_H_

#include <string>

#include "api/status.h"
#include "server/http_types.h"

namespace svcd::server {

// The object an error is about, for `details.name` and `details.kind`.
struct StatusSubject {
  std::string kind;  // such as "ServiceDeploy"; empty when unknown
  std::string name;  // the object's name; empty when unknown
};

// Returns the Kubernetes `reason` for `code`, such as "Invalid" for
// InvalidArgument or "Conflict" for Aborted.
const char* ReasonForCode(Code code);

// Builds the error response for a non-OK `status`: HTTP code from
// CodeToHttp, reason from ReasonForCode, and one entry in `details.causes`
// per cause. An OK status is a caller bug and becomes a 500.
Response StatusResponse(const Status& status, const StatusSubject& subject = {});

// Builds a 400 BadRequest Status response, for a request that cannot be read
// at all (malformed escapes, a body that is not YAML or JSON).
Response BadRequestResponse(const std::string& message);

// Builds a 405 MethodNotAllowed Status response with an Allow header listing
// `allowed` (comma-separated).
Response MethodNotAllowedResponse(const std::string& method, const std::string& path,
                                  const std::string& allowed);

// Serializes a Status body; shared by the builders above and the server's own
// replies (413, 401, 503) that are sent before any handler runs.
std::string StatusBody(int http_code, const std::string& reason, const Status& status,
                       const StatusSubject& subject);

}  // namespace svcd::server

#endif  // SVCD_SERVER_STATUS_RESPONSE_H_
