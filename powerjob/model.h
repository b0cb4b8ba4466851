// The PowerJob objects that svcd sends and reads through the OpenAPI: the job
// definition that saveJob takes, and the job and instance records that
// fetchJob and fetchInstanceInfo return. Field names follow PowerJob's
// SaveJobInfoRequest, JobInfoDTO and InstanceInfoDTO (4.3.x and 5.1.x agree).

#ifndef SVCD_POWERJOB_MODEL_H_
#define SVCD_POWERJOB_MODEL_H_

#include <cstdint>
#include <optional>
#include <string>

namespace svcd::powerjob {

// Instance status codes (PowerJob's InstanceStatus). Codes 6 to 8 do not
// exist; a reply may still carry any integer, so statuses are kept as int.
inline constexpr int kWaitingDispatch = 1;
inline constexpr int kWaitingWorkerReceive = 2;
inline constexpr int kRunning = 3;
inline constexpr int kFailed = 4;
inline constexpr int kSucceed = 5;
inline constexpr int kCanceled = 9;
inline constexpr int kStopped = 10;

// Returns "WAITING_DISPATCH", ..., "STOPPED", or "UNKNOWN" for other codes.
const char* InstanceStatusName(int status);

// True for 1 and 2: the instance has not reached a worker's processor yet.
bool IsWaiting(int status);
// True for 1, 2 and 3, which stopInstance accepts.
bool IsGeneralizedRunning(int status);
// True for 4, 5, 9 and 10. PowerJob can still move such an instance back to
// RUNNING (a late worker report), so a finished status is not final.
bool IsFinished(int status);

// The result text of an instance that PowerJob failed because no worker of
// the app matched the job (offline, or not the designated one).
inline constexpr char kNoWorkerAvailable[] = "no worker available";

// The official shell processor: runs the instance parameters (or, when they
// are empty, the job parameters) as a script with /bin/sh on the worker.
inline constexpr char kShellProcessor[] =
    "tech.powerjob.official.processors.impl.script.ShellProcessor";

// A job definition for saveJob. The defaults make a job that runs only on
// runJob (time expression type API), on one worker, never retried and
// without a time limit. Enum fields carry PowerJob's enum names, as the
// request format requires.
struct JobSpec {
  std::optional<int64_t> id;  // empty creates a job; set, it updates that job
  std::string name;           // jobName, required
  std::string description;    // jobDescription
  std::string params;         // jobParams: the script when runJob sends none
  std::string time_expression_type = "API";
  std::string execute_type = "STANDALONE";
  std::string processor_type = "BUILT_IN";
  std::string processor_info = kShellProcessor;
  int max_instance_num = 0;            // 0: unlimited
  int concurrency = 5;                 // threads per instance on the worker
  int64_t instance_time_limit_ms = 0;  // 0: no limit
  int instance_retry_num = 0;
  int task_retry_num = 0;
  bool enable = true;
  std::string designated_workers;  // comma-separated ip:port or tags; empty means any
  int max_worker_count = 0;        // 0: unlimited
  std::string extra;
  std::string tag;
};

// A job as fetchJob returns it. Enum fields are PowerJob's integer codes
// (time expression type API 1, execute type STANDALONE 1, processor type
// BUILT_IN 1); job status is 1 enabled, 2 disabled, 99 deleted.
struct JobInfo {
  int64_t id = 0;
  int64_t app_id = 0;
  std::string name;
  std::string description;
  std::string params;
  int time_expression_type = 0;
  int execute_type = 0;
  int processor_type = 0;
  std::string processor_info;
  std::string designated_workers;
  int status = 0;
  int max_instance_num = 0;
  int64_t instance_time_limit_ms = 0;
  int instance_retry_num = 0;
  int task_retry_num = 0;
};

// Job status 99: deleted (a soft delete; fetchJob still returns the job).
inline constexpr int kJobDeleted = 99;

// An instance as fetchInstanceInfo returns it. Times are epoch milliseconds
// on the server's clock.
struct InstanceInfo {
  int64_t instance_id = 0;
  int64_t job_id = 0;
  int64_t app_id = 0;
  std::optional<int64_t> wf_instance_id;
  int status = 0;
  // The processor's message, or a system message such as "no worker
  // available". The shell processor writes "[INPUT]: <stdout lines>;[ERROR]:
  // <stderr lines>".
  std::string result;
  std::string job_params;
  // The script the instance runs. NOTE: it contains what the launcher
  // contains, the attempt's report secret included; never log it.
  std::string instance_params;
  std::optional<int64_t> expected_trigger_time_ms;
  std::optional<int64_t> actual_trigger_time_ms;  // the server's dispatch time
  std::optional<int64_t> finished_time_ms;
  std::string task_tracker_address;  // "ip:port", or "N/A" when dispatch failed
  int64_t running_times = 0;         // deliveries that a worker reported on
};

}  // namespace svcd::powerjob

#endif  // SVCD_POWERJOB_MODEL_H_
