// Tests of label selector parsing and matching.

#include "store/label_selector.h"

#include <gtest/gtest.h>

namespace svcd::store {
namespace {

bool Matches(const std::string& selector, const std::map<std::string, std::string>& labels) {
  StatusOr<LabelSelector> parsed = LabelSelector::Parse(selector);
  EXPECT_TRUE(parsed.ok()) << selector << ": " << parsed.status().ToString();
  return parsed.ok() && parsed->Matches(labels);
}

TEST(LabelSelectorTest, EmptySelectorMatchesEverything) {
  EXPECT_TRUE(Matches("", {}));
  EXPECT_TRUE(Matches("  ", {{"a", "b"}}));
}

TEST(LabelSelectorTest, EqualityAndInequality) {
  std::map<std::string, std::string> labels = {{"accel", "A100"}, {"room", "A3"}};

  EXPECT_TRUE(Matches("accel=A100", labels));
  EXPECT_TRUE(Matches("accel==A100", labels));
  EXPECT_FALSE(Matches("accel=H100", labels));
  EXPECT_TRUE(Matches("accel!=H100", labels));
  EXPECT_FALSE(Matches("accel!=A100", labels));
  EXPECT_TRUE(Matches("missing!=x", labels));
  EXPECT_TRUE(Matches("accel=A100, room=A3", labels));
  EXPECT_FALSE(Matches("accel=A100,room=B1", labels));
}

TEST(LabelSelectorTest, SetBasedRequirements) {
  std::map<std::string, std::string> labels = {{"accel", "A100"}};

  EXPECT_TRUE(Matches("accel in (A100,H100)", labels));
  EXPECT_TRUE(Matches("accel in ( H100 , A100 )", labels));
  EXPECT_FALSE(Matches("accel in (H100)", labels));
  EXPECT_TRUE(Matches("accel notin (H100)", labels));
  EXPECT_FALSE(Matches("accel notin (A100,H100)", labels));
  EXPECT_TRUE(Matches("room notin (A3)", labels));
  EXPECT_FALSE(Matches("room in (A3)", labels));
}

TEST(LabelSelectorTest, ExistenceRequirements) {
  std::map<std::string, std::string> labels = {{"svcd.io/pool", "gpu"}};

  EXPECT_TRUE(Matches("svcd.io/pool", labels));
  EXPECT_FALSE(Matches("!svcd.io/pool", labels));
  EXPECT_TRUE(Matches("!room", labels));
  EXPECT_FALSE(Matches("room", labels));
  EXPECT_TRUE(Matches("svcd.io/pool,!room,svcd.io/pool in (gpu)", labels));
}

TEST(LabelSelectorTest, RejectsMalformedSelectors) {
  const char* kBad[] = {
      "accel in A100",  "accel in (A100", "accel in ((a))", "=A100", "accel=A 100",
      "accel,,room",    "accel=a=b",      "bad key=1",      "-x=1",  "accel in (a b)",
      "accel notin ()", "!accel=1",       "accel >= 3",
  };
  for (const char* text : kBad) {
    StatusOr<LabelSelector> parsed = LabelSelector::Parse(text);
    EXPECT_FALSE(parsed.ok()) << text;
    if (!parsed.ok()) {
      EXPECT_EQ(parsed.status().code(), Code::kInvalidArgument) << text;
      EXPECT_NE(parsed.status().message().find("key=value"), std::string::npos) << text;
    }
  }
}

TEST(LabelSelectorTest, EmptyValueMatchesEmptyLabel) {
  EXPECT_TRUE(Matches("accel=", {{"accel", ""}}));
  EXPECT_FALSE(Matches("accel=", {{"accel", "A100"}}));
}

}  // namespace
}  // namespace svcd::store
