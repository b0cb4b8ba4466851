// Parsing /proc/PID/stat and walking real process trees.

#include "dispatch/process_table.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "tests/dispatch/test_support.h"

namespace svcd::dispatch {
namespace {

TEST(ProcessTableTest, ParsesCommandWithSpacesAndParentheses) {
  const std::string stat =
      "4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 50\n";
  std::optional<ProcessInfo> info = ParseProcStat(stat);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->pid, 4242);
  EXPECT_EQ(info->command, "a) b (c)");
  EXPECT_EQ(info->state, 'S');
  EXPECT_EQ(info->ppid, 1);
  EXPECT_EQ(info->pgrp, 4242);
  EXPECT_EQ(info->session, 4242);
  EXPECT_EQ(info->start_ticks, 987654u);
}

TEST(ProcessTableTest, RejectsTruncatedStat) {
  EXPECT_FALSE(ParseProcStat("12 (x) S 1 2").has_value());
  EXPECT_FALSE(ParseProcStat("no parentheses").has_value());
  EXPECT_FALSE(
      ParseProcStat("x (y) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20").has_value());
}

TEST(ProcessTableTest, FindsDescendantThatCalledSetsid) {
  testing::TempDir dir;
  const std::filesystem::path pid_file = dir.path() / "grandchild.pid";
  testing::ChildProcess child(
      {"/bin/sh", "-c", "setsid sh -c 'echo $$ > " + pid_file.string() + "; exec sleep 30' & wait"},
      {"PATH=/usr/bin:/bin"}, dir.path() / "out");
  ASSERT_TRUE(testing::WaitUntil([&] { return !testing::ReadFile(pid_file).empty(); },
                                 std::chrono::seconds(10)));
  const pid_t grandchild = std::stoi(testing::ReadFile(pid_file));

  std::vector<ProcessInfo> found = Descendants(ListProcesses(), {child.pid()});
  bool seen = false;
  for (const ProcessInfo& info : found) seen = seen || info.pid == grandchild;
  EXPECT_TRUE(seen);
  EXPECT_TRUE(IsSameLiveProcess(grandchild, ReadProcess(grandchild)->start_ticks));
  EXPECT_FALSE(IsSameLiveProcess(grandchild, ReadProcess(grandchild)->start_ticks + 1));
  kill(grandchild, SIGKILL);
}

}  // namespace
}  // namespace svcd::dispatch
