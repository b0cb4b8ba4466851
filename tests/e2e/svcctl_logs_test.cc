// End-to-end tests of svcctl logs on logs longer than one page of svcd's
// log route: every line is printed once and in order, and --tail keeps each
// target's newest lines.

#include <algorithm>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "tests/e2e/deploy_fixture.h"

namespace svcd::e2e {
namespace {

using SvcctlLogsTest = DeployE2eTest;

constexpr int kLines = 12000;  // more than two of the server's pages

// Splits svcctl's "[TARGET] LINE" output into the lines of each target.
std::map<std::string, std::vector<std::string>> ByTarget(const std::string& out) {
  std::map<std::string, std::vector<std::string>> lines;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    const size_t close = line.find("] ");
    if (line.empty() || line[0] != '[' || close == std::string::npos) {
      lines["?"].push_back(line);
      continue;
    }
    lines[line.substr(1, close - 1)].push_back(line.substr(close + 2));
  }
  return lines;
}

std::vector<std::string> Last(const std::vector<std::string>& lines, size_t count) {
  if (lines.size() <= count) return lines;
  return {lines.end() - static_cast<std::ptrdiff_t>(count), lines.end()};
}

TEST_P(SvcctlLogsTest, LongLogPrintsWholeAndTails) {
  DeployKnobs knobs;
  knobs.name = "chatty";
  knobs.prefix_before = "seq -f line-%g 1 " + std::to_string(kLines) + "; ";
  ApplyWithSvcctl(QuickstartYaml(knobs), "chatty");
  WaitReady("chatty");

  // The launcher ships output in batches, so wait until every line is stored.
  std::map<std::string, std::vector<std::string>> all;
  CommandResult logs;
  ASSERT_TRUE(WaitUntil(
      [&] {
        logs = Svcctl({"logs", "sd/chatty"});
        all = ByTarget(logs.out);
        for (const char* name : {"master", "worker-0", "worker-1"}) {
          const std::vector<std::string>& lines = all[name];
          if (std::find(lines.begin(), lines.end(), "line-" + std::to_string(kLines)) ==
              lines.end()) {
            return false;
          }
        }
        return true;
      },
      std::chrono::seconds(60)))
      << logs.err << " master lines: " << all["master"].size();
  EXPECT_EQ(logs.exit_code, 0) << logs.err;
  EXPECT_EQ(all.count("?"), 0u) << all["?"].front();
  // svcd's own lines (dispatched, probe results) are interleaved with the service's.
  for (const char* name : {"master", "worker-0", "worker-1"}) {
    int next = 1;
    for (const std::string& line : all[name]) {
      if (line.rfind("line-", 0) != 0) continue;
      ASSERT_EQ(line, "line-" + std::to_string(next)) << name;
      ++next;
    }
    EXPECT_EQ(next, kLines + 1) << name;
  }

  // --tail N: each target's newest N lines, also past the first page.
  const CommandResult tail = Svcctl({"logs", "sd/chatty", "--tail", "3"});
  ASSERT_EQ(tail.exit_code, 0) << tail.err;
  std::map<std::string, std::vector<std::string>> tailed = ByTarget(tail.out);
  for (const char* name : {"master", "worker-0", "worker-1"}) {
    EXPECT_EQ(tailed[name], Last(all[name], 3)) << name;
  }
  const CommandResult long_tail =
      Svcctl({"logs", "sd/chatty", "--target", "worker-1", "--tail", "7000"});
  ASSERT_EQ(long_tail.exit_code, 0) << long_tail.err;
  std::vector<std::string> worker_lines;
  std::istringstream in(long_tail.out);
  for (std::string line; std::getline(in, line);) worker_lines.push_back(line);
  EXPECT_EQ(worker_lines, Last(all["worker-1"], 7000));
}

SVCD_E2E_INSTANTIATE(SvcctlLogsTest);

}  // namespace
}  // namespace svcd::e2e
