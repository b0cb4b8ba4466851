// Helpers shared by the api tests.

#ifndef SVCD_TESTS_API_TEST_UTIL_H_
#define SVCD_TESTS_API_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "api/codec.h"
#include "api/status.h"

namespace svcd::api::testing {

// Lines 1 to 9 of a valid ServiceDeploy; text appended to it starts on line
// 10, inside `spec` when indented by two spaces.
inline constexpr char kDeployHead[] =
    "apiVersion: svcd.io/v1alpha1\n"  // 1
    "kind: ServiceDeploy\n"           // 2
    "metadata:\n"                     // 3
    "  name: qwen\n"                  // 4
    "spec:\n"                         // 5
    "  templateRef: vllm\n"           // 6
    "  modelName: qwen2-7b\n"         // 7
    "  master:\n"                     // 8
    "    host: gpu-01\n";             // 9

// Lines 1 to 5 of a Host; spec fields appended start on line 6.
inline constexpr char kHostHead[] =
    "apiVersion: svcd.io/v1alpha1\n"  // 1
    "kind: Host\n"                    // 2
    "metadata:\n"                     // 3
    "  name: gpu-01\n"                // 4
    "spec:\n";                        // 5

// Lines 1 to 6 of a ServiceTemplate; spec fields appended start on line 7.
inline constexpr char kTemplateHead[] =
    "apiVersion: svcd.io/v1alpha1\n"                                   // 1
    "kind: ServiceTemplate\n"                                          // 2
    "metadata:\n"                                                      // 3
    "  name: vllm\n"                                                   // 4
    "spec:\n"                                                          // 5
    "  fixedPrefix: python3 -m vllm.entrypoints.openai.api_server\n";  // 6

inline std::string Describe(const Status& status) {
  std::string out = status.ToString();
  return out.empty() ? "(ok)" : out;
}

// Decodes `text` and returns the causes; fails the test when it decodes.
inline std::vector<Cause> CausesOf(std::string_view text, Format format = Format::kYaml) {
  StatusOr<std::vector<Object>> result = DecodeObjects(text, format);
  EXPECT_FALSE(result.ok()) << "decoded without error:\n" << text;
  if (result.ok()) return {};
  EXPECT_EQ(result.status().code(), Code::kInvalidArgument) << Describe(result.status());
  return result.status().causes();
}

// Decodes `text` and returns the objects; fails the test on any error.
inline std::vector<Object> ObjectsOf(std::string_view text, Format format = Format::kYaml) {
  StatusOr<std::vector<Object>> result = DecodeObjects(text, format);
  EXPECT_TRUE(result.ok()) << Describe(result.status()) << "\n" << text;
  if (!result.ok()) return {};
  return *result;
}

// Returns the cause whose field is `field`, or nullptr.
inline const Cause* FindCause(const std::vector<Cause>& causes, std::string_view field) {
  for (const Cause& cause : causes) {
    if (cause.field == field) return &cause;
  }
  return nullptr;
}

inline std::string Join(const std::vector<Cause>& causes) {
  std::string out;
  for (const Cause& cause : causes) out += "  " + cause.ToString() + "\n";
  return out;
}

inline std::string ReadTestdata(std::string_view name) {
  std::ifstream in(std::string(SVCD_API_TESTDATA) + "/" + std::string(name), std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace svcd::api::testing

#endif  // SVCD_TESTS_API_TEST_UTIL_H_
