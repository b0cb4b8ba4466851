// Child processes for the end-to-end tests: programs run to completion with
// captured output, and long-running servers started in the background.

#ifndef SVCD_TESTS_E2E_PROCESS_H_
#define SVCD_TESTS_E2E_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace svcd::e2e {

struct CommandResult {
  int exit_code = -1;  // the exit status, or 128 + signal number when killed
  std::string out;     // everything written to stdout
  std::string err;     // everything written to stderr
  bool timed_out = false;
};

// Runs `argv` (argv[0] is the program, looked up in PATH when it has no '/')
// with exactly the environment `env` ("NAME=value" entries), writes `input`
// to its stdin and waits for it to exit. A process still running after
// `timeout` is killed with SIGKILL and reported with timed_out set.
CommandResult RunCommand(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                         std::string_view input = {},
                         std::chrono::milliseconds timeout = std::chrono::seconds(60));

// Returns a TCP port on 127.0.0.1 that was free a moment ago. Another
// process may take it before the caller binds it, so callers retry on a
// bind failure.
uint16_t PickFreePort();

// A process running in the background with stdout and stderr appended to
// `log_path`. The destructor sends SIGKILL if it still runs.
class BackgroundProcess {
 public:
  BackgroundProcess() = default;
  ~BackgroundProcess();
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;

  // Starts `argv` with the environment `env`. Returns false when fork fails.
  bool Start(const std::vector<std::string>& argv, const std::vector<std::string>& env,
             const std::string& log_path);

  // Returns true while the process has not exited; records its exit status
  // once it has.
  bool Running();

  // Sends SIGTERM, waits up to `grace`, then SIGKILL. Returns the exit code
  // (128 + signal number when killed by a signal), or -1 when not started.
  int Stop(std::chrono::milliseconds grace = std::chrono::seconds(10));

  pid_t pid() const { return pid_; }
  int exit_code() const { return exit_code_; }

 private:
  pid_t pid_ = -1;
  int exit_code_ = -1;
  bool exited_ = false;
};

// Sends "GET `path`" to 127.0.0.1:`port` over a new connection and returns
// the HTTP status, or 0 when nothing came back within `timeout`.
int RawGetStatus(uint16_t port, const std::string& path, std::chrono::milliseconds timeout);

}  // namespace svcd::e2e

#endif  // SVCD_TESTS_E2E_PROCESS_H_
