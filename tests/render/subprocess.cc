#include "tests/render/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

namespace svcd::testing {
namespace {

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "subprocess helper: %s failed: %s\n", what, std::strerror(errno));
  std::abort();
}

std::vector<char*> CStrings(const std::vector<std::string>& items) {
  std::vector<char*> out;
  for (const std::string& item : items) out.push_back(const_cast<char*>(item.c_str()));
  out.push_back(nullptr);
  return out;
}

// Moves bytes between the parent and the child's three pipes until both
// output pipes close or the deadline passes. Returns false on timeout.
bool PumpPipes(int in_fd, int out_fd, int err_fd, std::string_view input, ProcessResult& result,
               std::chrono::steady_clock::time_point deadline) {
  size_t input_written = 0;
  if (input.empty()) {
    close(in_fd);
    in_fd = -1;
  }
  char buffer[65536];
  while (out_fd >= 0 || err_fd >= 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;

    pollfd fds[3] = {{in_fd, POLLOUT, 0}, {out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
    if (poll(fds, 3, static_cast<int>(left.count())) < 0) {
      if (errno == EINTR) continue;
      Die("poll");
    }
    if (in_fd >= 0 && (fds[0].revents & (POLLOUT | POLLERR | POLLHUP))) {
      const ssize_t n = write(in_fd, input.data() + input_written, input.size() - input_written);
      if (n > 0) input_written += static_cast<size_t>(n);
      if (n < 0 || input_written == input.size()) {
        close(in_fd);
        in_fd = -1;
      }
    }
    int* readers[2] = {&out_fd, &err_fd};
    std::string* sinks[2] = {&result.out, &result.err};
    for (int i = 0; i < 2; ++i) {
      if (*readers[i] < 0 || !(fds[i + 1].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const ssize_t n = read(*readers[i], buffer, sizeof(buffer));
      if (n > 0) {
        sinks[i]->append(buffer, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        close(*readers[i]);
        *readers[i] = -1;
      }
    }
  }
  if (in_fd >= 0) close(in_fd);
  return true;
}

}  // namespace

ProcessResult RunProcess(const std::string& path, const std::vector<std::string>& argv,
                         const std::vector<std::string>& env, std::string_view input,
                         int timeout_seconds) {
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) != 0 || pipe2(out_pipe, O_CLOEXEC) != 0 ||
      pipe2(err_pipe, O_CLOEXEC) != 0) {
    Die("pipe2");
  }
  std::vector<char*> c_argv = CStrings(argv);
  std::vector<char*> c_env = CStrings(env);

  const pid_t pid = fork();
  if (pid < 0) Die("fork");
  if (pid == 0) {
    dup2(in_pipe[0], STDIN_FILENO);
    dup2(out_pipe[1], STDOUT_FILENO);
    dup2(err_pipe[1], STDERR_FILENO);
    execve(path.c_str(), c_argv.data(), c_env.data());
    _exit(127);
  }
  close(in_pipe[0]);
  close(out_pipe[1]);
  close(err_pipe[1]);

  // A closed stdin must not kill the test binary with SIGPIPE.
  signal(SIGPIPE, SIG_IGN);
  ProcessResult result;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  if (!PumpPipes(in_pipe[1], out_pipe[0], err_pipe[0], input, result, deadline)) {
    kill(pid, SIGKILL);
  }

  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) Die("waitpid");
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

ArgvDump ParseArgvDump(std::string_view bytes) {
  ArgvDump dump;
  std::vector<std::string> items;
  size_t start = 0;
  while (start < bytes.size()) {
    const size_t end = bytes.find('\0', start);
    if (end == std::string_view::npos) return dump;  // last item not terminated
    items.emplace_back(bytes.substr(start, end - start));
    start = end + 1;
  }
  if (items.empty()) return dump;

  const size_t count = std::strtoul(items[0].c_str(), nullptr, 10);
  if (items.size() < 1 + count) return dump;
  dump.args.assign(items.begin() + 1, items.begin() + 1 + static_cast<long>(count));
  for (size_t i = 1 + count; i < items.size(); ++i) {
    const size_t eq = items[i].find('=');
    if (eq == std::string::npos) return dump;
    dump.env[items[i].substr(0, eq)] = items[i].substr(eq + 1);
  }
  dump.ok = true;
  return dump;
}

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "svcd-render-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) Die("mkdtemp");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::filesystem::path TempDir::WriteFile(const std::string& name, std::string_view bytes) const {
  const std::filesystem::path file = path_ / name;
  std::ofstream stream(file, std::ios::binary | std::ios::trunc);
  stream.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  stream.close();
  if (!stream) Die("writing a temp file");
  return file;
}

std::vector<Shell> TestShells(const TempDir& dir) {
  const std::filesystem::path sh = dir.path() / "sh";
  if (!std::filesystem::exists(std::filesystem::symlink_status(sh))) {
    std::filesystem::create_symlink("/bin/bash", sh);
  }
  return {{"dash", "/bin/dash"}, {"bash as sh", sh.string()}};
}

ProcessResult RunScript(const Shell& shell, const std::filesystem::path& script_path) {
  return RunProcess(shell.path, {shell.path, script_path.string()}, {"PATH=/usr/bin:/bin"});
}

}  // namespace svcd::testing
