// Test helpers that run real processes and keep temporary files.

#ifndef SVCD_TESTS_RENDER_SUBPROCESS_H_
#define SVCD_TESTS_RENDER_SUBPROCESS_H_

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace svcd::testing {

struct ProcessResult {
  int exit_code = -1;  // the exit status, or 128 + signal number when killed
  std::string out;     // everything written to stdout
  std::string err;     // everything written to stderr
};

// Runs `path` with `argv` (argv[0] included) and exactly the environment
// `env` ("NAME=value" entries), writes `input` to its stdin and waits for it.
// A process still running after `timeout_seconds` is killed with SIGKILL and
// reported as such. Aborts the test binary if the process cannot be started.
ProcessResult RunProcess(const std::string& path, const std::vector<std::string>& argv,
                         const std::vector<std::string>& env, std::string_view input = {},
                         int timeout_seconds = 30);

// What argv_dump printed: its arguments after argv[0] and its environment.
struct ArgvDump {
  std::vector<std::string> args;
  std::map<std::string, std::string> env;  // name -> value
  bool ok = false;                         // false when the output was malformed
};

// Parses the NUL-separated output of tests/tools/argv_dump.
ArgvDump ParseArgvDump(std::string_view bytes);

// A directory under the system temp dir, removed with its contents on
// destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

  // Writes `bytes` to a file named `name` in the directory and returns its path.
  std::filesystem::path WriteFile(const std::string& name, std::string_view bytes) const;

 private:
  std::filesystem::path path_;
};

// A POSIX shell that tests run rendered scripts under.
struct Shell {
  std::string label;  // "dash" or "bash as sh", for failure messages
  std::string path;   // the file to execute
};

// Returns dash and bash started as `sh`: bash enters POSIX mode when the name
// it is started under is `sh`, so the second entry is a symlink named `sh` in
// `dir` that points to /bin/bash.
std::vector<Shell> TestShells(const TempDir& dir);

// Runs `script_path` with `shell` under a minimal environment (PATH only)
// and returns the result.
ProcessResult RunScript(const Shell& shell, const std::filesystem::path& script_path);

}  // namespace svcd::testing

#endif  // SVCD_TESTS_RENDER_SUBPROCESS_H_
