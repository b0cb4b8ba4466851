#include "dispatch/report_handler.h"

#include <spdlog/spdlog.h>

#include <string>
#include <utility>

#include "server/status_response.h"

namespace svcd::dispatch {
namespace {

// The header name as server::Request stores it: in lower case.
constexpr char kSecretHeaderKey[] = "x-svcd-attempt-secret";

Status Deliver(ObservationSink& sink, const Report& report) {
  switch (report.event) {
    case ReportEvent::kStarted:
      return sink.OnStarted(report.context, std::get<StartedReport>(report.payload));
    case ReportEvent::kHeartbeat:
      return sink.OnHeartbeat(report.context, std::get<HeartbeatReport>(report.payload));
    case ReportEvent::kLog: {
      const LogReport& log = std::get<LogReport>(report.payload);
      return sink.OnLog(report.context, log.offset, log.bytes);
    }
    case ReportEvent::kExit:
      return sink.OnExit(report.context, std::get<ExitReport>(report.payload));
    case ReportEvent::kProbe:
      return sink.OnProbe(report.context, std::get<ProbeReport>(report.payload));
  }
  return Status::Internal("unknown report event");
}

// Keeps the codes whose meaning the launcher acts on and turns every other
// error into Internal, so that only Aborted and Unauthenticated stop a service.
Status RestrictSinkStatus(Status status) {
  switch (status.code()) {
    case Code::kOk:
    case Code::kNotFound:
    case Code::kUnauthenticated:
    case Code::kAborted:
    case Code::kUnavailable:
    case Code::kInternal:
      return status;
    default:
      return Status::Internal(std::string("the observation sink returned ") +
                              CodeName(status.code()) + ": " + status.message());
  }
}

server::Response Accepted() {
  server::Response response;
  response.body = R"({"accepted":true})";
  return response;
}

server::Response HandleReport(ObservationSink& sink, const ReportLimits& limits,
                              const server::Request& request, const server::PathParams& params) {
  auto id = params.find("dispatchId");
  auto secret = request.headers.find(kSecretHeaderKey);
  StatusOr<Report> report = ParseReport(
      id == params.end() ? std::string() : id->second, request.query,
      secret == request.headers.end() ? std::string() : secret->second, request.body, limits);
  const server::StatusSubject subject{"Report", id == params.end() ? "" : id->second};
  if (!report.ok()) {
    const std::vector<Cause>& causes = report.status().causes();
    if (causes.size() == 1 && causes.front().field == "body") {
      return server::BadRequestResponse(report.status().message());
    }
    spdlog::debug("report rejected: dispatch={} request={}: {}", subject.name, request.request_id,
                  report.status().ToString());
    return server::StatusResponse(report.status(), subject);
  }

  Status status = RestrictSinkStatus(Deliver(sink, *report));
  if (status.ok()) {
    return Accepted();
  }
  if (status.code() == Code::kUnauthenticated) {
    spdlog::warn("report with a wrong secret: dispatch={} event={} request={}", subject.name,
                 ReportEventName(report->event), request.request_id);
  } else {
    spdlog::debug("report not recorded: dispatch={} event={} lease={}: {}", subject.name,
                  ReportEventName(report->event), report->context.lease, status.ToString());
  }
  return server::StatusResponse(status, subject);
}

}  // namespace

server::Handler MakeReportHandler(ObservationSink& sink, ReportLimits limits) {
  return [&sink, limits](const server::Request& request, const server::PathParams& params) {
    return HandleReport(sink, limits, request, params);
  };
}

Status AddReportRoute(server::Router& router, ObservationSink& sink, ReportLimits limits) {
  return router.Add("POST", kReportRoutePattern, MakeReportHandler(sink, limits),
                    server::AccessRule::kPublic);
}

}  // namespace svcd::dispatch
