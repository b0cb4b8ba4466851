// ObservationSink: where launcher reports go once the HTTP layer has parsed
// them. The controllers implement it over the store; controllers never talk
// HTTP themselves.

#ifndef SVCD_DISPATCH_OBSERVATION_SINK_H_
#define SVCD_DISPATCH_OBSERVATION_SINK_H_

#include <cstdint>
#include <string_view>

#include "api/status.h"
#include "dispatch/reports.h"

namespace svcd::dispatch {

// Receives the reports of running attempts.
//
// Every method first checks, in this order:
//   1. `context.dispatch_id` names a known attempt, else NotFound (HTTP 404;
//      the launcher keeps its service running and retries later).
//   2. `context.secret` equals that attempt's secret, compared in constant
//      time, else Unauthenticated (HTTP 401; the launcher stops its service).
//   3. `context.lease` equals the target's current fencing token and the
//      attempt is the target's current one, else Aborted (HTTP 409; the
//      launcher stops its service because a newer attempt replaced it).
// It then records the report and returns OK. A report may arrive twice (the
// launcher resends when a reply is lost), so recording must be idempotent.
// Unavailable (HTTP 503) or Internal (HTTP 500) tell the launcher to retry at
// its next period. The report handler replies to any other code with HTTP 500,
// so that no other error can make a launcher stop its service.
//
// Thread-safety: the HTTP server calls these methods from several worker
// threads at once, also for the same attempt.
class ObservationSink {
 public:
  virtual ~ObservationSink() = default;

  // The service process started; `report.pid` leads its session and group.
  virtual Status OnStarted(const ReportContext& context, const StartedReport& report) = 0;

  // The service is alive, with its listening ports and resource use.
  virtual Status OnHeartbeat(const ReportContext& context, const HeartbeatReport& report) = 0;

  // `bytes` are output.log from position `offset`. Bytes before the end of
  // what is already stored are a resend, so they are dropped. An offset past
  // that end means bytes were lost, which the sink records but accepts.
  virtual Status OnLog(const ReportContext& context, int64_t offset, std::string_view bytes) = 0;

  // The service exited with `report.exit_code`. The launcher sends it after
  // the last log bytes.
  virtual Status OnExit(const ReportContext& context, const ExitReport& report) = 0;

  // The launcher ran the target's exec probe once. Results of one attempt
  // carry rising `report.seq`; a resend repeats a seq.
  virtual Status OnProbe(const ReportContext& context, const ProbeReport& report) = 0;
};

}  // namespace svcd::dispatch

#endif  // SVCD_DISPATCH_OBSERVATION_SINK_H_
