#include "render/shell.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "tests/render/subprocess.h"

namespace svcd::render {
namespace {

using svcd::testing::ParseArgvDump;
using svcd::testing::RunScript;
using svcd::testing::TempDir;
using svcd::testing::TestShells;

TEST(ShellQuoteTest, WrapsInSingleQuotes) {
  EXPECT_EQ(ShellQuote("abc"), "'abc'");
  EXPECT_EQ(ShellQuote(""), "''");
  EXPECT_EQ(ShellQuote("a b"), "'a b'");
}

TEST(ShellQuoteTest, EscapesSingleQuote) {
  EXPECT_EQ(ShellQuote("it's"), "'it'\\''s'");
  EXPECT_EQ(ShellQuote("'"), "''\\'''");
}

TEST(ShellQuoteTest, LeavesOtherBytesAlone) {
  EXPECT_EQ(ShellQuote("$(id) `id` \\n \"x\""), "'$(id) `id` \\n \"x\"'");
}

// Every byte from 1 to 255, one argument per byte and one argument with all
// of them, must reach the program unchanged under both shells.
TEST(ShellQuoteTest, DeliversEveryByteUnderDashAndBash) {
  std::vector<std::string> values;
  std::string all;
  for (int byte = 1; byte < 256; ++byte) {
    values.push_back(std::string(1, static_cast<char>(byte)));
    all += static_cast<char>(byte);
  }
  values.push_back(all);

  std::string script = "#!/bin/sh\n" + std::string(SVCD_ARGV_DUMP);
  for (const std::string& value : values) script += " " + ShellQuote(value);
  script += "\n";

  TempDir dir;
  const auto path = dir.WriteFile("bytes.sh", script);
  for (const auto& shell : TestShells(dir)) {
    const auto result = RunScript(shell, path);
    ASSERT_EQ(result.exit_code, 0) << shell.label << ": " << result.err;
    const auto dump = ParseArgvDump(result.out);
    ASSERT_TRUE(dump.ok) << shell.label;
    ASSERT_EQ(dump.args.size(), values.size()) << shell.label;
    for (size_t i = 0; i < values.size(); ++i) {
      EXPECT_EQ(dump.args[i], values[i]) << shell.label << ", argument " << i;
    }
  }
}

// The second test shell must really be bash in POSIX mode, or the bash runs
// prove nothing about `sh`.
TEST(ShellQuoteTest, BashSymlinkRunsInPosixMode) {
  TempDir dir;
  const auto path = dir.WriteFile(
      "mode.sh", "case \":$SHELLOPTS:\" in *:posix:*) echo posix ;; *) echo other ;; esac\n");
  const auto shells = TestShells(dir);
  ASSERT_EQ(shells.size(), 2u);
  const auto result = RunScript(shells[1], path);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "posix\n");
}

std::optional<std::string> LookupFixed(std::string_view name) {
  static const std::map<std::string, std::string, std::less<>> kVariables = {
      {"A", "alpha"}, {"B", "$(A)"}, {"EMPTY", ""}};
  auto it = kVariables.find(name);
  if (it == kVariables.end()) return std::nullopt;
  return it->second;
}

TEST(ExpandVariablesTest, FollowsKubernetesRules) {
  struct Case {
    std::string input;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"plain", "plain"},
      {"$(A)", "alpha"},
      {"x$(A)y$(A)z", "xalphayalphaz"},
      {"$(EMPTY)", ""},
      {"$(UNKNOWN)", "$(UNKNOWN)"},
      {"$$(A)", "$(A)"},
      {"$$$(A)", "$alpha"},
      {"$$", "$"},
      {"$$$$", "$$"},
      {"$", "$"},
      {"a$", "a$"},
      {"$A", "$A"},
      {"${A}", "${A}"},
      {"$a$(A)", "$aalpha"},
      {"$(", "$("},
      {"$(A", "$(A"},
      {"$(A $$", "$(A $"},
      {"$()", "$()"},
      {"$(A)$(", "alpha$("},
      {"$(B)", "$(A)"},  // an expanded value is not scanned again
      {"$((A))", "$((A))"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ExpandVariables(c.input, LookupFixed), c.expected) << "input: " << c.input;
  }
}

}  // namespace
}  // namespace svcd::render
