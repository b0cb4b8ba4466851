// Checks that each CRD schema and the strict codec describe the same API.
//
// The first group of tests compares the CRD's properties with
// api::DescribeFields field by field: the same paths, types, required
// fields, enums, ranges, patterns and limits. The second group feeds the
// same documents to the CRD validator and to api::DecodeObjects and expects
// the same verdict at the field under test. A valid value passes both. A
// wrong type, a value out of range or enum, a pattern mismatch, an over-long
// value and a missing required field fail both.

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "api/codec.h"
#include "api/schema.h"
#include "tests/crds/crd_schema.h"
#include "tests/crds/manifest_files.h"
#include "tests/crds/openapi_validator.h"
#include "tests/crds/schema_documents.h"

namespace svcd::crdtest {
namespace {

using nlohmann::json;

// Strings that exercise the patterns: names with dashes, dots and
// underscores, leading dashes, reserved prefixes, spaces, non-ASCII.
const std::vector<std::string> kPatternSamples = {
    "a",    "gpu-01", "-a",         "a-",   "--tp",   "---tp",        "-",        "a b",
    "A_1",  "_x",     "1abc",       "9",    "SVCD_X", "svcd_x",       "a.b",      "a_b",
    "a:b",  "/",      "/v1/models", "/a b", "v1",     "Content-Type", "X-Req(1)", "é",
    "模型", "a\tb",   "UPPER",      "x/y"};

struct Verdict {
  std::vector<Cause> codec;           // causes at the field, from DecodeObjects
  std::vector<SchemaProblem> schema;  // problems at the field, from the CRD
  std::vector<Cause> unknown_fields;  // codec causes anywhere about an unknown field
};

std::string Describe(const Verdict& verdict) {
  std::string text;
  for (const Cause& cause : verdict.codec) text += "\n  codec: " + cause.ToString();
  for (const SchemaProblem& problem : verdict.schema) text += "\n  crd: " + problem.ToString();
  for (const Cause& cause : verdict.unknown_fields) text += "\n  codec: " + cause.ToString();
  return text.empty() ? " (no problems)" : text;
}

bool HasTypeError(const std::vector<Cause>& causes) {
  return std::any_of(causes.begin(), causes.end(),
                     [](const Cause& c) { return c.message.rfind("expected ", 0) == 0; });
}

bool HasTypeError(const std::vector<SchemaProblem>& problems) {
  return std::any_of(problems.begin(), problems.end(),
                     [](const SchemaProblem& p) { return p.message.rfind("expected ", 0) == 0; });
}

class CrdAgreementTest : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() {
    StatusOr<std::vector<Crd>> crds = LoadAllCrds();
    ASSERT_TRUE(crds.ok()) << crds.status().ToString();
    crds_ = new std::vector<Crd>(std::move(*crds));
  }
  static void TearDownTestSuite() {
    delete crds_;
    crds_ = nullptr;
  }

  const Crd& crd() const { return *FindCrd(*crds_, GetParam()); }
  const json& root() const { return crd().Schema(); }

  // The codec's fields outside metadata, by path.
  std::map<std::string, api::FieldInfo> CodecFields() const {
    std::map<std::string, api::FieldInfo> fields;
    for (api::FieldInfo& field : api::DescribeFields(GetParam())) {
      if (field.path == "metadata" || field.path.rfind("metadata.", 0) == 0) continue;
      fields[field.path] = std::move(field);
    }
    return fields;
  }

  std::map<std::string, SchemaField> SchemaFields() const {
    std::map<std::string, SchemaField> fields;
    for (SchemaField& field : FlattenSchema(root())) fields[field.path] = std::move(field);
    return fields;
  }

  // Paths of the fields both sides list, except apiVersion and kind, which
  // select the kind rather than being checked as values.
  std::vector<std::string> CommonValuePaths() const {
    std::vector<std::string> paths;
    const auto codec = CodecFields();
    for (const auto& [path, field] : SchemaFields()) {
      if (path != "apiVersion" && path != "kind" && codec.count(path)) paths.push_back(path);
    }
    return paths;
  }

  // Runs both checks on `document` and keeps what they report at `path`
  // ("[]" meaning element 0).
  Verdict Check(const json& document, const std::string& path) const {
    const std::string field = FirstElementPath(path);
    Verdict verdict;
    StatusOr<std::vector<api::Object>> decoded =
        api::DecodeObjects(document.dump(), api::Format::kJson);
    if (!decoded.ok()) {
      for (const Cause& cause : decoded.status().causes()) {
        if (cause.field == field) verdict.codec.push_back(cause);
        if (cause.message.find("unknown field") != std::string::npos) {
          verdict.unknown_fields.push_back(cause);
        }
      }
      if (decoded.status().causes().empty()) {
        Cause whole;  // a failure without causes concerns the whole input
        whole.message = decoded.status().ToString();
        verdict.codec.push_back(whole);
      }
    }
    for (const SchemaProblem& problem : ValidateManifest(document, *crds_)) {
      if (problem.path == field) verdict.schema.push_back(problem);
    }
    return verdict;
  }

  // Returns the document with the field at `path` set to `value`. A field
  // that a cross-field rule ties to another (which only the codec checks)
  // gets that other field at its minimum too, so the rule holds.
  json With(const std::string& path, json value) const {
    static const std::map<std::string, std::string> kCompanions = {
        {"spec.restartPolicy.maxBackoffSeconds", "spec.restartPolicy.backoffSeconds"}};
    json document = MinimalManifest(crd());
    if (const auto companion = kCompanions.find(path); companion != kCompanions.end()) {
      SetAt(document, root(), companion->second, 1);
    }
    SetAt(document, root(), path, std::move(value));
    return document;
  }

  static std::vector<Crd>* crds_;
};

std::vector<Crd>* CrdAgreementTest::crds_ = nullptr;

TEST_P(CrdAgreementTest, SameFieldPaths) {
  const auto codec = CodecFields();
  const auto schema = SchemaFields();
  std::vector<std::string> only_codec, only_crd;
  for (const auto& [path, unused] : codec) {
    if (!schema.count(path)) only_codec.push_back(path);
  }
  for (const auto& [path, unused] : schema) {
    if (!codec.count(path)) only_crd.push_back(path);
  }
  EXPECT_EQ(only_codec, std::vector<std::string>{}) << "fields the CRD lacks";
  EXPECT_EQ(only_crd, std::vector<std::string>{}) << "fields the codec lacks";
}

TEST_P(CrdAgreementTest, SameTypesAndRequired) {
  const auto codec = CodecFields();
  for (const auto& [path, field] : SchemaFields()) {
    if (!codec.count(path)) continue;
    EXPECT_EQ(field.type, codec.at(path).type) << path;
    EXPECT_EQ(field.required, codec.at(path).required) << path;
  }
}

TEST_P(CrdAgreementTest, SameEnumsRangesAndPatterns) {
  const auto codec = CodecFields();
  for (const auto& [path, field] : SchemaFields()) {
    if (!codec.count(path)) continue;
    const api::FieldInfo& info = codec.at(path);
    EXPECT_EQ(field.enum_values, info.enum_values) << path;
    EXPECT_EQ(field.minimum, info.minimum) << path;
    EXPECT_EQ(field.maximum, info.maximum) << path;
    EXPECT_EQ(field.pattern, info.pattern) << path;
  }
}

TEST_P(CrdAgreementTest, SameLengthAndItemLimits) {
  const auto codec = CodecFields();
  for (const auto& [path, field] : SchemaFields()) {
    if (!codec.count(path)) continue;
    EXPECT_EQ(field.max_length, codec.at(path).max_length) << path;
    EXPECT_EQ(field.max_items, codec.at(path).max_items) << path;
  }
}

TEST_P(CrdAgreementTest, MetadataMatchesObjectMetaAndScope) {
  // ObjectMeta fields svcd accepts, with the type Kubernetes gives them.
  const std::map<std::string, std::string> object_meta = {{"metadata", "object"},
                                                          {"metadata.name", "string"},
                                                          {"metadata.namespace", "string"},
                                                          {"metadata.labels", "map"},
                                                          {"metadata.annotations", "map"},
                                                          {"metadata.uid", "string"},
                                                          {"metadata.generation", "integer"},
                                                          {"metadata.resourceVersion", "string"},
                                                          {"metadata.creationTimestamp", "string"},
                                                          {"metadata.deletionTimestamp", "string"},
                                                          {"metadata.finalizers", "array"},
                                                          {"metadata.finalizers[]", "string"}};
  std::optional<api::FieldInfo> name;
  bool has_namespace = false;
  for (const api::FieldInfo& field : api::DescribeFields(GetParam())) {
    if (field.path != "metadata" && field.path.rfind("metadata.", 0) != 0) continue;
    ASSERT_TRUE(object_meta.count(field.path)) << field.path << " is not in ObjectMeta";
    EXPECT_EQ(field.type, object_meta.at(field.path)) << field.path;
    if (field.path == "metadata.name") name = field;
    if (field.path == "metadata.namespace") has_namespace = true;
  }
  EXPECT_EQ(has_namespace, crd().scope == "Namespaced");

  ASSERT_TRUE(name.has_value());
  EXPECT_TRUE(name->required);
  const json& crd_name = root()["properties"]["metadata"]["properties"]["name"];
  EXPECT_EQ(crd_name.value("pattern", ""), name->pattern);
  EXPECT_EQ(crd_name.value("maxLength", int64_t{0}), name->max_length.value_or(0));
}

TEST_P(CrdAgreementTest, MinimalManifestAcceptedByBoth) {
  const json document = MinimalManifest(crd());
  StatusOr<std::vector<api::Object>> decoded =
      api::DecodeObjects(document.dump(), api::Format::kJson);
  EXPECT_TRUE(decoded.ok()) << document.dump() << "\n" << decoded.status().ToString();
  std::vector<std::string> problems;
  for (const SchemaProblem& problem : ValidateManifest(document, *crds_)) {
    problems.push_back(problem.ToString());
  }
  EXPECT_EQ(problems, std::vector<std::string>{}) << document.dump();
}

// Returns values to try as a valid setting of `field`, most likely first.
std::vector<json> ValidCandidates(const SchemaField& field) {
  std::vector<json> candidates;
  for (const std::string& value : field.enum_values) candidates.push_back(value);
  const json& schema = *field.schema;
  if (field.type == "string") {
    for (const std::string& sample : SampleStrings()) candidates.push_back(sample);
    for (const std::string& sample : kPatternSamples) candidates.push_back(sample);
  } else if (field.type == "integer") {
    candidates.push_back(field.minimum.value_or(1));
    candidates.push_back(1);
    if (field.maximum) candidates.push_back(*field.maximum);
  } else if (field.type == "boolean") {
    candidates = {true, false};
  } else if (field.type == "map") {
    candidates.push_back({{"team", "perf"}});
  } else if (field.type == "array") {
    candidates.push_back(MinimalValue(schema));
    candidates.push_back(json::array({MinimalValue(schema["items"])}));
  } else {
    candidates.push_back(MinimalValue(schema));
  }
  return candidates;
}

TEST_P(CrdAgreementTest, ValidValueAcceptedByBoth) {
  const auto fields = SchemaFields();
  for (const std::string& path : CommonValuePaths()) {
    bool accepted = false;
    std::string tried;
    for (const json& value : ValidCandidates(fields.at(path))) {
      const Verdict verdict = Check(With(path, value), path);
      EXPECT_TRUE(verdict.unknown_fields.empty())
          << path << " = " << value.dump() << Describe(verdict);
      if (verdict.codec.empty() && verdict.schema.empty()) {
        accepted = true;
        break;
      }
      tried += "\n" + value.dump() + ":" + Describe(verdict);
    }
    EXPECT_TRUE(accepted) << path << ": no candidate value passes both checks" << tried;
  }
}

// Returns a value of the wrong JSON type for a field of `type`.
json WrongType(const std::string& type) {
  if (type == "string") return json::array({"a"});
  if (type == "integer") return "12";
  if (type == "boolean") return "true";
  if (type == "map") return json::array({"a"});
  return "text";  // object and array
}

TEST_P(CrdAgreementTest, WrongTypeRejectedByBoth) {
  const auto fields = SchemaFields();
  for (const std::string& path : CommonValuePaths()) {
    const json value = WrongType(fields.at(path).type);
    const Verdict verdict = Check(With(path, value), path);
    EXPECT_TRUE(HasTypeError(verdict.codec)) << path << " = " << value.dump() << Describe(verdict);
    EXPECT_TRUE(HasTypeError(verdict.schema)) << path << " = " << value.dump() << Describe(verdict);
  }
}

TEST_P(CrdAgreementTest, RangeBoundsAgree) {
  const auto fields = SchemaFields();
  for (const std::string& path : CommonValuePaths()) {
    const SchemaField& field = fields.at(path);
    if (field.type != "integer") continue;
    for (std::optional<int64_t> bound : {field.minimum, field.maximum}) {
      if (!bound) continue;
      const Verdict inside = Check(With(path, *bound), path);
      EXPECT_TRUE(inside.codec.empty()) << path << " = " << *bound << Describe(inside);
      EXPECT_TRUE(inside.schema.empty()) << path << " = " << *bound << Describe(inside);
      const int64_t outside_value = bound == field.minimum ? *bound - 1 : *bound + 1;
      const Verdict outside = Check(With(path, outside_value), path);
      EXPECT_FALSE(outside.codec.empty()) << path << " = " << outside_value << Describe(outside);
      EXPECT_FALSE(outside.schema.empty()) << path << " = " << outside_value << Describe(outside);
    }
  }
}

TEST_P(CrdAgreementTest, EnumBoundsAgree) {
  const auto fields = SchemaFields();
  for (const std::string& path : CommonValuePaths()) {
    const SchemaField& field = fields.at(path);
    if (field.enum_values.empty()) continue;
    for (const std::string& value : field.enum_values) {
      const Verdict verdict = Check(With(path, value), path);
      EXPECT_TRUE(verdict.codec.empty()) << path << " = " << value << Describe(verdict);
      EXPECT_TRUE(verdict.schema.empty()) << path << " = " << value << Describe(verdict);
    }
    for (const char* value : {"NotAValue", "get", ""}) {
      const Verdict verdict = Check(With(path, value), path);
      EXPECT_FALSE(verdict.codec.empty()) << path << " = \"" << value << "\"" << Describe(verdict);
      EXPECT_FALSE(verdict.schema.empty()) << path << " = \"" << value << "\"" << Describe(verdict);
    }
  }
}

TEST_P(CrdAgreementTest, PatternsAgreeOnSamples) {
  const auto fields = SchemaFields();
  for (const std::string& path : CommonValuePaths()) {
    if (fields.at(path).pattern.empty()) continue;
    for (const std::string& sample : kPatternSamples) {
      const Verdict verdict = Check(With(path, sample), path);
      EXPECT_EQ(verdict.codec.empty(), verdict.schema.empty())
          << path << " = \"" << sample << "\"" << Describe(verdict);
    }
  }
}

TEST_P(CrdAgreementTest, OverLimitRejectedByBoth) {
  const auto fields = SchemaFields();
  for (const std::string& path : CommonValuePaths()) {
    const SchemaField& field = fields.at(path);
    json value;
    if (field.type == "string" && field.max_length) {
      value = std::string(*field.max_length + 1, 'a');
    } else if (field.type == "array" && field.max_items) {
      value = json::array();
      for (int64_t i = 0; i <= *field.max_items; ++i) {
        value.push_back(MinimalValue((*field.schema)["items"]));
      }
    } else {
      continue;
    }
    const Verdict verdict = Check(With(path, value), path);
    EXPECT_FALSE(verdict.codec.empty()) << path << Describe(verdict);
    EXPECT_FALSE(verdict.schema.empty()) << path << Describe(verdict);
  }
}

TEST_P(CrdAgreementTest, MissingRequiredRejectedByBoth) {
  const auto fields = SchemaFields();
  for (const std::string& path : CommonValuePaths()) {
    const SchemaField& field = fields.at(path);
    if (!field.required) continue;
    json document = MinimalManifest(crd());
    RemoveAt(document, root(), path);
    Verdict verdict = Check(document, path);
    EXPECT_FALSE(verdict.codec.empty()) << path << " removed" << Describe(verdict);
    EXPECT_FALSE(verdict.schema.empty()) << path << " removed" << Describe(verdict);

    // A required string must not be empty, and a required list not either.
    json empty;
    if (field.type == "string") empty = "";
    if (field.type == "array") empty = json::array();
    if (empty.is_null()) continue;
    verdict = Check(With(path, empty), path);
    EXPECT_FALSE(verdict.codec.empty()) << path << " = " << empty.dump() << Describe(verdict);
    EXPECT_FALSE(verdict.schema.empty()) << path << " = " << empty.dump() << Describe(verdict);
  }
}

INSTANTIATE_TEST_SUITE_P(Kinds, CrdAgreementTest,
                         ::testing::Values("Host", "ServiceTemplate", "ServiceDeploy"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace svcd::crdtest
