// ProbeScheduler: runs each registered probe on its schedule, on threads of
// its own, and turns results into readiness.

#ifndef SVCD_PROBE_PROBE_SCHEDULER_H_
#define SVCD_PROBE_PROBE_SCHEDULER_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "api/status.h"
#include "probe/prober.h"
#include "reconciler/clock.h"

namespace svcd::probe {

// The readiness of one key and the counts behind it.
struct ProbeState {
  bool ready = false;
  // Whether the key was ready at least once since Register. A caller that
  // waits for a process to start can ignore refusals while this is false.
  bool ever_ready = false;
  int consecutive_successes = 0;
  int consecutive_failures = 0;
  std::optional<ProbeResult> last_result;  // unset before the first result
};

// One result with the state it led to.
struct ProbeEvent {
  std::string key;
  ProbeResult result;
  ProbeState state;  // after this result; state.last_result is unset here
  // Clock::WallNow() when the check started, for stored probe history.
  reconciler::WallTime started;
};

struct ProbeSchedulerOptions {
  // Checks that may run at the same time. Values below 1 mean 1. Default 2.
  int num_threads = 2;
  // Called with every result. May be empty.
  std::function<void(const ProbeEvent&)> on_result;
  // Called when readiness changes: to ready after successThreshold
  // consecutive successes, to not ready after failureThreshold consecutive
  // failures. A key starts not ready, so failures before the first success
  // never call it. May be empty.
  std::function<void(const ProbeEvent&)> on_transition;
  // How much later than one period plus the probe's timeout after the
  // previous result (or after the initial delay) a reported result may
  // arrive before the scheduler counts it as missing (kNoReport).
  std::chrono::seconds report_grace{15};
};

// Runs the probes of registered keys, such as "ns/name/master", on a
// schedule: the first check initialDelaySeconds after Register, then one
// every periodSeconds, counted from the start of the previous check. A check
// that outlasts its period delays the next one instead of overlapping it, so
// a key has at most one check running.
//
// Checks and both callbacks run on the scheduler's own threads, never on the
// caller's. For one key, callbacks are called one at a time and in the order
// of the checks, on_result before on_transition. Callbacks must return
// quickly, because a probe thread waits for them. They may call Register,
// Update, Unregister and Get, but not Stop.
//
// A target with `reported_by` set is checked elsewhere, by the launcher of
// that dispatch, and its results arrive through Report. The scheduler runs
// no check for it and applies each reported result in arrival order. When
// none arrives for period + timeout + report_grace, it applies a kNoReport
// failure, and one more each period until results come again.
//
// Time for the schedule comes from the Clock, so tests drive it with a
// FakeClock. The checks themselves wait on real time (see SystemProber).
//
// Thread-safety: every method may be called from any thread.
class ProbeScheduler {
 public:
  // `clock` and `prober` must outlive the scheduler. Starts the threads.
  ProbeScheduler(reconciler::Clock& clock, Prober& prober, ProbeSchedulerOptions options);
  // Calls Stop().
  ~ProbeScheduler();
  ProbeScheduler(const ProbeScheduler&) = delete;
  ProbeScheduler& operator=(const ProbeScheduler&) = delete;

  // Starts probing `target` under `key`, not ready, with the first check
  // after initialDelaySeconds. Errors: InvalidArgument for an empty key or a
  // target that fails ValidateProbeTarget (nothing is registered),
  // AlreadyExists when the key is registered, FailedPrecondition after Stop.
  Status Register(const std::string& key, ProbeTarget target);

  // Replaces the target of `key`. An equal target changes nothing. Otherwise
  // the schedule starts again with initialDelaySeconds, the consecutive
  // counts restart at 0, readiness is kept, and the result of a check of the
  // old target that is still running is dropped. Errors: InvalidArgument as
  // for Register, NotFound when the key is not registered,
  // FailedPrecondition after Stop.
  Status Update(const std::string& key, ProbeTarget target);

  // Stops probing `key`. A running check finishes, but its result is
  // dropped, and no callback for the key starts after this returns. When
  // called from a callback of another key or outside callbacks, it also
  // waits for a running callback of `key` to return. Errors: NotFound.
  Status Unregister(const std::string& key);

  // Hands in one result of a key whose target has `reported_by`, with the
  // wall time its check started. Results are applied in the order they
  // arrive, on the scheduler's threads. Errors: NotFound for an unknown key,
  // FailedPrecondition when the key's target is not reported by
  // `reported_by` (a superseded launcher) or after Stop.
  Status Report(const std::string& key, const std::string& reported_by, ProbeResult result,
                reconciler::WallTime started);

  // Returns the state of `key`, or NotFound.
  StatusOr<ProbeState> Get(const std::string& key) const;

  // Stops the threads after running checks finish (each within its
  // timeout), dropping their results. No callback starts after Stop returns.
  // Later calls do nothing. Must not be called from a callback.
  void Stop();

 private:
  struct Reported {
    ProbeResult result;
    reconciler::WallTime started;
  };
  struct Entry {
    std::string key;
    ProbeTarget target;
    std::uint64_t epoch = 0;  // bumped by Update; older results are dropped
    reconciler::TimePoint next_due;
    bool in_flight = false;  // queued for or running on a probe thread
    bool removed = false;
    bool delivering = false;  // callbacks are running
    std::thread::id delivering_thread;
    ProbeState state;
    std::deque<Reported> reported;  // results handed in by Report, oldest first
  };
  struct Job {
    std::shared_ptr<Entry> entry;
    std::uint64_t epoch;
    // Set for a reported target: the result to apply instead of a check.
    std::optional<Reported> result;
  };

  void RunSchedule();
  void RunProbes();
  // Runs one check of `job` and applies its result. Called without mu_.
  void RunJob(const Job& job);
  // Applies the thresholds to `result`. Returns true when readiness changed.
  static bool ApplyResult(const api::Probe& probe, const ProbeResult& result, ProbeState& state);
  // Calls the callbacks for `event`, marking the entry as delivering.
  void Deliver(Entry& entry, const ProbeEvent& event, bool changed,
               std::unique_lock<std::mutex>& lock);
  Status ValidateForRegister(const std::string& key, const ProbeTarget& target) const;
  // When the first check of `target` is due, or its first reported result
  // at the latest.
  reconciler::TimePoint FirstDue(const ProbeTarget& target) const;
  // The kNoReport failure of a reported target.
  ProbeResult MissingResult(const ProbeTarget& target) const;
  // When a reported target's next result is due at the latest, counted
  // from `from` plus `delay`.
  reconciler::TimePoint ReportDue(const ProbeTarget& target, reconciler::TimePoint from,
                                  std::chrono::seconds delay) const;
  // Queues the job of a due entry, or does nothing when none is due.
  void QueueIfDue(const std::shared_ptr<Entry>& entry, reconciler::TimePoint now,
                  reconciler::TimePoint& earliest);

  reconciler::Clock& clock_;
  Prober& prober_;
  const ProbeSchedulerOptions options_;

  std::mutex stop_mu_;  // serializes Stop calls
  mutable std::mutex mu_;
  // Wakes the schedule thread: entries, due times or in_flight changed.
  std::condition_variable schedule_changed_;
  // Wakes probe threads: a job was queued, or Stop.
  std::condition_variable jobs_changed_;
  // Wakes Unregister: callbacks of an entry returned.
  std::condition_variable delivered_;
  std::map<std::string, std::shared_ptr<Entry>> entries_;  // guarded by mu_
  std::deque<Job> jobs_;                                   // guarded by mu_
  bool stopping_ = false;                                  // guarded by mu_

  std::thread schedule_thread_;
  std::vector<std::thread> probe_threads_;
};

}  // namespace svcd::probe

#endif  // SVCD_PROBE_PROBE_SCHEDULER_H_
