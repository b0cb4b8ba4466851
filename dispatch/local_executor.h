// LocalExecutor: runs each attempt's launcher as a child process of svcd, on
// the host where svcd runs.

#ifndef SVCD_DISPATCH_LOCAL_EXECUTOR_H_
#define SVCD_DISPATCH_LOCAL_EXECUTOR_H_

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "dispatch/executor.h"
#include "reconciler/clock.h"

namespace svcd::dispatch {

struct LocalExecutorOptions {
  // svcd's data directory; run directories live under DATA_DIR/run. Required,
  // absolute.
  std::filesystem::path data_dir;
  // The shell that runs launcher files.
  std::string shell = "/bin/sh";
  // Variables of svcd's environment that launchers, and so services, get.
  // Every other variable (SVCD_STORE_PASSWORD and the like) is withheld. PATH
  // is "/usr/local/bin:/usr/bin:/bin" when svcd has none.
  std::vector<std::string> passed_env = {"PATH", "HOME",   "USER", "LOGNAME",
                                         "LANG", "LC_ALL", "TZ",   "TMPDIR"};
  // How often Stop and the reaper look at processes.
  std::chrono::milliseconds poll_interval{100};
  // How long Stop waits, after the service is gone, for the launcher to send
  // its exit report and exit on its own before it is stopped too.
  std::chrono::milliseconds launcher_exit_timeout{15000};
  // How long Stop waits for KILLed processes to disappear.
  std::chrono::milliseconds kill_timeout{5000};
  // How long a launcher retries its exit report (LaunchSpec).
  int final_report_seconds = 600;
};

// Runs launchers with posix_spawn (no fork of the large svcd process): the
// configured shell runs RUN/launchers/<id>.sh, with stdin from /dev/null,
// output appended to RUN/launchers/<id>.out, no inherited file descriptors,
// default signal handling, and its own process group. A reaper thread reaps
// the launchers this object started or adopted, so no zombie remains.
//
// Destroying the executor stops the reaper and leaves launchers and services
// running, as an svcd restart does; a new executor adopts them in Inspect.
//
// Waits use `clock`, so pass a RealClock: the processes run in real time.
// Thread-safety: all methods may be called concurrently.
class LocalExecutor final : public Executor {
 public:
  LocalExecutor(LocalExecutorOptions options, reconciler::Clock& clock);
  ~LocalExecutor() override;

  LocalExecutor(const LocalExecutor&) = delete;
  LocalExecutor& operator=(const LocalExecutor&) = delete;

  // See Executor. Also InvalidArgument when options.data_dir is not
  // absolute, and Internal when the launcher file cannot be written or
  // posix_spawn fails (with the system's reason).
  Status Dispatch(const DispatchRequest& request) override;
  StatusOr<StopResult> Stop(const StopRequest& request) override;
  // See Executor. A live launcher that is a child of this process is adopted
  // by the reaper.
  StatusOr<AttemptInfo> Inspect(const AttemptRef& attempt) override;

 private:
  StatusOr<std::filesystem::path> RunDir(const AttemptRef& attempt) const;
  std::vector<std::string> LauncherEnvironment() const;
  void Adopt(pid_t pid);
  // Returns the pid of the launcher this object spawned for `attempt_dir`,
  // or 0.
  pid_t SpawnedLauncher(const std::string& attempt_dir) const;
  void ReapLoop();
  void ReapLocked();

  const LocalExecutorOptions options_;
  reconciler::Clock& clock_;

  mutable std::mutex mu_;
  std::condition_variable reaper_wakeup_;
  bool stopping_ = false;                  // guarded by mu_
  std::map<pid_t, std::string> children_;  // launcher pid -> attempt dir; guarded by mu_
  std::thread reaper_;
};

}  // namespace svcd::dispatch

#endif  // SVCD_DISPATCH_LOCAL_EXECUTOR_H_
