// Helpers for the dispatch tests: temporary directories, child processes,
// shells to run launchers under, and a real report server on loopback.

#ifndef SVCD_TESTS_DISPATCH_TEST_SUPPORT_H_
#define SVCD_TESTS_DISPATCH_TEST_SUPPORT_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "dispatch/fake_observation_sink.h"
#include "server/http_server.h"

namespace svcd::dispatch::testing {

// A directory under the system temp dir, removed with its contents on
// destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Returns the whole file, or "" when it cannot be read.
std::string ReadFile(const std::filesystem::path& path);
void WriteFile(const std::filesystem::path& path, const std::string& text);

// Polls `condition` every 50 ms until it returns true or `limit` passes; returns its
// last value.
bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds limit);

// True when `pid` exists and is not a zombie.
bool ProcessAlive(pid_t pid);

// Returns the pids of live processes whose environment contains
// SVCD_DISPATCH_ID=<dispatch_id> and that lead their own session.
std::vector<pid_t> MarkedSessionLeaders(const std::string& dispatch_id);

// Returns a TCP port on 127.0.0.1 that was free a moment ago.
uint16_t FreePort();

// A shell to run launchers under, reached as `sh` through PATH, so that the
// launcher and the node script both run in it.
struct Shell {
  std::string label;  // for test names: "dash" or "bash_as_sh"
  std::string path;   // the binary that the `sh` link points to
};
std::vector<Shell> TestShells();
// Prints the label, so that GoogleTest names the shell in failure messages.
void PrintTo(const Shell& shell, std::ostream* out);

// Creates DIR/bin/sh -> shell.path and returns an environment whose PATH
// starts with DIR/bin.
std::vector<std::string> ShellEnvironment(const Shell& shell, const std::filesystem::path& dir);

// A child process started with posix_spawn, stdin from /dev/null and output
// to a file. The destructor KILLs it if it still runs.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, const std::vector<std::string>& env,
               const std::filesystem::path& output);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // Waits up to `limit`; returns the exit code (128 + signal when killed),
  // or std::nullopt when it still runs.
  std::optional<int> Wait(std::chrono::milliseconds limit);
  void Kill(int signal);

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
};

// A FakeObservationSink behind a real HttpServer with the report route, on
// 127.0.0.1.
class ReportServer {
 public:
  // Port 0 picks a free port.
  explicit ReportServer(uint16_t port = 0);
  ~ReportServer();

  // Starts the server; false when it could not bind. A server stopped and
  // started again keeps its port.
  bool Start();
  void Stop();
  std::string BaseUrl() const { return base_url_; }
  uint16_t port() const { return port_; }
  FakeObservationSink& sink() { return sink_; }

 private:
  uint16_t port_;
  std::string base_url_;
  FakeObservationSink sink_;
  std::unique_ptr<server::HttpServer> server_;
};

}  // namespace svcd::dispatch::testing

#endif  // SVCD_TESTS_DISPATCH_TEST_SUPPORT_H_
