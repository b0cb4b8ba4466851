// The HTTP handler that receives launcher reports and passes them to an
// ObservationSink.

#ifndef SVCD_DISPATCH_REPORT_HANDLER_H_
#define SVCD_DISPATCH_REPORT_HANDLER_H_

#include "api/status.h"
#include "dispatch/observation_sink.h"
#include "dispatch/reports.h"
#include "server/http_types.h"
#include "server/router.h"

namespace svcd::dispatch {

// Returns a handler for POST kReportRoutePattern. It reads the dispatch id
// from the `dispatchId` path parameter and the secret from the
// X-Svcd-Attempt-Secret header, parses the report (ParseReport) and calls the
// sink method for its event. Replies:
//   200 {"accepted":true}   the sink returned OK
//   400                      the body is not JSON at all
//   401, 404, 409, 503      the sink returned Unauthenticated, NotFound,
//                           Aborted or Unavailable
//   413, 422                a body over `limits`, or any other invalid field
//   500                     any other sink error
// Error bodies are Kubernetes Status objects. `sink` must outlive the
// handler. The route must be AccessRule::kPublic, because launchers carry no
// user token; the secret and the fencing token authenticate them instead.
server::Handler MakeReportHandler(ObservationSink& sink, ReportLimits limits = {});

// Registers MakeReportHandler(sink, limits) for POST kReportRoutePattern with
// AccessRule::kPublic. Returns the router's error if the route exists.
Status AddReportRoute(server::Router& router, ObservationSink& sink, ReportLimits limits = {});

}  // namespace svcd::dispatch

#endif  // SVCD_DISPATCH_REPORT_HANDLER_H_
