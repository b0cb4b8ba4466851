// Tests of the log text helpers: UTF-8 repair and line splitting.

#include "store/log_text.h"

#include <gtest/gtest.h>

namespace svcd::store {
namespace {

using Lines = std::vector<std::string>;

constexpr char kReplacement[] = "\xEF\xBF\xBD";

TEST(LogTextTest, ValidUtf8KeepsValidText) {
  std::string text = "plain \xC3\xA9 \xE4\xB8\xAD \xF0\x9F\x98\x80";

  EXPECT_EQ(ValidUtf8(text), text);
}

TEST(LogTextTest, ValidUtf8ReplacesInvalidBytes) {
  std::string r = kReplacement;
  EXPECT_EQ(ValidUtf8("a\xFF"
                      "b"),
            "a" + r + "b");
  EXPECT_EQ(ValidUtf8(std::string("a\0b", 3)), "a" + r + "b");
  EXPECT_EQ(ValidUtf8("\xC0\xAF"), r + r);                  // overlong '/'
  EXPECT_EQ(ValidUtf8("\xED\xA0\x80"), r + r + r);          // UTF-16 surrogate
  EXPECT_EQ(ValidUtf8("\xF4\x90\x80\x80"), r + r + r + r);  // above U+10FFFF
  EXPECT_EQ(ValidUtf8("x\xE4\xB8"), "x" + r + r);           // truncated sequence
}

TEST(LogTextTest, TruncateUtf8StopsBeforeSplitCharacter) {
  std::string text = "ab\xE4\xB8\xAD";

  EXPECT_EQ(TruncateUtf8(text, 4), "ab");
  EXPECT_EQ(TruncateUtf8(text, 5), text);
  EXPECT_EQ(TruncateUtf8(text, 100), text);
}

TEST(LogTextTest, SplitKeepsPartialLine) {
  LogSplit split = SplitLogLines("one\r\ntwo\n\nthr", /*flush=*/false, 64);

  EXPECT_EQ(split.lines, (Lines{"one", "two", ""}));
  EXPECT_EQ(split.partial, "thr");
}

TEST(LogTextTest, SplitFlushesPartialLine) {
  LogSplit split = SplitLogLines("one\nthr", /*flush=*/true, 64);

  EXPECT_EQ(split.lines, (Lines{"one", "thr"}));
  EXPECT_EQ(split.partial, "");
}

TEST(LogTextTest, SplitBoundsLongLines) {
  LogSplit complete = SplitLogLines("abcdefghij\n", /*flush=*/false, 4);
  LogSplit unterminated = SplitLogLines("abcdefghij", /*flush=*/false, 4);

  EXPECT_EQ(complete.lines, (Lines{"abcd", "efgh", "ij"}));
  EXPECT_EQ(complete.partial, "");
  EXPECT_EQ(unterminated.lines, (Lines{"abcd", "efgh"}));
  EXPECT_EQ(unterminated.partial, "ij");
}

TEST(LogTextTest, SplitDoesNotCutCharacters) {
  // Five bytes per piece would cut the 3-byte character after "abc".
  LogSplit split = SplitLogLines(
      "abc\xE4\xB8\xAD"
      "def\n",
      /*flush=*/false, 5);

  EXPECT_EQ(split.lines, (Lines{"abc",
                                "\xE4\xB8\xAD"
                                "de",
                                "f"}));
}

TEST(LogTextTest, SplitKeepsIncompleteSequenceBuffered) {
  LogSplit split = SplitLogLines("ok\nab\xE4\xB8", /*flush=*/false, 64);

  EXPECT_EQ(split.lines, (Lines{"ok"}));
  EXPECT_EQ(split.partial, "ab\xE4\xB8");
}

}  // namespace
}  // namespace svcd::store
