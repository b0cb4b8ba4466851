// FakeObservationSink: an in-memory ObservationSink for tests. It checks
// secrets and fencing tokens as the contract requires and records what it
// accepts, so tests can compare what a real launcher sent.

#ifndef SVCD_DISPATCH_FAKE_OBSERVATION_SINK_H_
#define SVCD_DISPATCH_FAKE_OBSERVATION_SINK_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "dispatch/observation_sink.h"

namespace svcd::dispatch {

// Thread-safe: the HTTP server calls it from several threads while a test
// reads it.
class FakeObservationSink final : public ObservationSink {
 public:
  // One log report as it arrived.
  struct LogChunk {
    int64_t offset = 0;
    size_t size = 0;
    bool resend = false;  // it started before the end of the stored log
  };

  // The reports and settings that the sink keeps for one attempt.
  struct Attempt {
    std::string secret;
    int64_t lease = 0;
    std::vector<StartedReport> started;
    std::vector<HeartbeatReport> heartbeats;
    std::vector<ExitReport> exits;
    std::vector<ProbeReport> probes;
    std::vector<LogChunk> log_chunks;  // accepted log reports, in arrival order
    std::string log;                   // the log bytes joined, resends dropped
    int64_t missing_log_bytes = 0;     // bytes skipped by an offset past the end
    std::map<Code, int> rejected;      // reports refused, by code
  };

  // Makes `dispatch_id` known with its secret and current fencing token.
  void AddAttempt(const std::string& dispatch_id, const std::string& secret, int64_t lease);

  // Changes the current fencing token, so reports with the old one get
  // Aborted. Returns false for an unknown attempt.
  bool SetLease(const std::string& dispatch_id, int64_t lease);

  // Returns a copy of what the sink keeps for the attempt, or std::nullopt.
  std::optional<Attempt> Get(const std::string& dispatch_id) const;

  // Blocks until `condition(attempt)` is true for the attempt, checking after
  // every report, or until `limit` of real time passed. Returns the last
  // result of `condition`; an unknown attempt counts as false.
  bool WaitFor(const std::string& dispatch_id, const std::function<bool(const Attempt&)>& condition,
               std::chrono::milliseconds limit) const;

  Status OnStarted(const ReportContext& context, const StartedReport& report) override;
  Status OnHeartbeat(const ReportContext& context, const HeartbeatReport& report) override;
  Status OnLog(const ReportContext& context, int64_t offset, std::string_view bytes) override;
  Status OnExit(const ReportContext& context, const ExitReport& report) override;
  Status OnProbe(const ReportContext& context, const ProbeReport& report) override;

 private:
  // Runs the checks of the ObservationSink contract with mu_ held, records
  // refusals, and returns the attempt on success.
  StatusOr<Attempt*> Check(const ReportContext& context);

  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  std::map<std::string, Attempt> attempts_;  // guarded by mu_
};

}  // namespace svcd::dispatch

#endif  // SVCD_DISPATCH_FAKE_OBSERVATION_SINK_H_
