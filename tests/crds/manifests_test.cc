// Checks every manifest the project ships or tests with against both the
// CRDs and the strict codec.
//
// manifests/examples and tests/testdata/manifests/good must pass both, and
// the codec must read each value exactly as a YAML 1.1 loader reads it from
// the CRD's point of view. Each file in tests/testdata/manifests/bad holds
// one mistake and names in its header where the error is and which check
// catches it. The codec must always reject it at that place, and the CRD
// must reject it exactly when the header names "schema".

#include <gtest/gtest.h>

#include <string>
#include <variant>
#include <vector>

#include "api/codec.h"
#include "tests/crds/crd_schema.h"
#include "tests/crds/manifest_files.h"
#include "tests/crds/openapi_validator.h"
#include "tests/crds/yaml11_loader.h"

namespace svcd::crdtest {
namespace {

using nlohmann::json;

const std::vector<Crd>& Crds() {
  static const std::vector<Crd>* crds = [] {
    StatusOr<std::vector<Crd>> loaded = LoadAllCrds();
    return new std::vector<Crd>(loaded.ok() ? std::move(*loaded) : std::vector<Crd>{});
  }();
  return *crds;
}

std::vector<std::string> AcceptedFiles() {
  std::vector<std::string> files = ListYamlFiles("manifests/examples");
  for (const std::string& file : ListYamlFiles("tests/testdata/manifests/good")) {
    files.push_back(file);
  }
  return files;
}

std::string ParamName(const ::testing::TestParamInfo<std::string>& info) {
  return TestNameForFile(info.param);
}

// Appends "path: a != b" for every leaf of `expected` that `actual` lacks or
// has with another value.
void CompareLeaves(const json& expected, const json& actual, const std::string& path,
                   std::vector<std::string>& out) {
  if (expected.is_object() && actual.is_object()) {
    for (const auto& [key, value] : expected.items()) {
      if (value.is_null()) continue;
      const std::string child = path.empty() ? key : path + "." + key;
      // The codec's types hold an empty string and an unset one alike, and
      // the encoder leaves both out.
      if (!actual.contains(key) && value != "") {
        out.push_back(child + ": missing after decoding");
        continue;
      }
      if (!actual.contains(key)) {
        continue;
      }
      CompareLeaves(value, actual[key], child, out);
    }
    return;
  }
  if (expected.is_array() && actual.is_array() && expected.size() == actual.size()) {
    for (size_t i = 0; i < expected.size(); ++i) {
      CompareLeaves(expected[i], actual[i], path + "[" + std::to_string(i) + "]", out);
    }
    return;
  }
  if (expected != actual) out.push_back(path + ": " + expected.dump() + " != " + actual.dump());
}

class AcceptedManifestTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    ASSERT_EQ(Crds().size(), 3u);
    StatusOr<std::string> text = ReadFile(GetParam());
    ASSERT_TRUE(text.ok()) << text.status().ToString();
    text_ = *text;
  }

  std::string text_;
};

TEST_P(AcceptedManifestTest, MatchesCrds) {
  StatusOr<std::vector<json>> documents = LoadYamlDocuments(text_);
  ASSERT_TRUE(documents.ok()) << documents.status().ToString();
  ASSERT_FALSE(documents->empty());
  for (size_t i = 0; i < documents->size(); ++i) {
    std::vector<std::string> problems;
    for (const SchemaProblem& problem : ValidateManifest((*documents)[i], Crds())) {
      problems.push_back(problem.ToString());
    }
    EXPECT_EQ(problems, std::vector<std::string>{}) << "document " << i + 1;
  }
}

TEST_P(AcceptedManifestTest, DecodesWithCodec) {
  api::DecodeOptions options;
  options.source_name = GetParam();
  StatusOr<std::vector<api::Object>> objects =
      api::DecodeObjects(text_, api::Format::kYaml, options);
  ASSERT_TRUE(objects.ok()) << objects.status().ToString();
  StatusOr<std::vector<json>> documents = LoadYamlDocuments(text_);
  ASSERT_TRUE(documents.ok()) << documents.status().ToString();
  EXPECT_EQ(objects->size(), documents->size());
}

TEST_P(AcceptedManifestTest, CodecReadsValuesAsCrdLoaderDoes) {
  StatusOr<std::vector<api::Object>> objects = api::DecodeObjects(text_, api::Format::kYaml);
  ASSERT_TRUE(objects.ok()) << objects.status().ToString();
  StatusOr<std::vector<json>> documents = LoadYamlDocuments(text_);
  ASSERT_TRUE(documents.ok()) << documents.status().ToString();
  ASSERT_EQ(objects->size(), documents->size());
  for (size_t i = 0; i < objects->size(); ++i) {
    std::vector<std::string> differences;
    CompareLeaves((*documents)[i], api::EncodeJson((*objects)[i]), "", differences);
    EXPECT_EQ(differences, std::vector<std::string>{}) << "document " << i + 1;
  }
}

INSTANTIATE_TEST_SUITE_P(Files, AcceptedManifestTest, ::testing::ValuesIn(AcceptedFiles()),
                         ParamName);

class BadManifestTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    ASSERT_EQ(Crds().size(), 3u);
    manifest_ = ReadBadManifest(GetParam());
    ASSERT_FALSE(manifest_.text.empty()) << GetParam();
  }

  bool PointsAtExpectation(const std::string& field, int line) const {
    if (!manifest_.expect_field.empty()) return FieldMatches(field, manifest_.expect_field);
    return line == manifest_.expect_line;
  }

  BadManifest manifest_;
};

TEST_P(BadManifestTest, DeclaresExpectation) {
  EXPECT_TRUE(!manifest_.expect_field.empty() || manifest_.expect_line > 0)
      << "add '# expect: FIELD.PATH' or '# expect-line: N' at the top";
  EXPECT_NE(manifest_.catcher, Catcher::kUnknown)
      << "add '# caught-by: schema', 'loader' or 'codec only (reason)' at the top";
}

TEST_P(BadManifestTest, CodecRejectsAtExpectedPlace) {
  StatusOr<std::vector<api::Object>> objects =
      api::DecodeObjects(manifest_.text, api::Format::kYaml);
  ASSERT_FALSE(objects.ok()) << "the codec accepted a bad manifest";
  bool found = false;
  for (const Cause& cause : objects.status().causes()) {
    found = found || PointsAtExpectation(cause.field, cause.line);
  }
  EXPECT_TRUE(found) << "expected a cause at '" << manifest_.expect_field << "' line "
                     << manifest_.expect_line << ", got:\n"
                     << objects.status().ToString();
}

TEST_P(BadManifestTest, CrdCatchesItExactlyWhenDeclared) {
  StatusOr<std::vector<json>> documents = LoadYamlDocuments(manifest_.text);
  if (manifest_.catcher == Catcher::kLoader) {
    ASSERT_FALSE(documents.ok()) << "the YAML loader accepted it";
    ASSERT_EQ(documents.status().causes().size(), 1u);
    const Cause& cause = documents.status().causes()[0];
    EXPECT_TRUE(PointsAtExpectation(cause.field, cause.line)) << cause.ToString();
    return;
  }
  ASSERT_TRUE(documents.ok()) << documents.status().ToString();
  std::vector<std::string> problems;
  bool found = false;
  for (const json& document : *documents) {
    for (const SchemaProblem& problem : ValidateManifest(document, Crds())) {
      problems.push_back(problem.ToString());
      found = found || FieldMatches(problem.path, manifest_.expect_field);
    }
  }
  if (manifest_.catcher == Catcher::kSchema) {
    EXPECT_TRUE(found) << "expected a CRD problem at " << manifest_.expect_field << ", got "
                       << ::testing::PrintToString(problems);
  } else {
    EXPECT_EQ(problems, std::vector<std::string>{})
        << "the header says only the codec catches this (" << manifest_.reason
        << "), but the CRD does too; change its caught-by line";
  }
}

INSTANTIATE_TEST_SUITE_P(Files, BadManifestTest,
                         ::testing::ValuesIn(ListYamlFiles("tests/testdata/manifests/bad")),
                         ParamName);

// The example that svcctl's first documented command renders must keep
// showing what it is there to show.
TEST(RenderExampleTest, ShowsHostsTemplateAndThreeNodeDeploy) {
  StatusOr<std::string> text = ReadFile(SourcePath("manifests/examples/render-example.yaml"));
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  StatusOr<std::vector<api::Object>> objects = api::DecodeObjects(*text, api::Format::kYaml);
  ASSERT_TRUE(objects.ok()) << objects.status().ToString();

  std::vector<api::Host> hosts;
  std::vector<api::ServiceTemplate> templates;
  std::vector<api::ServiceDeploy> deploys;
  for (const api::Object& object : *objects) {
    if (const auto* host = std::get_if<api::Host>(&object)) hosts.push_back(*host);
    if (const auto* tmpl = std::get_if<api::ServiceTemplate>(&object)) templates.push_back(*tmpl);
    if (const auto* deploy = std::get_if<api::ServiceDeploy>(&object)) deploys.push_back(*deploy);
  }
  ASSERT_EQ(hosts.size(), 2u);
  for (const api::Host& host : hosts) {
    EXPECT_NE(host.spec.address.rfind("127.", 0), 0u) << host.spec.address;
    EXPECT_NE(host.spec.address, "::1");
    EXPECT_NE(host.spec.address, "localhost");
  }

  ASSERT_EQ(templates.size(), 1u);
  const api::ServiceTemplateSpec& tmpl = templates[0].spec;
  EXPECT_EQ(tmpl.fixed_prefix, "python3 -m vllm.entrypoints.openai.api_server");
  EXPECT_FALSE(tmpl.default_envs.empty());
  EXPECT_FALSE(tmpl.default_master_args.empty());
  EXPECT_TRUE(tmpl.probe.has_value());

  ASSERT_EQ(deploys.size(), 1u);
  const api::ServiceDeploySpec& deploy = deploys[0].spec;
  EXPECT_EQ(deploy.workers.size(), 2u);
  bool device_list = false, json_value = false, master_address = false;
  for (const api::EnvVar& env : deploy.envs) {
    device_list = device_list || env.value == "0,1";
    json_value = json_value || json::accept(env.value);
    master_address = master_address || env.value.find("$(SVCD_MASTER_ADDR)") != std::string::npos;
  }
  EXPECT_TRUE(device_list);
  EXPECT_TRUE(json_value);
  EXPECT_TRUE(master_address);
  ASSERT_TRUE(deploy.probe.has_value());
  ASSERT_TRUE(deploy.probe->http.has_value());
  EXPECT_EQ(deploy.probe->http->method, "POST");
  EXPECT_FALSE(deploy.probe->http->keyword.empty());
  EXPECT_FALSE(deploy.restart_policy.scope.empty());
}

TEST(ManifestFilesTest, FindsEveryFolder) {
  EXPECT_GE(ListYamlFiles("manifests/examples").size(), 3u);
  EXPECT_GE(ListYamlFiles("tests/testdata/manifests/good").size(), 2u);
  EXPECT_GE(ListYamlFiles("tests/testdata/manifests/bad").size(), 13u);
}

TEST(ManifestFilesTest, FieldMatchesPathOrInside) {
  EXPECT_TRUE(FieldMatches("spec.probe", "spec.probe"));
  EXPECT_TRUE(FieldMatches("spec.probe.http", "spec.probe"));
  EXPECT_TRUE(FieldMatches("spec.envs[1].name", "spec.envs[1]"));
  EXPECT_TRUE(FieldMatches("[doc 2] spec.envs", "spec.envs"));
  EXPECT_FALSE(FieldMatches("spec.probes", "spec.probe"));
  EXPECT_FALSE(FieldMatches("spec", "spec.probe"));
}

}  // namespace
}  // namespace svcd::crdtest
