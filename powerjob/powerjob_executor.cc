#include "powerjob/powerjob_executor.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <vector>

#include "dispatch/launcher.h"
#include "dispatch/run_dir.h"
#include "powerjob/stop_script.h"
#include "powerjob/wire.h"

namespace svcd::powerjob {
namespace {

using dispatch::AttemptInfo;
using dispatch::AttemptRef;
using dispatch::AttemptState;
using std::chrono::milliseconds;

// The job parameters, which the shell processor runs when runJob sends no
// instanceParams. The executor always sends them, so this script only
// reports the mistake and fails.
constexpr char kIdleJobScript[] =
    "#!/bin/sh\necho 'svcd: this job runs only the script that runJob sends' >&2\nexit 1\n";

Status Invalid(std::string field, std::string message) {
  Cause cause;
  cause.field = std::move(field);
  cause.message = std::move(message);
  std::string text = "invalid " + cause.field + ": " + cause.message;
  return Status::InvalidArgument(std::move(text), {cause});
}

Status ValidateAttempt(const AttemptRef& attempt) {
  for (const auto& [field, value] : {std::pair{"attempt.deploy_uid", &attempt.deploy_uid},
                                     std::pair{"attempt.target", &attempt.target},
                                     std::pair{"attempt.dispatch_id", &attempt.dispatch_id}}) {
    if (Status status = dispatch::ValidatePathSegment(field, *value); !status.ok()) {
      return Invalid(field, status.causes().front().message);
    }
  }
  return Status::Ok();
}

// Returns the host's worker address, which designatedWorkers pins jobs to.
// PowerJob splits designatedWorkers on commas without trimming, so commas
// and white space are rejected.
StatusOr<std::string> WorkerAddress(const api::Host& host) {
  const std::string prefix = "host \"" + host.metadata.name + "\" ";
  if (host.spec.executor != "powerjob") {
    return Invalid("host.spec.executor", prefix + "has executor \"" + host.spec.executor +
                                             "\"; this executor runs only powerjob hosts");
  }
  if (!host.spec.powerjob.has_value() || host.spec.powerjob->worker_address.empty()) {
    return Invalid("host.spec.powerjob.workerAddress",
                   prefix + "has no worker address; set it to the PowerJob worker's ip:port");
  }
  const std::string& address = host.spec.powerjob->worker_address;
  const bool bad = address.size() > 200 || std::any_of(address.begin(), address.end(), [](char c) {
                     return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == ',';
                   });
  if (bad) {
    return Invalid("host.spec.powerjob.workerAddress",
                   prefix + "has worker address \"" + address +
                       "\"; use one ip:port of at most 200 characters, without commas or spaces");
  }
  return address;
}

JobSpec JobSpecFor(const std::string& prefix, const std::string& worker, JobKind kind) {
  JobSpec spec;
  spec.name = prefix + "-" + JobKindName(kind) + "@" + worker;
  spec.description = kind == JobKind::kAttempt
                         ? "svcd: runs the launchers of attempts on worker " + worker
                         : "svcd: stops and inspects attempts on worker " + worker;
  spec.params = kIdleJobScript;
  spec.designated_workers = worker;
  return spec;
}

// True when `job` is one that JobSpecFor made for `worker` and it is not
// deleted. The integer codes are those of fetchJob: API, STANDALONE and
// BUILT_IN are all 1.
bool JobMatches(const JobInfo& job, const std::string& worker) {
  return job.status != kJobDeleted && job.designated_workers == worker &&
         job.processor_info == kShellProcessor && job.processor_type == 1 &&
         job.execute_type == 1 && job.time_expression_type == 1;
}

std::string Seconds(milliseconds duration) {
  return std::to_string((duration.count() + 999) / 1000) + " s";
}

Status WithContext(const Status& status, const std::string& context) {
  return Status(status.code(), context + ": " + status.message());
}

// True when PowerJob never handed the instance to a worker's processor.
bool NeverDelivered(const InstanceInfo& info) {
  if (info.running_times > 0) return false;
  return IsWaiting(info.status) || info.status == kCanceled ||
         (info.status == kFailed && info.result == kNoWorkerAvailable);
}

}  // namespace

const char* JobKindName(JobKind kind) { return kind == JobKind::kAttempt ? "attempt" : "stop"; }

PowerJobExecutor::PowerJobExecutor(PowerJobExecutorOptions options, Client& client,
                                   reconciler::Clock& clock)
    : options_(std::move(options)), client_(client), clock_(clock) {}

std::string PowerJobExecutor::RunDir(const AttemptRef& attempt) const {
  std::string root = options_.remote_run_root;
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  return root + "/" + attempt.deploy_uid + "/" + attempt.target;
}

void PowerJobExecutor::NoteResult(const std::string& host_name, const Status& status) {
  if (host_name.empty()) return;
  std::lock_guard<std::mutex> lock(mu_);
  DispatchHealth& health = health_[host_name];
  if (status.ok()) {
    health.last_success = clock_.WallNow();
  } else {
    health.last_failure = clock_.WallNow();
    health.last_error = status.message();
  }
}

std::optional<DispatchHealth> PowerJobExecutor::HostHealth(const std::string& host_name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = health_.find(host_name);
  if (it == health_.end()) return std::nullopt;
  return it->second;
}

void PowerJobExecutor::Forget(const std::string& dispatch_id) {
  std::lock_guard<std::mutex> lock(mu_);
  places_.erase(dispatch_id);
}

StatusOr<int64_t> PowerJobExecutor::ConfirmJob(const std::string& worker, JobKind kind,
                                               int64_t job_id) {
  StatusOr<JobInfo> job = client_.FetchJob(job_id);
  if (!job.ok()) return job.status();
  if (!JobMatches(*job, worker)) {
    return Status::FailedPrecondition("PowerJob job " + std::to_string(job_id) + " is not the " +
                                      JobKindName(kind) + " job of worker " + worker +
                                      " (deleted, or other settings)");
  }
  return job_id;
}

StatusOr<int64_t> PowerJobExecutor::EnsureJob(const std::string& worker, JobKind kind) {
  const auto key = std::pair(worker, kind);
  auto cached = [&]() -> std::optional<int64_t> {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = jobs_.find(key);
    return it == jobs_.end() ? std::nullopt : std::optional<int64_t>(it->second);
  };
  if (std::optional<int64_t> id = cached()) return *id;
  std::lock_guard<std::mutex> saving(jobs_mu_);
  if (std::optional<int64_t> id = cached()) return *id;

  // Step 1: a job remembered from an earlier run is used once fetchJob
  // confirms it.
  if (options_.lookup_job) {
    if (std::optional<int64_t> known = options_.lookup_job(worker, kind); known.has_value()) {
      StatusOr<int64_t> confirmed = ConfirmJob(worker, kind, *known);
      if (confirmed.ok()) {
        std::lock_guard<std::mutex> lock(mu_);
        jobs_[key] = *confirmed;
        return confirmed;
      }
      const Code code = confirmed.status().code();
      if (code != Code::kNotFound && code != Code::kFailedPrecondition &&
          code != Code::kPermissionDenied) {
        return confirmed.status();
      }
      spdlog::info("PowerJob job {} is no longer usable, saving a new one: {}", *known,
                   confirmed.status().message());
    }
  }

  // Step 2: saveJob, sent once. A lost response leaves a job that stays unused.
  const JobSpec spec = JobSpecFor(options_.job_name_prefix, worker, kind);
  StatusOr<int64_t> id = client_.SaveJob(spec);
  if (!id.ok()) {
    if (id.status().code() != Code::kDeadlineExceeded) return id.status();
    spdlog::warn(
        "PowerJob may have created job \"{}\" without svcd getting its id ({}); the next "
        "dispatch saves a new one, and the stray job stays unused",
        spec.name, id.status().message());
    return Status::Unavailable(
        id.status().message() +
        "; nothing was dispatched, and the next dispatch saves the job again");
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_[key] = *id;
  }
  if (options_.record_job) options_.record_job(worker, kind, *id);
  spdlog::info("PowerJob job saved: job={} name={} worker={}", *id, spec.name, worker);
  return id;
}

void PowerJobExecutor::ForgetJob(const std::string& worker, JobKind kind, int64_t job_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = jobs_.find(std::pair(worker, kind));
  if (it != jobs_.end() && it->second == job_id) jobs_.erase(it);
}

// Maps a failed job save to Unavailable. No runJob was sent, so the script
// cannot run, and DeadlineExceeded would wrongly mean that it may run.
static Status NothingRun(const Status& status) {
  if (status.code() != Code::kDeadlineExceeded) return status;
  return Status::Unavailable(status.message() + "; no runJob was sent");
}

StatusOr<int64_t> PowerJobExecutor::RunScript(const std::string& worker, JobKind kind,
                                              const std::string& script) {
  StatusOr<int64_t> job = EnsureJob(worker, kind);
  if (!job.ok()) return NothingRun(job.status());
  StatusOr<int64_t> instance = client_.RunJob(*job, script);
  const Code code = instance.ok() ? Code::kOk : instance.status().code();
  if (code == Code::kNotFound || code == Code::kPermissionDenied) {
    // The job was deleted or belongs to another app: runJob created nothing,
    // so a new job and one more runJob are safe.
    spdlog::warn("PowerJob job {} of worker {} is gone ({}); saving it again", *job, worker,
                 instance.status().message());
    ForgetJob(worker, kind, *job);
    job = EnsureJob(worker, kind);
    if (!job.ok()) return NothingRun(job.status());
    instance = client_.RunJob(*job, script);
  }
  return instance;
}

StatusOr<std::string> PowerJobExecutor::WorkerOfInstance(int64_t instance_id) {
  StatusOr<InstanceInfo> info = client_.FetchInstanceInfo(instance_id);
  if (!info.ok()) return info.status();
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [key, job_id] : jobs_) {
      if (job_id == info->job_id) return key.first;
    }
  }
  StatusOr<JobInfo> job = client_.FetchJob(info->job_id);
  if (!job.ok()) return job.status();
  const std::string& worker = job->designated_workers;
  if (worker.empty() || worker.find(',') != std::string::npos) {
    return Status::FailedPrecondition("PowerJob job " + std::to_string(job->id) +
                                      " is not pinned to one worker (designatedWorkers \"" +
                                      worker + "\")");
  }
  return worker;
}

StatusOr<PowerJobExecutor::Place> PowerJobExecutor::Locate(const AttemptRef& attempt) {
  const std::string& id = attempt.dispatch_id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = places_.find(id);
    if (it != places_.end()) return it->second;
  }

  Place place;
  if (options_.lookup_instance) place.instance_id = options_.lookup_instance(id);
  if (options_.lookup_host) {
    if (std::optional<api::Host> host = options_.lookup_host(attempt); host.has_value()) {
      StatusOr<std::string> worker = WorkerAddress(*host);
      if (!worker.ok()) return worker.status();
      place.worker_address = *worker;
      place.host_name = host->metadata.name;
    }
  }
  if (place.worker_address.empty() && place.instance_id.has_value()) {
    StatusOr<std::string> worker = WorkerOfInstance(*place.instance_id);
    if (!worker.ok()) {
      return WithContext(worker.status(), "cannot find the worker of dispatch " + id);
    }
    place.worker_address = *worker;
  }
  if (place.worker_address.empty()) {
    return Status::FailedPrecondition(
        "the host of dispatch " + id +
        " is unknown: this executor did not dispatch it, lookup_host names no host, and no "
        "PowerJob instance is recorded for it");
  }
  std::lock_guard<std::mutex> lock(mu_);
  return places_.emplace(id, place).first->second;
}

Status PowerJobExecutor::Dispatch(const dispatch::DispatchRequest& request) {
  if (Status status = ValidateAttempt(request.attempt); !status.ok()) return status;
  StatusOr<std::string> worker = WorkerAddress(request.host);
  if (!worker.ok()) return worker.status();
  const std::string& id = request.attempt.dispatch_id;
  const std::string& host_name = request.host.metadata.name;

  StatusOr<std::string> launcher = dispatch::RenderLauncher(
      dispatch::MakeLaunchSpec(request, RunDir(request.attempt), options_.final_report_seconds));
  if (!launcher.ok()) return launcher.status();

  // The place is stored before runJob, so a Stop finds the worker even when
  // runJob's response is lost.
  {
    std::lock_guard<std::mutex> lock(mu_);
    Place& place = places_[id];
    place.host_name = host_name;
    place.worker_address = *worker;
  }
  StatusOr<int64_t> instance = RunScript(*worker, JobKind::kAttempt, *launcher);
  if (!instance.ok()) {
    NoteResult(host_name, instance.status());
    spdlog::error("dispatch failed: dispatch={} {} worker={}: {}", id, request.description, *worker,
                  instance.status().message());
    return WithContext(instance.status(), "dispatch " + id + " to worker " + *worker);
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    places_[id].instance_id = *instance;
  }
  if (options_.record_instance) options_.record_instance(id, *instance);
  NoteResult(host_name, Status::Ok());
  spdlog::info("dispatched: dispatch={} {} worker={} instance={}", id, request.description, *worker,
               *instance);
  return Status::Ok();
}

StatusOr<std::string> PowerJobExecutor::RunAndWait(const Place& place, const std::string& script,
                                                   milliseconds limit) {
  const reconciler::TimePoint deadline = reconciler::DeadlineAfter(clock_.Now(), limit);
  StatusOr<int64_t> instance = RunScript(place.worker_address, JobKind::kStop, script);
  if (!instance.ok()) return instance.status();
  const std::string name =
      "PowerJob instance " + std::to_string(*instance) + " on worker " + place.worker_address;

  std::string last = "no status fetched yet";
  while (true) {
    StatusOr<InstanceInfo> info = client_.FetchInstanceInfo(*instance);
    if (info.ok()) {
      last = std::string("status ") + InstanceStatusName(info->status);
      if (info->status == kFailed && info->result == kNoWorkerAvailable) {
        return Status::Unavailable(name + " failed: PowerJob has no worker " +
                                   place.worker_address + " available");
      }
      if (info->status == kSucceed || info->status == kFailed) {
        return wire::ShellResultOutput(info->result);
      }
      if (info->status == kCanceled || info->status == kStopped) {
        return Status::Internal(name + " ended as " + InstanceStatusName(info->status) + ": " +
                                info->result);
      }
    } else {
      last = info.status().message();
    }
    const reconciler::TimePoint now = clock_.Now();
    if (now >= deadline) {
      return Status::DeadlineExceeded(name + " did not finish within " + Seconds(limit) +
                                      " (last: " + last + ")");
    }
    clock_.SleepUntil(std::min(deadline, reconciler::DeadlineAfter(now, options_.poll_interval)));
  }
}

void PowerJobExecutor::StopAttemptInstance(const std::string& dispatch_id, const Place& place) {
  if (!place.instance_id.has_value()) return;
  const int64_t instance = *place.instance_id;
  StatusOr<int> status = client_.FetchInstanceStatus(instance);
  if (!status.ok()) {
    spdlog::warn("stop: dispatch={} instance={}: {}", dispatch_id, instance,
                 status.status().message());
    return;
  }
  if (!IsGeneralizedRunning(*status)) return;
  Status stopped = client_.StopInstance(instance);
  if (!stopped.ok() && stopped.code() != Code::kFailedPrecondition) {
    spdlog::warn("stop: dispatch={} instance={} was {} and could not be stopped in PowerJob: {}",
                 dispatch_id, instance, InstanceStatusName(*status), stopped.message());
  }
}

Status PowerJobExecutor::Abandon(const std::string& dispatch_id) {
  std::optional<int64_t> instance;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = places_.find(dispatch_id);
    if (it != places_.end()) instance = it->second.instance_id;
  }
  if (!instance && options_.lookup_instance) instance = options_.lookup_instance(dispatch_id);
  if (!instance) return Status::Ok();
  StatusOr<int> status = client_.FetchInstanceStatus(*instance);
  if (!status.ok()) return status.status();
  if (!IsGeneralizedRunning(*status)) return Status::Ok();
  Status stopped = client_.StopInstance(*instance);
  if (stopped.code() == Code::kFailedPrecondition) return Status::Ok();
  return stopped;
}

StatusOr<dispatch::StopResult> PowerJobExecutor::Stop(const dispatch::StopRequest& request) {
  if (Status status = ValidateAttempt(request.attempt); !status.ok()) return status;
  const std::string& id = request.attempt.dispatch_id;
  StatusOr<Place> place = Locate(request.attempt);
  if (!place.ok()) return place.status();

  StopScriptSpec spec;
  spec.mode = StopScriptSpec::Mode::kStop;
  spec.run_dir = RunDir(request.attempt);
  spec.dispatch_id = id;
  spec.grace = request.grace;
  spec.launcher_exit = options_.launcher_exit_timeout;
  spec.kill = options_.kill_timeout;
  spec.poll = options_.script_poll;
  StatusOr<std::string> script = RenderStopScript(spec);
  if (!script.ok()) return script.status();

  const std::string context = "stop of dispatch " + id + " on worker " + place->worker_address;
  StatusOr<std::string> output =
      RunAndWait(*place, *script, StopScriptDuration(spec) + options_.delivery_allowance);
  StatusOr<StopOutput> parsed = output.ok() ? ParseStopOutput(*output) : output.status();
  NoteResult(place->host_name, parsed.status());
  if (!parsed.ok()) {
    spdlog::error("stop failed: dispatch={} worker={}: {}", id, place->worker_address,
                  parsed.status().message());
    return WithContext(parsed.status(), context);
  }
  if (parsed->claimed) {
    std::lock_guard<std::mutex> lock(mu_);
    places_[id].stop_claimed = true;
  }

  // PowerJob's instance of the attempt may still wait for delivery, or run
  // until its launcher ends. A stopped instance is never delivered later.
  StopAttemptInstance(id, *place);
  const dispatch::StopResult& result = parsed->result;
  if (result.stopped) {
    spdlog::info("stopped: dispatch={} worker={} signalled={} claimed={}", id,
                 place->worker_address, result.signalled, parsed->claimed);
  }
  for (const dispatch::Survivor& survivor : result.survivors) {
    spdlog::error("stop left a survivor: dispatch={} worker={} pid={} command={} role={}", id,
                  place->worker_address, survivor.pid, survivor.command, survivor.role);
  }
  return result;
}

StatusOr<AttemptInfo> PowerJobExecutor::Inspect(const AttemptRef& attempt) {
  if (Status status = ValidateAttempt(attempt); !status.ok()) return status;
  StatusOr<Place> place = Locate(attempt);
  if (!place.ok()) return place.status();
  const std::string run_dir = RunDir(attempt);
  const std::string attempt_dir = run_dir + "/attempts/" + attempt.dispatch_id;
  const std::string context =
      "inspect of dispatch " + attempt.dispatch_id + " on worker " + place->worker_address;

  // Step 1: an instance that never reached a worker has run no launcher.
  if (place->instance_id.has_value()) {
    StatusOr<InstanceInfo> info = client_.FetchInstanceInfo(*place->instance_id);
    if (!info.ok()) return WithContext(info.status(), context);
    if (NeverDelivered(*info)) {
      AttemptInfo result;
      result.attempt_dir = attempt_dir;
      if (place->stop_claimed) {
        result.state = AttemptState::kCancelled;
        result.stop_reason = dispatch::kStopReasonCancelled;
      }
      return result;
    }
  }

  // Step 2: read the attempt directory on the host.
  StopScriptSpec spec;
  spec.mode = StopScriptSpec::Mode::kInspect;
  spec.run_dir = run_dir;
  spec.dispatch_id = attempt.dispatch_id;
  StatusOr<std::string> script = RenderStopScript(spec);
  if (!script.ok()) return script.status();
  StatusOr<std::string> output = RunAndWait(*place, *script, options_.delivery_allowance);
  StatusOr<AttemptInfo> info =
      output.ok() ? ParseInspectOutput(*output, attempt_dir) : output.status();
  NoteResult(place->host_name, info.status());
  if (!info.ok()) return WithContext(info.status(), context);
  return info;
}

StatusOr<InstanceInfo> PowerJobExecutor::InstanceStatus(const std::string& dispatch_id) {
  std::optional<int64_t> instance;
  std::string host_name;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = places_.find(dispatch_id);
    if (it != places_.end()) {
      instance = it->second.instance_id;
      host_name = it->second.host_name;
    }
  }
  if (!instance.has_value() && options_.lookup_instance) {
    instance = options_.lookup_instance(dispatch_id);
  }
  if (!instance.has_value()) {
    return Status::NotFound("no PowerJob instance is known for dispatch " + dispatch_id);
  }
  StatusOr<InstanceInfo> info = client_.FetchInstanceInfo(*instance);
  if (!info.ok()) {
    NoteResult(host_name, info.status());
    return WithContext(info.status(), "status of dispatch " + dispatch_id);
  }
  if (info->status == kFailed && info->result == kNoWorkerAvailable) {
    NoteResult(host_name, Status::Unavailable("PowerJob instance " + std::to_string(*instance) +
                                              " failed: no worker available"));
  } else if (info->running_times > 0 || info->status == kRunning) {
    NoteResult(host_name, Status::Ok());
  }
  return info;
}

}  // namespace svcd::powerjob
