// Defaulting of resources, and spec comparison after defaulting.
//
// Decoding starts from default-constructed structs, and the member
// initializers in api/types.h are the documented defaults. So an omitted
// integer or boolean field already has its default after DecodeObjects, and
// an explicit value, zero included, stays as written. The fields whose default
// depends on other fields are empty strings or unset optionals until
// ApplyDefaults fills them:
//
//   metadata.namespace (ServiceDeploy)  "default"
//   Host spec.executor                  "local" for a loopback address
//                                       (127.0.0.0/8, ::1, localhost), else
//                                       "powerjob"
//   Host spec.powerjob.workerAddress    ADDRESS:27777 ([ADDRESS]:27777 for
//                                       IPv6) when the executor is powerjob
//   probe http.method, http.path        "GET", "/"
//   ServiceDeploy spec.startupPolicy    "MasterStarted"
//   spec.restartPolicy.scope            "Group" with workers, else "Target"
//
// and the member defaults: sshPort 22; probe initialDelaySeconds 0,
// periodSeconds 10, timeoutSeconds 5, failureThreshold 3, successThreshold 1;
// workerStaggerSeconds 5, startupTimeoutSeconds 1200, dispatchTimeoutSeconds
// 120; restartPolicy maxRetries 5, backoffSeconds 10, maxBackoffSeconds 300,
// resetAfterSeconds 600.

#ifndef SVCD_API_DEFAULTS_H_
#define SVCD_API_DEFAULTS_H_

#include "api/types.h"

namespace svcd::api {

inline constexpr int kDefaultPowerJobWorkerPort = 27777;

// Fills the defaults listed above that are still unset. Idempotent; never
// changes a value the user set.
void ApplyDefaults(Object& object);

// Returns true when `a` and `b` are the same kind and their specs are equal
// after ApplyDefaults, comparing each env list by name regardless of order
// (names are unique within a list). Metadata and status are ignored.
bool SpecEquivalent(const Object& a, const Object& b);

// Returns true for 127.0.0.0/8, ::1 (also IPv4-mapped loopback) and
// "localhost" in any case.
bool IsLoopbackAddress(std::string_view address);

}  // namespace svcd::api

#endif  // SVCD_API_DEFAULTS_H_
