#include "dispatch/local_executor.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "dispatch/attempt_stopper.h"
#include "dispatch/launcher.h"
#include "dispatch/process_table.h"
#include "dispatch/run_dir.h"

namespace svcd::dispatch {
namespace {

constexpr char kDefaultPath[] = "PATH=/usr/local/bin:/usr/bin:/bin";

std::string SystemError(const std::string& what, int error) {
  return what + ": " + std::strerror(error);
}

Status ValidateAttempt(const AttemptRef& attempt) {
  std::vector<Cause> causes;
  for (const auto& [field, value] : {std::pair{"attempt.deploy_uid", &attempt.deploy_uid},
                                     std::pair{"attempt.target", &attempt.target},
                                     std::pair{"attempt.dispatch_id", &attempt.dispatch_id}}) {
    Status status = ValidatePathSegment(field, *value);
    if (!status.ok()) {
      causes.insert(causes.end(), status.causes().begin(), status.causes().end());
    }
  }
  if (causes.empty()) {
    return Status::Ok();
  }
  std::string message = "invalid attempt: " + causes.front().field + " " + causes.front().message;
  return Status::InvalidArgument(std::move(message), std::move(causes));
}

// Creates `dir` and its parents with mode 0700 where they are missing.
Status MakeDirectories(const std::filesystem::path& dir) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    return Status::Internal("cannot create " + dir.string() + ": " + error.message());
  }
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::replace, error);
  return Status::Ok();
}

// Writes `text` to `path` with mode 0600 through a temporary file and a
// rename, so a shell that already reads an older version keeps its copy.
Status WriteFileAtomically(const std::filesystem::path& path, const std::string& text) {
  const std::string temporary = path.string() + ".tmp." + std::to_string(getpid());
  const int fd = open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Status::Internal(SystemError("cannot create " + temporary, errno));
  }
  size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      close(fd);
      unlink(temporary.c_str());
      return Status::Internal(SystemError("cannot write " + temporary, error));
    }
    written += static_cast<size_t>(n);
  }
  close(fd);
  if (rename(temporary.c_str(), path.c_str()) != 0) {
    const int error = errno;
    unlink(temporary.c_str());
    return Status::Internal(SystemError("cannot rename " + temporary, error));
  }
  return Status::Ok();
}

// Spawns `shell file` in a new process group with stdin from /dev/null,
// stdout and stderr appended to `output`, no other inherited descriptors and
// the common signals at their default actions.
StatusOr<pid_t> SpawnLauncher(const std::string& shell, const std::filesystem::path& file,
                              const std::filesystem::path& output,
                              const std::vector<std::string>& environment) {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attributes);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, output.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0600);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);

  sigset_t no_signals;
  sigset_t reset_signals;
  sigemptyset(&no_signals);
  sigemptyset(&reset_signals);
  for (int signal : {SIGHUP, SIGINT, SIGQUIT, SIGPIPE, SIGTERM, SIGCHLD, SIGUSR1, SIGUSR2, SIGALRM,
                     SIGTSTP, SIGTTIN, SIGTTOU}) {
    sigaddset(&reset_signals, signal);
  }
  posix_spawnattr_setflags(&attributes,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attributes, 0);
  posix_spawnattr_setsigmask(&attributes, &no_signals);
  posix_spawnattr_setsigdefault(&attributes, &reset_signals);

  std::string arg0 = "sh";
  std::string arg1 = file.string();
  char* argv[] = {arg0.data(), arg1.data(), nullptr};
  std::vector<char*> envp;
  std::vector<std::string> env_copy = environment;
  for (std::string& entry : env_copy) envp.push_back(entry.data());
  envp.push_back(nullptr);

  pid_t pid = 0;
  const int error = posix_spawn(&pid, shell.c_str(), &actions, &attributes, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (error != 0) {
    return Status::Internal(SystemError("posix_spawn of " + shell + " " + file.string(), error));
  }
  return pid;
}

AttemptState StateOf(const AttemptInfo& info) {
  if (info.exit_status.has_value()) return AttemptState::kExited;
  if (info.pid.has_value()) {
    return info.alive || info.launcher_alive ? AttemptState::kRunning : AttemptState::kLost;
  }
  if (!info.stop_reason.empty() || !info.launcher_alive) return AttemptState::kCancelled;
  return AttemptState::kStarting;
}

// Reads the files of a claimed attempt and checks which recorded processes
// still live (with the same start time).
AttemptInfo ReadAttempt(const std::filesystem::path& dir) {
  AttemptInfo info;
  info.attempt_dir = dir.string();
  info.launcher_pid = ReadIntFile(dir / kLauncherPidFile);
  if (info.launcher_pid.has_value()) {
    std::optional<int64_t> start = ReadIntFile(dir / kLauncherStartFile);
    info.launcher_alive =
        IsSameLiveProcess(static_cast<pid_t>(*info.launcher_pid),
                          start.has_value() ? std::optional<uint64_t>(*start) : std::nullopt);
  }
  info.pid = ReadIntFile(dir / kServicePidFile);
  if (info.pid.has_value()) {
    std::optional<int64_t> start = ReadIntFile(dir / kServiceStartFile);
    std::optional<ProcessInfo> process = ReadProcess(static_cast<pid_t>(*info.pid));
    info.alive = process.has_value() && process->live() && process->session == process->pid &&
                 (!start.has_value() || process->start_ticks == static_cast<uint64_t>(*start));
  }
  if (std::optional<int64_t> status = ReadIntFile(dir / kExitFile); status.has_value()) {
    info.exit_status = static_cast<int>(*status);
  }
  info.stop_reason = ReadSmallFile(dir / kStopReasonFile).value_or("");
  std::error_code error;
  const auto log_size = std::filesystem::file_size(dir / kOutputLogFile, error);
  info.log_bytes = error ? 0 : static_cast<int64_t>(log_size);
  info.log_bytes_reported = ReadIntFile(dir / kLogOffsetFile).value_or(0);
  info.state = StateOf(info);
  return info;
}

}  // namespace

LocalExecutor::LocalExecutor(LocalExecutorOptions options, reconciler::Clock& clock)
    : options_(std::move(options)), clock_(clock) {
  reaper_ = std::thread([this] { ReapLoop(); });
}

LocalExecutor::~LocalExecutor() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  reaper_wakeup_.notify_all();
  reaper_.join();
}

StatusOr<std::filesystem::path> LocalExecutor::RunDir(const AttemptRef& attempt) const {
  if (Status status = ValidateAttempt(attempt); !status.ok()) {
    return status;
  }
  if (!options_.data_dir.is_absolute()) {
    return Status::InvalidArgument("the local executor's data directory \"" +
                                   options_.data_dir.string() + "\" must be an absolute path");
  }
  return TargetRunDir(options_.data_dir, attempt.deploy_uid, attempt.target);
}

std::vector<std::string> LocalExecutor::LauncherEnvironment() const {
  std::vector<std::string> environment;
  bool has_path = false;
  for (const std::string& name : options_.passed_env) {
    if (const char* value = std::getenv(name.c_str()); value != nullptr) {
      environment.push_back(name + "=" + value);
      has_path = has_path || name == "PATH";
    }
  }
  if (!has_path) {
    environment.push_back(kDefaultPath);
  }
  return environment;
}

Status LocalExecutor::Dispatch(const DispatchRequest& request) {
  StatusOr<std::filesystem::path> run_dir = RunDir(request.attempt);
  if (!run_dir.ok()) return run_dir.status();
  const std::string& id = request.attempt.dispatch_id;

  StatusOr<std::string> launcher =
      RenderLauncher(MakeLaunchSpec(request, run_dir->string(), options_.final_report_seconds));
  if (!launcher.ok()) return launcher.status();

  const std::filesystem::path launchers = *run_dir / "launchers";
  if (Status status = MakeDirectories(launchers); !status.ok()) return status;
  const std::filesystem::path file = launchers / (id + ".sh");
  if (Status status = WriteFileAtomically(file, *launcher); !status.ok()) return status;

  std::lock_guard<std::mutex> lock(mu_);
  StatusOr<pid_t> pid =
      SpawnLauncher(options_.shell, file, launchers / (id + ".out"), LauncherEnvironment());
  if (!pid.ok()) {
    spdlog::error("dispatch failed: dispatch={} {}: {}", id, request.description,
                  pid.status().message());
    return pid.status();
  }
  children_[*pid] = AttemptDir(*run_dir, id).string();
  spdlog::info("dispatched: dispatch={} {} launcher_pid={} run_dir={}", id, request.description,
               *pid, run_dir->string());
  return Status::Ok();
}

pid_t LocalExecutor::SpawnedLauncher(const std::string& attempt_dir) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [pid, dir] : children_) {
    if (dir == attempt_dir) return pid;
  }
  return 0;
}

StatusOr<StopResult> LocalExecutor::Stop(const StopRequest& request) {
  StatusOr<std::filesystem::path> run_dir = RunDir(request.attempt);
  if (!run_dir.ok()) return run_dir.status();
  const std::string& id = request.attempt.dispatch_id;
  const std::filesystem::path dir = AttemptDir(*run_dir, id);

  // Claim the attempt first when no launcher has, so a late delivery finds
  // it taken and starts nothing.
  if (Status status = MakeDirectories(dir.parent_path()); !status.ok()) return status;
  if (mkdir(dir.c_str(), 0700) == 0) {
    if (Status status =
            WriteFileAtomically(dir / kStopReasonFile, std::string(kStopReasonCancelled) + "\n");
        !status.ok()) {
      return status;
    }
  } else if (errno != EEXIST) {
    return Status::Internal(SystemError("cannot create " + dir.string(), errno));
  }

  StopTimeouts timeouts;
  timeouts.grace = request.grace;
  timeouts.launcher_exit = options_.launcher_exit_timeout;
  timeouts.kill = options_.kill_timeout;
  timeouts.poll = options_.poll_interval;
  AttemptStopper stopper(dir, id, SpawnedLauncher(dir.string()), clock_);
  StopResult result = stopper.Run(timeouts);
  if (result.stopped) {
    spdlog::info("stopped: dispatch={} signalled={}", id, result.signalled);
  } else {
    for (const Survivor& survivor : result.survivors) {
      spdlog::error("stop left a survivor: dispatch={} pid={} command={} role={}", id, survivor.pid,
                    survivor.command, survivor.role);
    }
  }
  return result;
}

StatusOr<AttemptInfo> LocalExecutor::Inspect(const AttemptRef& attempt) {
  StatusOr<std::filesystem::path> run_dir = RunDir(attempt);
  if (!run_dir.ok()) return run_dir.status();
  const std::filesystem::path dir = AttemptDir(*run_dir, attempt.dispatch_id);
  std::error_code error;
  if (!std::filesystem::is_directory(dir, error)) {
    AttemptInfo info;
    info.attempt_dir = dir.string();
    return info;
  }
  AttemptInfo info = ReadAttempt(dir);
  if (info.launcher_alive) {
    Adopt(static_cast<pid_t>(*info.launcher_pid));
  }
  return info;
}

void LocalExecutor::Adopt(pid_t pid) {
  std::lock_guard<std::mutex> lock(mu_);
  if (children_.count(pid) > 0) {
    return;
  }
  // waitpid shows whether the process is a child of this one: 0 means a
  // running child, which the reaper then watches; ECHILD means another
  // parent (init, after an svcd restart) reaps it.
  int status = 0;
  if (waitpid(pid, &status, WNOHANG) == 0) {
    children_[pid] = "";
  }
}

void LocalExecutor::ReapLocked() {
  for (auto it = children_.begin(); it != children_.end();) {
    int status = 0;
    const pid_t result = waitpid(it->first, &status, WNOHANG);
    if (result == 0 || (result < 0 && errno == EINTR)) {
      ++it;
      continue;
    }
    if (result == it->first) {
      const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      spdlog::debug("launcher exited: pid={} status={} attempt_dir={}", it->first, code,
                    it->second);
    }
    it = children_.erase(it);
  }
}

void LocalExecutor::ReapLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    ReapLocked();
    const reconciler::TimePoint deadline =
        reconciler::DeadlineAfter(clock_.Now(), options_.poll_interval);
    clock_.WaitUntil(lock, reaper_wakeup_, deadline, [this] { return stopping_; });
  }
  ReapLocked();
}

}  // namespace svcd::dispatch
