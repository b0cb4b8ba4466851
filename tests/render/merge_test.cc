#include "render/merge.h"

#include <gtest/gtest.h>

#include <array>

#include "tests/render/fixtures.h"

namespace svcd::render {
namespace {

using svcd::testing::Flag;
using svcd::testing::Named;
using svcd::testing::Positional;

bool HasCause(const Status& status, const std::string& field) {
  for (const Cause& cause : status.causes()) {
    if (cause.field == field) return true;
  }
  return false;
}

TEST(MergeEnvsTest, LaterLayerReplacesInPlace) {
  const std::vector<api::EnvVar> base = {{"A", "1"}, {"B", "2"}, {"C", "3"}};
  const std::vector<api::EnvVar> deploy = {{"B", "20"}, {"D", "40"}};
  const std::vector<api::EnvVar> node = {{"E", "500"}, {"A", "100"}};
  const std::array<EnvLayer, 3> layers = {EnvLayer{"spec.defaultEnvs", "", base},
                                          EnvLayer{"spec.envs", "", deploy},
                                          EnvLayer{"spec.master.envs", "", node}};
  const auto merged = MergeEnvs(layers);
  ASSERT_TRUE(merged.ok()) << merged.status().ToString();
  const std::vector<api::EnvVar> expected = {
      {"A", "100"}, {"B", "20"}, {"C", "3"}, {"D", "40"}, {"E", "500"}};
  EXPECT_EQ(*merged, expected);
}

TEST(MergeEnvsTest, KeepsEmptyValue) {
  const std::vector<api::EnvVar> base = {{"A", "set"}};
  const std::vector<api::EnvVar> node = {{"A", ""}};
  const std::array<EnvLayer, 2> layers = {EnvLayer{"spec.defaultEnvs", "", base},
                                          EnvLayer{"spec.master.envs", "", node}};
  const auto merged = MergeEnvs(layers);
  ASSERT_TRUE(merged.ok());
  ASSERT_EQ(merged->size(), 1u);
  EXPECT_EQ((*merged)[0].value, "");
}

TEST(MergeEnvsTest, RejectsDuplicateInOneList) {
  const std::vector<api::EnvVar> deploy = {{"A", "1"}, {"B", "2"}, {"A", "3"}};
  const std::array<EnvLayer, 1> layers = {EnvLayer{"spec.envs", "", deploy}};
  const auto merged = MergeEnvs(layers);
  ASSERT_FALSE(merged.ok());
  EXPECT_EQ(merged.status().code(), Code::kInvalidArgument);
  ASSERT_TRUE(HasCause(merged.status(), "spec.envs[2].name")) << merged.status().ToString();
  EXPECT_NE(merged.status().ToString().find("spec.envs[0]"), std::string::npos);
}

TEST(MergeEnvsTest, RejectsInvalidAndReservedNames) {
  const std::vector<api::EnvVar> deploy = {{"1ABC", "x"},      {"A-B", "x"}, {"", "x"},
                                           {"SVCD_ROLE", "x"}, {"A B", "x"}, {"OK_1", "x"}};
  const std::array<EnvLayer, 1> layers = {EnvLayer{"spec.envs", "", deploy}};
  const auto merged = MergeEnvs(layers);
  ASSERT_FALSE(merged.ok());
  EXPECT_EQ(merged.status().causes().size(), 5u) << merged.status().ToString();
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(HasCause(merged.status(), "spec.envs[" + std::to_string(i) + "].name")) << i;
  }
  EXPECT_FALSE(HasCause(merged.status(), "spec.envs[5].name"));
}

TEST(MergeEnvsTest, RejectsNulInValue) {
  const std::vector<api::EnvVar> deploy = {{"A", std::string("a\0b", 3)}};
  const std::array<EnvLayer, 1> layers = {EnvLayer{"spec.envs", "", deploy}};
  const auto merged = MergeEnvs(layers);
  ASSERT_FALSE(merged.ok());
  EXPECT_TRUE(HasCause(merged.status(), "spec.envs[0].value"));
}

TEST(MergeEnvsTest, NamesTemplateInMessage) {
  const std::vector<api::EnvVar> base = {{"9X", "1"}};
  const std::array<EnvLayer, 1> layers = {
      EnvLayer{"spec.defaultEnvs", "ServiceTemplate \"vllm\"", base}};
  const auto merged = MergeEnvs(layers);
  ASSERT_FALSE(merged.ok());
  EXPECT_NE(merged.status().ToString().find("ServiceTemplate \"vllm\""), std::string::npos);
}

TEST(OptionForNameTest, AddsDashesOnlyToBareNames) {
  EXPECT_EQ(OptionForName("port"), "--port");
  EXPECT_EQ(OptionForName("-v"), "-v");
  EXPECT_EQ(OptionForName("--port"), "--port");
}

TEST(ArgNameTest, MatchesDocumentedPattern) {
  for (const char* good : {"port", "-v", "--port", "tensor-parallel-size", "a.b_c", "9"}) {
    EXPECT_TRUE(IsValidArgName(good)) << good;
  }
  for (const char* bad : {"", "-", "--", "---x", "-.x", "a b", "a=b", "a;b", "$x", "a'b"}) {
    EXPECT_FALSE(IsValidArgName(bad)) << bad;
  }
}

TEST(MergeArgsTest, ReplacesInPlaceAndAppends) {
  const std::vector<api::Arg> base = {Named("port", "8000"), Named("host", "0.0.0.0"),
                                      Flag("trust-remote-code")};
  const std::vector<api::Arg> node = {Named("model", "/m"), Named("port", "9000")};
  const std::array<ArgLayer, 2> layers = {ArgLayer{"spec.defaultMasterArgs", "", base},
                                          ArgLayer{"spec.master.args", "", node}};
  const auto merged = MergeArgs(layers);
  ASSERT_TRUE(merged.ok()) << merged.status().ToString();
  const std::vector<NamedArg> expected = {{"--port", "9000"},
                                          {"--host", "0.0.0.0"},
                                          {"--trust-remote-code", std::nullopt},
                                          {"--model", "/m"}};
  EXPECT_EQ(merged->named, expected);
  EXPECT_TRUE(merged->positional.empty());
}

TEST(MergeArgsTest, DashedAndBareNamesAreOneArg) {
  const std::vector<api::Arg> base = {Named("port", "8000")};
  const std::vector<api::Arg> node = {Named("--port", "9000")};
  const std::array<ArgLayer, 2> layers = {ArgLayer{"spec.defaultMasterArgs", "", base},
                                          ArgLayer{"spec.master.args", "", node}};
  const auto merged = MergeArgs(layers);
  ASSERT_TRUE(merged.ok());
  const std::vector<NamedArg> expected = {{"--port", "9000"}};
  EXPECT_EQ(merged->named, expected);
}

TEST(MergeArgsTest, FlagFalseRemovesInheritedArg) {
  const std::vector<api::Arg> base = {Flag("enforce-eager"), Named("port", "8000"),
                                      Named("dtype", "half")};
  const std::vector<api::Arg> node = {Flag("enforce-eager", false), Flag("dtype", false),
                                      Flag("never-set", false)};
  const std::array<ArgLayer, 2> layers = {ArgLayer{"spec.defaultMasterArgs", "", base},
                                          ArgLayer{"spec.master.args", "", node}};
  const auto merged = MergeArgs(layers);
  ASSERT_TRUE(merged.ok()) << merged.status().ToString();
  const std::vector<NamedArg> expected = {{"--port", "8000"}};
  EXPECT_EQ(merged->named, expected);
}

TEST(MergeArgsTest, FlagAndValueReplaceEachOther) {
  const std::vector<api::Arg> base = {Flag("a"), Named("b", "1")};
  const std::vector<api::Arg> node = {Named("a", "x"), Flag("b")};
  const std::array<ArgLayer, 2> layers = {ArgLayer{"t", "", base}, ArgLayer{"n", "", node}};
  const auto merged = MergeArgs(layers);
  ASSERT_TRUE(merged.ok());
  const std::vector<NamedArg> expected = {{"--a", "x"}, {"--b", std::nullopt}};
  EXPECT_EQ(merged->named, expected);
}

TEST(MergeArgsTest, PositionalArgsAreNeverMerged) {
  const std::vector<api::Arg> base = {Positional("serve"), Named("port", "1"), Positional("x")};
  const std::vector<api::Arg> node = {Positional("x"), Positional("serve")};
  const std::array<ArgLayer, 2> layers = {ArgLayer{"t", "", base}, ArgLayer{"n", "", node}};
  const auto merged = MergeArgs(layers);
  ASSERT_TRUE(merged.ok());
  const std::vector<std::string> expected = {"serve", "x", "x", "serve"};
  EXPECT_EQ(merged->positional, expected);
  ASSERT_EQ(merged->named.size(), 1u);
}

TEST(MergeArgsTest, RejectsInvalidShapes) {
  const std::vector<api::Arg> node = {
      {"a", "v", true},                              // [0] value and flag
      {"b", std::nullopt, std::nullopt},             // [1] neither
      {std::nullopt, std::nullopt, std::nullopt},    // [2] nothing
      {std::nullopt, "v", true},                     // [3] flag without name
      {"bad name", "v", std::nullopt},               // [4] invalid name
      {"ok", std::string("a\0b", 3), std::nullopt},  // [5] NUL
      Named("fine", "v"),                            // [6]
  };
  const std::array<ArgLayer, 1> layers = {ArgLayer{"spec.master.args", "", node}};
  const auto merged = MergeArgs(layers);
  ASSERT_FALSE(merged.ok());
  const Status& status = merged.status();
  EXPECT_TRUE(HasCause(status, "spec.master.args[0]")) << status.ToString();
  EXPECT_TRUE(HasCause(status, "spec.master.args[1]"));
  EXPECT_TRUE(HasCause(status, "spec.master.args[2]"));
  EXPECT_TRUE(HasCause(status, "spec.master.args[3].flag"));
  EXPECT_TRUE(HasCause(status, "spec.master.args[4].name"));
  EXPECT_TRUE(HasCause(status, "spec.master.args[5].value"));
  EXPECT_EQ(status.ToString().find("args[6]"), std::string::npos);
}

TEST(MergeArgsTest, RejectsDuplicateInOneList) {
  const std::vector<api::Arg> node = {Named("port", "1"), Named("--port", "2")};
  const std::array<ArgLayer, 1> layers = {ArgLayer{"spec.workers[0].args", "", node}};
  const auto merged = MergeArgs(layers);
  ASSERT_FALSE(merged.ok());
  EXPECT_TRUE(HasCause(merged.status(), "spec.workers[0].args[1].name"))
      << merged.status().ToString();
}

}  // namespace
}  // namespace svcd::render
