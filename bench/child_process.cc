#include "bench/child_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace svcd::bench {
namespace {

constexpr std::chrono::milliseconds kPollInterval{10};
constexpr std::chrono::milliseconds kKillTimeout{5000};

}  // namespace

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && Running()) {
    kill(-pid_, SIGKILL);
    WaitForExit(kKillTimeout);
  }
}

Status ChildProcess::Start(const std::vector<std::string>& argv,
                           const std::vector<std::string>& env,
                           const std::filesystem::path& log_path) {
  if (pid_ > 0) return Status::FailedPrecondition("the process was already started");
  if (argv.empty()) return Status::InvalidArgument("argv: must name a program");
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attributes);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0600);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attributes, 0);

  std::vector<std::string> args = argv;
  std::vector<std::string> vars = env;
  std::vector<char*> arg_pointers;
  std::vector<char*> env_pointers;
  for (std::string& arg : args) arg_pointers.push_back(arg.data());
  for (std::string& var : vars) env_pointers.push_back(var.data());
  arg_pointers.push_back(nullptr);
  env_pointers.push_back(nullptr);

  pid_t pid = 0;
  const int error = posix_spawn(&pid, args[0].c_str(), &actions, &attributes, arg_pointers.data(),
                                env_pointers.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (error != 0) {
    return Status::Internal("cannot start " + argv[0] + ": " + std::strerror(error));
  }
  pid_ = pid;
  exited_ = false;
  return Status::Ok();
}

bool ChildProcess::Running() {
  if (pid_ <= 0 || exited_) return false;
  int status = 0;
  const pid_t result = waitpid(pid_, &status, WNOHANG);
  if (result == pid_ || (result < 0 && errno == ECHILD)) exited_ = true;
  return !exited_;
}

bool ChildProcess::WaitForExit(std::chrono::milliseconds timeout) {
  const reconciler::TimePoint deadline = reconciler::DeadlineAfter(clock_.Now(), timeout);
  while (Running()) {
    if (clock_.Now() >= deadline) return false;
    clock_.SleepUntil(reconciler::DeadlineAfter(clock_.Now(), kPollInterval));
  }
  return true;
}

Status ChildProcess::Stop(std::chrono::milliseconds grace) {
  if (!Running()) return Status::Ok();
  kill(-pid_, SIGTERM);
  if (WaitForExit(grace)) return Status::Ok();
  kill(-pid_, SIGKILL);
  if (WaitForExit(kKillTimeout)) return Status::Ok();
  return Status::DeadlineExceeded("process " + std::to_string(pid_) +
                                  " is still running 5 s after SIGKILL");
}

StatusOr<uint16_t> PickFreePort(std::set<uint16_t>& used_ports) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return Status::Unavailable(std::string("socket failed: ") + std::strerror(errno));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    socklen_t length = sizeof address;
    const bool bound = bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
                       getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
    const int error = errno;
    close(fd);
    if (!bound) {
      return Status::Unavailable(std::string("cannot bind 127.0.0.1:0: ") + std::strerror(error));
    }
    const uint16_t port = ntohs(address.sin_port);
    if (used_ports.insert(port).second) return port;
  }
  return Status::Unavailable("no free port on 127.0.0.1 after 100 attempts");
}

std::vector<std::string> EnvironmentWithPath(const std::string& path_prefix) {
  std::vector<std::string> env;
  std::string path = "/usr/local/bin:/usr/bin:/bin";
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string var = *entry;
    if (var.rfind("PATH=", 0) == 0) {
      path = var.substr(5);
    } else {
      env.push_back(var);
    }
  }
  env.push_back("PATH=" + path_prefix + ":" + path);
  return env;
}

}  // namespace svcd::bench
