// Tests of the test tools themselves: the YAML 1.1 loader and the OpenAPI
// validator must catch what they claim to, or the manifest tests prove
// nothing.

#include "tests/crds/openapi_validator.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/crds/crd_schema.h"
#include "tests/crds/yaml11_loader.h"

namespace svcd::crdtest {
namespace {

using nlohmann::json;

std::vector<std::string> Paths(const std::vector<SchemaProblem>& problems) {
  std::vector<std::string> paths;
  for (const SchemaProblem& problem : problems) paths.push_back(problem.path);
  return paths;
}

json Load(const std::string& yaml) {
  StatusOr<std::vector<json>> documents = LoadYamlDocuments(yaml);
  EXPECT_TRUE(documents.ok()) << documents.status().ToString();
  if (!documents.ok() || documents->empty()) return nullptr;
  return documents->front();
}

TEST(Yaml11LoaderTest, ResolvesPlainScalarsAsYaml11) {
  EXPECT_EQ(ResolvePlainScalar("no"), json(false));
  EXPECT_EQ(ResolvePlainScalar("Off"), json(false));
  EXPECT_EQ(ResolvePlainScalar("y"), json(true));
  EXPECT_EQ(ResolvePlainScalar("010"), json(8));
  EXPECT_EQ(ResolvePlainScalar("0x1F"), json(31));
  EXPECT_EQ(ResolvePlainScalar("-0b101"), json(-5));
  EXPECT_EQ(ResolvePlainScalar("1_000"), json(1000));
  EXPECT_EQ(ResolvePlainScalar("08"), json(8.0));
  EXPECT_EQ(ResolvePlainScalar("1e3"), json(1000.0));
  EXPECT_EQ(ResolvePlainScalar("0.90"), json(0.9));
  EXPECT_EQ(ResolvePlainScalar("~"), json(nullptr));
  EXPECT_EQ(ResolvePlainScalar("0,1"), json("0,1"));
  EXPECT_EQ(ResolvePlainScalar("21:21"), json("21:21"));
  EXPECT_EQ(ResolvePlainScalar("12345678901234567890"), json(12345678901234567890ULL));
  // Too large for 64 bits, but it still has the form of a float.
  EXPECT_EQ(ResolvePlainScalar("123456789012345678901"), json(1.2345678901234568e20));
  EXPECT_EQ(ResolvePlainScalar("1.2.3"), json("1.2.3"));
}

TEST(Yaml11LoaderTest, KeepsQuotedScalarsAsStrings) {
  json doc = Load("a: \"010\"\nb: 'no'\nc: |\n  x\nd: !!str 8\ne: \"\"\n");
  EXPECT_EQ(doc["a"], "010");
  EXPECT_EQ(doc["b"], "no");
  EXPECT_EQ(doc["c"], "x\n");
  EXPECT_EQ(doc["d"], "8");
  EXPECT_EQ(doc["e"], "");
}

TEST(Yaml11LoaderTest, RejectsDuplicateKeyWithPathAndLine) {
  StatusOr<std::vector<json>> documents = LoadYamlDocuments("a:\n  b: 1\n  c: 2\n  b: 3\n");
  ASSERT_FALSE(documents.ok());
  ASSERT_EQ(documents.status().causes().size(), 1u);
  EXPECT_EQ(documents.status().causes()[0].field, "a.b");
  EXPECT_EQ(documents.status().causes()[0].line, 4);
}

TEST(Yaml11LoaderTest, RejectsTabIndentation) {
  StatusOr<std::vector<json>> documents = LoadYamlDocuments("a:\n\tb: 1\n");
  ASSERT_FALSE(documents.ok());
  ASSERT_EQ(documents.status().causes().size(), 1u);
  EXPECT_EQ(documents.status().causes()[0].line, 2);
}

TEST(Yaml11LoaderTest, SkipsEmptyDocuments) {
  StatusOr<std::vector<json>> documents = LoadYamlDocuments("---\n# x\n---\na: 1\n---\n");
  ASSERT_TRUE(documents.ok());
  ASSERT_EQ(documents->size(), 1u);
}

const json kSchema = json::parse(R"({
  "type": "object",
  "required": ["name"],
  "properties": {
    "name": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 5},
    "port": {"type": "integer", "minimum": 1, "maximum": 65535},
    "mode": {"type": "string", "enum": ["GET", "POST"]},
    "on": {"type": "boolean"},
    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
    "envs": {"type": "array", "maxItems": 2, "x-kubernetes-list-type": "map",
             "x-kubernetes-list-map-keys": ["name"],
             "items": {"type": "object", "required": ["name"],
                       "properties": {"name": {"type": "string", "not": {"pattern": "^SVCD_"}},
                                      "value": {"type": "string"}}}},
    "arg": {"type": "object",
            "oneOf": [{"required": ["name", "value"]}, {"required": ["name", "flag"]},
                      {"required": ["value"], "not": {"anyOf": [{"required": ["name"]},
                                                                {"required": ["flag"]}]}}],
            "properties": {"name": {"type": "string"}, "value": {"type": "string"},
                           "flag": {"type": "boolean"}}}
  }
})");

TEST(OpenApiValidatorTest, AcceptsMatchingValue) {
  json value = {{"name", "abc"},          {"port", 8000},
                {"mode", "POST"},         {"on", false},
                {"labels", {{"a", "b"}}}, {"envs", {{{"name", "X"}}, {{"name", "Y"}}}},
                {"arg", {{"value", "v"}}}};
  EXPECT_EQ(Paths(ValidateValue(value, kSchema)), std::vector<std::string>{});
}

TEST(OpenApiValidatorTest, ReportsEachViolationAtItsPath) {
  json value = {{"name", "ABC"}, {"port", 70000},        {"mode", "PUT"},
                {"on", "no"},    {"labels", {{"a", 1}}}, {"extra", 1}};
  EXPECT_EQ(Paths(ValidateValue(value, kSchema, "spec")),
            (std::vector<std::string>{"spec.extra", "spec.labels.a", "spec.mode", "spec.name",
                                      "spec.on", "spec.port"}));
}

TEST(OpenApiValidatorTest, NullCountsAsAbsent) {
  EXPECT_EQ(Paths(ValidateValue({{"name", nullptr}, {"port", nullptr}}, kSchema)),
            std::vector<std::string>{"name"});
}

TEST(OpenApiValidatorTest, ChecksLengthInCodePoints) {
  EXPECT_TRUE(ValidateValue("abcde", kSchema["properties"]["name"]).empty());
  EXPECT_EQ(ValidateValue("abcdef", kSchema["properties"]["name"]).size(), 1u);
  json schema = {{"type", "string"}, {"maxLength", 2}};
  EXPECT_TRUE(ValidateValue("模型", schema).empty());
}

TEST(OpenApiValidatorTest, ChecksListMapKeysAndMaxItems) {
  json value = {{"name", "a"}, {"envs", {{{"name", "X"}}, {{"name", "X"}}, {{"name", "Z"}}}}};
  EXPECT_EQ(Paths(ValidateValue(value, kSchema)),
            (std::vector<std::string>{"envs", "envs[1].name"}));
}

TEST(OpenApiValidatorTest, ChecksNotPattern) {
  json value = {{"name", "a"}, {"envs", {{{"name", "SVCD_ROLE"}}}}};
  EXPECT_EQ(Paths(ValidateValue(value, kSchema)), std::vector<std::string>{"envs[0].name"});
}

TEST(OpenApiValidatorTest, OneOfNeedsExactlyOneMatch) {
  const json& arg = kSchema["properties"]["arg"];
  EXPECT_TRUE(ValidateValue({{"name", "x"}, {"value", "v"}}, arg).empty());
  EXPECT_TRUE(ValidateValue({{"name", "x"}, {"flag", false}}, arg).empty());
  EXPECT_TRUE(ValidateValue({{"value", "v"}}, arg).empty());
  EXPECT_FALSE(ValidateValue({{"name", "x"}, {"value", "v"}, {"flag", true}}, arg).empty());
  EXPECT_FALSE(ValidateValue({{"value", "v"}, {"flag", true}}, arg).empty());
  EXPECT_FALSE(ValidateValue({{"name", "x"}}, arg).empty());
  EXPECT_FALSE(ValidateValue(json::object(), arg).empty());
}

TEST(OpenApiValidatorTest, ClosedObjectRejectsUnknownField) {
  json closed = {{"type", "object"}, {"properties", {{"a", {{"type", "string"}}}}}};
  EXPECT_EQ(Paths(ValidateValue({{"b", "x"}}, closed, "spec")), std::vector<std::string>{"spec.b"});
  json open = closed;
  open["x-kubernetes-preserve-unknown-fields"] = true;
  EXPECT_TRUE(ValidateValue({{"b", "x"}}, open).empty());
  json no_additional = {{"type", "object"}, {"additionalProperties", false}};
  EXPECT_EQ(ValidateValue({{"b", "x"}}, no_additional).size(), 1u);
}

TEST(OpenApiValidatorTest, IntegerRejectsFloatAndString) {
  const json& port = kSchema["properties"]["port"];
  EXPECT_FALSE(ValidateValue(80.5, port).empty());
  EXPECT_FALSE(ValidateValue("80", port).empty());
  EXPECT_TRUE(ValidateValue(80, port).empty());
}

TEST(OpenApiValidatorTest, ListsUnsupportedKeywords) {
  json schema = {{"type", "object"},
                 {"properties", {{"a", {{"type", "string"}, {"uniqueItems", true}}}}}};
  EXPECT_EQ(UnsupportedKeywords(schema), std::vector<std::string>{"a: uniqueItems"});
}

class ManifestValidationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StatusOr<std::vector<Crd>> crds = LoadAllCrds();
    ASSERT_TRUE(crds.ok()) << crds.status().ToString();
    crds_ = std::move(*crds);
  }

  std::vector<std::string> Check(const std::string& yaml) {
    return Paths(ValidateManifest(Load(yaml), crds_));
  }

  std::vector<Crd> crds_;
};

TEST_F(ManifestValidationTest, AcceptsMinimalHost) {
  EXPECT_EQ(Check("apiVersion: svcd.io/v1alpha1\nkind: Host\nmetadata: {name: a}\n"
                  "spec: {address: 10.0.0.1}\n"),
            std::vector<std::string>{});
}

TEST_F(ManifestValidationTest, RejectsUnservedKindVersionAndGroup) {
  EXPECT_EQ(Check("apiVersion: svcd.io/v1alpha1\nkind: Hostt\nmetadata: {name: a}\n"),
            std::vector<std::string>{"kind"});
  EXPECT_EQ(Check("apiVersion: svcd.io/v2\nkind: Host\nmetadata: {name: a}\n"),
            std::vector<std::string>{"apiVersion"});
  EXPECT_EQ(Check("apiVersion: apps/v1\nkind: Host\nmetadata: {name: a}\n"),
            std::vector<std::string>{"apiVersion"});
}

TEST_F(ManifestValidationTest, ChecksObjectMetaAndName) {
  EXPECT_EQ(Check("apiVersion: svcd.io/v1alpha1\nkind: Host\nmetadata: {name: A, color: red,"
                  " labels: {a: 1}}\nspec: {address: x}\n"),
            (std::vector<std::string>{"metadata.color", "metadata.labels.a", "metadata.name"}));
  EXPECT_EQ(Check("apiVersion: svcd.io/v1alpha1\nkind: Host\nspec: {address: x}\n"),
            (std::vector<std::string>{"metadata.name", "metadata"}));
}

}  // namespace
}  // namespace svcd::crdtest
