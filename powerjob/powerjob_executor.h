// PowerJobExecutor: runs each attempt's launcher on a remote host through
// PowerJob, for Hosts with `spec.executor: powerjob` and
// `spec.powerjob.workerAddress`.
//
// Per worker address it keeps two PowerJob jobs, both created with saveJob on
// first use: the attempt job, which runs launchers, and the stop job, which
// runs stop and inspect scripts (powerjob/stop_script.h). Both are API jobs
// of the official shell processor, STANDALONE, pinned to the worker with
// designatedWorkers, with no retries, no time limit and no instance limit.
// Every Dispatch, Stop and Inspect is one runJob whose instanceParams is the
// script, so the shell processor runs it with /bin/sh on that worker.
//
// NOTE: the launcher carries the attempt's report secret, and PowerJob keeps
// instanceParams and returns them from fetchInstanceInfo to anyone who can
// reach its OpenAPI. A leaked secret lets its holder report for that one
// attempt only.

#ifndef SVCD_POWERJOB_POWERJOB_EXECUTOR_H_
#define SVCD_POWERJOB_POWERJOB_EXECUTOR_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "api/types.h"
#include "dispatch/executor.h"
#include "powerjob/client.h"
#include "powerjob/model.h"
#include "reconciler/clock.h"

namespace svcd::powerjob {

// The two jobs kept per worker address.
enum class JobKind {
  kAttempt,  // runs launchers
  kStop,     // runs stop and inspect scripts
};

// Returns "attempt" or "stop".
const char* JobKindName(JobKind kind);

struct PowerJobExecutorOptions {
  // The root of run directories on the hosts: an attempt's run directory is
  // <remote_run_root>/<deploy uid>/<target>. Absolute, one line.
  std::string remote_run_root = "/var/tmp/svcd/run";

  // Called after runJob succeeded for an attempt, with the new instance id,
  // so the caller can store it with the dispatch. May be empty.
  std::function<void(const std::string& dispatch_id, int64_t instance_id)> record_instance;
  // Returns the instance id of a dispatch that this object did not make
  // (after an svcd restart), or std::nullopt. May be empty.
  std::function<std::optional<int64_t>(const std::string& dispatch_id)> lookup_instance;
  // Returns the Host of an attempt that this object did not dispatch, for
  // Stop and Inspect after an svcd restart. May be empty; without it such an
  // attempt's host is found through its instance's job, when it has one.
  std::function<std::optional<api::Host>(const dispatch::AttemptRef& attempt)> lookup_host;
  // Called after saveJob created a job, and asked for the job of a worker
  // before creating one. A remembered job is confirmed with fetchJob (same
  // worker, shell processor, not deleted) before it is used. Both may be
  // empty; a new job is then created per worker after each restart.
  std::function<void(const std::string& worker_address, JobKind kind, int64_t job_id)> record_job;
  std::function<std::optional<int64_t>(const std::string& worker_address, JobKind kind)> lookup_job;

  // Prefix of the job names: "<prefix>-attempt@<worker>" and
  // "<prefix>-stop@<worker>".
  std::string job_name_prefix = "svcd";
  // How long a launcher retries its exit report (LaunchSpec).
  int final_report_seconds = 600;
  // For the stop script: how long the launcher may take to report and exit
  // after the service is gone, and how long KILLed processes may take.
  std::chrono::milliseconds launcher_exit_timeout{15000};
  std::chrono::milliseconds kill_timeout{5000};
  // How often the stop script looks at the process table.
  std::chrono::milliseconds script_poll{200};
  // How often a stop or inspect instance is fetched while it runs.
  std::chrono::milliseconds poll_interval{500};
  // Added to a stop run's own time limit, and the whole limit of an inspect
  // run: time for PowerJob to deliver the script and report its end.
  std::chrono::milliseconds delivery_allowance{60000};
};

// Whether calls through PowerJob for one host work.
struct DispatchHealth {
  std::optional<reconciler::WallTime> last_success;  // last call that reached the worker
  std::optional<reconciler::WallTime> last_failure;
  std::string last_error;  // the message of the last failure; kept after a success

  // True when a call succeeded and none failed after it.
  bool ok() const {
    return last_success.has_value() &&
           (!last_failure.has_value() || *last_failure <= *last_success);
  }
};

// Thread-safety: every method may be called from several threads at once.
// Waits use `clock`; pass a RealClock, because PowerJob runs in real time.
class PowerJobExecutor final : public dispatch::Executor {
 public:
  // `client` and `clock` must outlive the executor.
  PowerJobExecutor(PowerJobExecutorOptions options, Client& client, reconciler::Clock& clock);

  PowerJobExecutor(const PowerJobExecutor&) = delete;
  PowerJobExecutor& operator=(const PowerJobExecutor&) = delete;

  // Renders the launcher (run directory under remote_run_root) and sends it
  // with runJob to the attempt job of request.host's worker, creating that
  // job first when needed. Returns:
  //   OK                 runJob succeeded; the instance id went to record_instance.
  //                      The instance may still fail with "no worker
  //                      available" or wait: see InstanceStatus.
  //   InvalidArgument    a bad id or launch value, or a host without a
  //                      powerjob executor and worker address (naming the field)
  //   Unavailable        no PowerJob server took the request; nothing was delivered
  //   DeadlineExceeded   runJob may have been delivered but its response was lost;
  //                      the launcher's first report shows whether it runs
  //   other codes        PowerJob rejected the call (its message included)
  Status Dispatch(const dispatch::DispatchRequest& request) override;

  // Runs the stop script on the attempt's host through the stop job and
  // waits for its line. `stopped` is true only when the script printed
  // "gone". Then stops the attempt's instance when it still waits or runs,
  // so PowerJob delivers nothing later. Errors: InvalidArgument for a bad
  // id; FailedPrecondition when the attempt's host is unknown; Unavailable
  // or DeadlineExceeded when PowerJob or the worker could not run the script
  // in time; Internal when the script failed on the host.
  StatusOr<dispatch::StopResult> Stop(const dispatch::StopRequest& request) override;

  // Fetches the attempt's instance. While it waits for its first delivery
  // (status 1 or 2, never reported on), returns NotClaimed, or Cancelled when
  // a Stop of this object claimed the attempt. Otherwise runs the stop
  // script in read-only mode on the host and returns what it read. Each
  // call is a PowerJob instance of its own, so call it when adopting, not
  // in a loop. Errors as Stop.
  StatusOr<dispatch::AttemptInfo> Inspect(const dispatch::AttemptRef& attempt) override;

  // Returns PowerJob's record of the attempt's instance, with its status and
  // result. A FAILED instance with result kNoWorkerAvailable never reached a
  // worker, and one that stays in status 1 or 2 is stuck. NotFound when no
  // instance id is known for the dispatch.
  StatusOr<InstanceInfo> InstanceStatus(const std::string& dispatch_id);

  // Returns the health of dispatch to the host named `host_name`, or
  // std::nullopt before any call for it.
  std::optional<DispatchHealth> HostHealth(const std::string& host_name) const;

  // Stops the attempt's PowerJob instance when it still waits or runs,
  // without running anything on the host: for attempts whose launcher never
  // reported, such as an instance stuck waiting for its worker. A launcher
  // that PowerJob still delivers afterwards is refused by its fencing token.
  // OK when no instance is known. Errors: those of FetchInstanceStatus and
  // StopInstance.
  Status Abandon(const std::string& dispatch_id);

  // Drops what this object remembers of a dispatch (its host and instance
  // id). Call it once the attempt is finished and stopped; later calls for
  // it then go through lookup_instance and lookup_host.
  void Forget(const std::string& dispatch_id);

 private:
  // The worker an attempt runs on and its PowerJob instance.
  struct Place {
    std::string host_name;
    std::string worker_address;
    std::optional<int64_t> instance_id;
    bool stop_claimed = false;  // a Stop claimed the attempt as cancelled
  };

  std::string RunDir(const dispatch::AttemptRef& attempt) const;
  StatusOr<Place> Locate(const dispatch::AttemptRef& attempt);
  StatusOr<std::string> WorkerOfInstance(int64_t instance_id);
  StatusOr<int64_t> EnsureJob(const std::string& worker, JobKind kind);
  StatusOr<int64_t> ConfirmJob(const std::string& worker, JobKind kind, int64_t job_id);
  void ForgetJob(const std::string& worker, JobKind kind, int64_t job_id);
  // Sends `script` with runJob to the worker's job of `kind`, saving the job
  // again once when PowerJob no longer has it.
  StatusOr<int64_t> RunScript(const std::string& worker, JobKind kind, const std::string& script);
  // Runs `script` through the stop job and returns its stdout once the
  // instance finished, waiting at most `limit`.
  StatusOr<std::string> RunAndWait(const Place& place, const std::string& script,
                                   std::chrono::milliseconds limit);
  void StopAttemptInstance(const std::string& dispatch_id, const Place& place);
  void NoteResult(const std::string& host_name, const Status& status);

  const PowerJobExecutorOptions options_;
  Client& client_;
  reconciler::Clock& clock_;

  std::mutex jobs_mu_;  // held while a job is confirmed or saved, so each is saved once
  mutable std::mutex mu_;
  std::map<std::pair<std::string, JobKind>, int64_t> jobs_;  // guarded by mu_
  std::map<std::string, Place> places_;                      // by dispatch id; guarded by mu_
  std::map<std::string, DispatchHealth> health_;             // by host name; guarded by mu_
};

}  // namespace svcd::powerjob

#endif  // SVCD_POWERJOB_POWERJOB_EXECUTOR_H_
