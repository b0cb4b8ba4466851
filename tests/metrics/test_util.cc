#include "tests/metrics/test_util.h"

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace svcd::metrics::testing {
namespace {

std::string TempPath(const std::string& suffix) {
  static int counter = 0;
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/svcd_metrics_test." +
         std::to_string(getpid()) + "." + std::to_string(++counter) + suffix;
}

}  // namespace

CommandResult RunCommand(const std::string& command, const std::string& input) {
  const std::string input_path = TempPath(".in");
  {
    std::ofstream file(input_path, std::ios::binary);
    file << input;
  }
  CommandResult result;
  FILE* pipe = popen(("(" + command + ") < " + input_path + " 2>&1").c_str(), "r");
  if (pipe == nullptr) {
    result.output = "popen failed";
    std::remove(input_path.c_str());
    return result;
  }
  std::array<char, 4096> buffer;
  size_t count;
  while ((count = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) {
    result.output.append(buffer.data(), count);
  }
  int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::remove(input_path.c_str());
  return result;
}

CommandResult PromtoolCheck(const std::string& exposition) {
  return RunCommand("promtool check metrics", exposition);
}

Scrape CurlGet(const std::string& url, const std::vector<std::string>& extra_args) {
  const std::string body_path = TempPath(".body");
  std::string command =
      "curl -sS --max-time 10 -o " + body_path + " -w '%{http_code}\\n%{content_type}\\n'";
  for (const std::string& arg : extra_args) command += " '" + arg + "'";
  command += " '" + url + "'";
  CommandResult run = RunCommand(command);

  Scrape scrape;
  std::istringstream lines(run.output);
  std::string code;
  std::getline(lines, code);
  std::getline(lines, scrape.content_type);
  scrape.status = run.exit_code == 0 ? std::atoi(code.c_str()) : 0;
  if (run.exit_code != 0) scrape.error = run.output;
  std::ifstream body(body_path, std::ios::binary);
  scrape.body.assign(std::istreambuf_iterator<char>(body), std::istreambuf_iterator<char>());
  std::remove(body_path.c_str());
  return scrape;
}

std::vector<std::string> LinesStartingWith(const std::string& text, const std::string& prefix) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  std::string line;
  while (std::getline(stream, line)) {
    if (line.rfind(prefix, 0) == 0) lines.push_back(line);
  }
  return lines;
}

double SampleValue(const std::string& text, const std::string& series) {
  for (const std::string& line : LinesStartingWith(text, series + " ")) {
    return std::strtod(line.c_str() + series.size() + 1, nullptr);
  }
  return -1;
}

}  // namespace svcd::metrics::testing
