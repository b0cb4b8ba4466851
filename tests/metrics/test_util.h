// Helpers of the metrics tests: running promtool and curl, and picking
// lines out of a rendered exposition.

#ifndef SVCD_TESTS_METRICS_TEST_UTIL_H_
#define SVCD_TESTS_METRICS_TEST_UTIL_H_

#include <string>
#include <vector>

namespace svcd::metrics::testing {

// The exit status and the combined stdout and stderr of a shell command.
struct CommandResult {
  int exit_code = -1;
  std::string output;
};

// Runs `command` with /bin/sh, its stdin read from `input` (written to a
// temporary file first).
CommandResult RunCommand(const std::string& command, const std::string& input = "");

// Runs `promtool check metrics` on `exposition`.
CommandResult PromtoolCheck(const std::string& exposition);

// An HTTP response as curl received it.
struct Scrape {
  int status = 0;
  std::string content_type;
  std::string body;
  std::string error;  // curl's output when it failed
};

// Fetches `url` with curl (GET, 10 s timeout).
Scrape CurlGet(const std::string& url, const std::vector<std::string>& extra_args = {});

// Returns the lines of `text` that start with `prefix`.
std::vector<std::string> LinesStartingWith(const std::string& text, const std::string& prefix);

// Returns the value of the sample line `series` (name and labels exactly as
// rendered), or -1 when the text has no such line.
double SampleValue(const std::string& text, const std::string& series);

}  // namespace svcd::metrics::testing

#endif  // SVCD_TESTS_METRICS_TEST_UTIL_H_
