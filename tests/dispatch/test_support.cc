#include "tests/dispatch/test_support.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "dispatch/process_table.h"
#include "dispatch/report_handler.h"
#include "dispatch/run_dir.h"

namespace svcd::dispatch::testing {

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "svcd-dispatch-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("mkdtemp failed");
  }
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code error;
  std::filesystem::remove_all(path_, error);
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void WriteFile(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return condition();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

bool ProcessAlive(pid_t pid) {
  std::optional<ProcessInfo> info = ReadProcess(pid);
  return info.has_value() && info->live();
}

std::vector<pid_t> MarkedSessionLeaders(const std::string& dispatch_id) {
  const std::string marker = std::string(kDispatchIdEnv) + "=" + dispatch_id;
  std::vector<pid_t> leaders;
  for (const ProcessInfo& info : ListProcesses()) {
    if (info.live() && info.session == info.pid && EnvironContains(info.pid, marker)) {
      leaders.push_back(info.pid);
    }
  }
  return leaders;
}

uint16_t FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    throw std::runtime_error("cannot find a free port");
  }
  close(fd);
  return ntohs(address.sin_port);
}

std::vector<Shell> TestShells() { return {{"dash", "/bin/dash"}, {"bash_as_sh", "/bin/bash"}}; }

void PrintTo(const Shell& shell, std::ostream* out) { *out << shell.label; }

std::vector<std::string> ShellEnvironment(const Shell& shell, const std::filesystem::path& dir) {
  const std::filesystem::path bin = dir / "bin";
  std::filesystem::create_directories(bin);
  std::filesystem::create_symlink(shell.path, bin / "sh");
  return {"PATH=" + bin.string() + ":/usr/local/bin:/usr/bin:/bin", "LANG=C"};
}

ChildProcess::ChildProcess(const std::vector<std::string>& argv,
                           const std::vector<std::string>& env,
                           const std::filesystem::path& output) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, output.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0600);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attributes, 0);

  std::vector<std::string> args = argv;
  std::vector<std::string> envs = env;
  std::vector<char*> arg_pointers;
  std::vector<char*> env_pointers;
  for (std::string& arg : args) arg_pointers.push_back(arg.data());
  for (std::string& entry : envs) env_pointers.push_back(entry.data());
  arg_pointers.push_back(nullptr);
  env_pointers.push_back(nullptr);
  const int error = posix_spawn(&pid_, args[0].c_str(), &actions, &attributes, arg_pointers.data(),
                                env_pointers.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (error != 0) {
    throw std::runtime_error("posix_spawn of " + args[0] + " failed");
  }
}

ChildProcess::~ChildProcess() {
  if (!status_.has_value()) {
    Kill(SIGKILL);
    Wait(std::chrono::seconds(5));
  }
}

std::optional<int> ChildProcess::Wait(std::chrono::milliseconds limit) {
  WaitUntil(
      [this] {
        if (status_.has_value()) return true;
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
          status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        return status_.has_value();
      },
      limit);
  return status_;
}

void ChildProcess::Kill(int signal) {
  if (!status_.has_value()) {
    kill(pid_, signal);
  }
}

ReportServer::ReportServer(uint16_t port) : port_(port) {}

ReportServer::~ReportServer() { Stop(); }

bool ReportServer::Start() {
  server::Router router;
  if (!AddReportRoute(router, sink_).ok()) {
    return false;
  }
  server::HttpServerOptions options;
  options.listen = "127.0.0.1:" + std::to_string(port_);
  options.workers = 4;
  server_ = std::make_unique<server::HttpServer>(options, std::move(router), nullptr);
  if (!server_->Start().ok()) {
    server_.reset();
    return false;
  }
  base_url_ = server_->BaseUrl();
  port_ = server_->BoundPort();
  return true;
}

void ReportServer::Stop() {
  if (server_ != nullptr) {
    server_->Stop(std::chrono::seconds(5));
    server_.reset();
  }
}

}  // namespace svcd::dispatch::testing
