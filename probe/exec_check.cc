// The exec check: posix_spawnp without a shell, in a new process group, with
// stdout and stderr captured through one pipe.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "probe/checks.h"
#include "probe/socket_io.h"
#include "probe/text.h"

extern char** environ;

namespace svcd::probe {
namespace {

// How often the child's exit is checked when the kernel offers no pidfd.
constexpr int kExitPollMillis = 10;

// The spawned command while it runs.
struct Child {
  pid_t pid = -1;
  UniqueFd output;  // read end of the stdout and stderr pipe
  UniqueFd pidfd;   // readable once the child exits; -1 when unsupported
};

// Starts `argv` in a process group whose id is the child's pid, with stdin
// from /dev/null and default signal handling. Returns 0 or an errno value.
int Spawn(const std::vector<std::string>& argv, Child* child) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return errno;
  child->output.Reset(pipe_fds[0]);
  UniqueFd write_end(pipe_fds[1]);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), STDERR_FILENO);

  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t all_signals;
  sigset_t no_signals;
  sigfillset(&all_signals);
  sigemptyset(&no_signals);
  posix_spawnattr_setflags(&attributes,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  posix_spawnattr_setpgroup(&attributes, 0);
  posix_spawnattr_setsigdefault(&attributes, &all_signals);
  posix_spawnattr_setsigmask(&attributes, &no_signals);

  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  int error = posix_spawnp(&child->pid, args[0], &actions, &attributes, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (error != 0) return error;
  // glibc 2.36's <sys/pidfd.h> lacks C linkage for C++, so the system call is
  // made directly. It fails with ENOSYS before Linux 5.3.
  child->pidfd.Reset(static_cast<int>(syscall(SYS_pidfd_open, child->pid, 0)));
  return 0;
}

// Whether the child exited. It stays a zombie, so its pid and process group
// id cannot be reused before Reap.
bool HasExited(pid_t pid) {
  siginfo_t info{};
  return waitid(P_PID, pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid;
}

// Appends the bytes the pipe contains to `output`, keeping at most `limit` bytes.
// Returns false once the pipe reached end of file.
bool DrainPipe(int fd, std::string& output, std::size_t limit) {
  std::array<char, 4096> buffer;
  while (true) {
    ssize_t count = read(fd, buffer.data(), buffer.size());
    if (count > 0) {
      std::size_t keep = std::min<std::size_t>(count, limit - std::min(limit, output.size()));
      output.append(buffer.data(), keep);
      continue;
    }
    if (count == 0) return false;
    return errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK;
  }
}

// Collects output until the child exits or the deadline passes. Returns true
// when the child exited.
bool WaitForExit(Child& child, const Deadline& deadline, std::string& output, std::size_t limit) {
  fcntl(child.output.get(), F_SETFL, O_NONBLOCK);
  bool pipe_open = true;
  while (!HasExited(child.pid)) {
    int remaining = deadline.RemainingMillis();
    if (remaining == 0) return false;
    std::array<pollfd, 2> fds{};
    nfds_t count = 0;
    if (pipe_open) fds[count++] = {child.output.get(), POLLIN, 0};
    if (child.pidfd.get() >= 0) fds[count++] = {child.pidfd.get(), POLLIN, 0};
    int wait_millis = child.pidfd.get() >= 0 ? remaining : std::min(remaining, kExitPollMillis);
    if (poll(fds.data(), count, wait_millis) < 0 && errno != EINTR) return HasExited(child.pid);
    if (pipe_open) pipe_open = DrainPipe(child.output.get(), output, limit);
  }
  if (pipe_open) DrainPipe(child.output.get(), output, limit);
  return true;
}

// Kills whatever is left in the child's process group and reaps the child.
// Returns its wait status.
int KillGroupAndReap(pid_t pid) {
  kill(-pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

std::string OutputSuffix(const std::string& output) {
  if (output.empty()) return "";
  return ", output: " + Quote(output, 200);
}

}  // namespace

ProbeResult RunExecCheck(const ProbeTarget& target, const reconciler::Clock& clock,
                         const CheckLimits& limits) {
  const std::vector<std::string>& argv = target.probe.exec->command;
  Deadline deadline(clock, std::chrono::seconds(target.probe.timeout_seconds));
  ProbeResult result;
  Child child;
  int error = Spawn(argv, &child);
  if (error != 0) {
    result.failure = FailureKind::kExecStartFailed;
    result.message = "cannot start " + Quote(argv[0]) + ": " + std::strerror(error);
    return result;
  }

  std::string output;
  bool exited = WaitForExit(child, deadline, output, limits.max_exec_output_bytes);
  // Killing the group also after a normal exit removes anything the command
  // left running in the background.
  int status = KillGroupAndReap(child.pid);
  if (!exited) {
    result.failure = FailureKind::kTimeout;
    result.message = Quote(argv[0]) + " timed out after " +
                     std::to_string(target.probe.timeout_seconds) +
                     "s and its process group was killed" + OutputSuffix(output);
    return result;
  }
  if (WIFSIGNALED(status)) {
    result.exit_code = 128 + WTERMSIG(status);
    result.failure = FailureKind::kExitCode;
    result.message = Quote(argv[0]) + " was killed by signal " + std::to_string(WTERMSIG(status)) +
                     OutputSuffix(output);
    return result;
  }
  result.exit_code = WEXITSTATUS(status);
  result.success = *result.exit_code == 0;
  result.failure = result.success ? FailureKind::kNone : FailureKind::kExitCode;
  result.message =
      Quote(argv[0]) + " exited with " + std::to_string(*result.exit_code) + OutputSuffix(output);
  return result;
}

}  // namespace svcd::probe
