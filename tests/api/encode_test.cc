// Encoding and the field schema: what EncodeYaml and EncodeJson write reads
// back to an equal object, and DescribeFields lists what the decoder takes.

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "api/codec.h"
#include "api/schema.h"
#include "tests/api/test_util.h"

namespace svcd::api {
namespace {

using testing::CausesOf;
using testing::FindCause;
using testing::Join;
using testing::ObjectsOf;
using testing::ReadTestdata;

std::vector<Object> FullObjects() {
  std::vector<Object> objects = ObjectsOf(ReadTestdata("full.yaml"));
  EXPECT_EQ(objects.size(), 3u);
  return objects;
}

// A ServiceDeploy with status set in C++, as the server writes it.
ServiceDeploy DeployWithStatus() {
  ServiceDeploy deploy;
  deploy.metadata.name = "qwen";
  deploy.metadata.namespace_ = "eval";
  deploy.metadata.uid = "0b6f";
  deploy.metadata.generation = 4;
  deploy.metadata.resource_version = "19";
  deploy.metadata.creation_timestamp = "2024-05-01T10:00:00Z";
  deploy.metadata.finalizers = {kDeployFinalizer};
  deploy.spec.template_ref = "vllm";
  deploy.spec.model_name = "qwen2-7b";
  deploy.spec.master.host = "gpu-01";
  deploy.status.observed_generation = 4;
  deploy.status.phase = "Ready";
  deploy.status.endpoint = "http://10.0.0.11:8000";
  deploy.status.conditions.push_back({"Ready", "True", "AllTargetsReady", "", "2024", 4});
  TargetStatus target;
  target.name = "master";
  target.state = "READY";
  target.pid = 4242;
  target.exit_code = -9;
  target.powerjob_instance_id = 9007199254740993;
  target.command_hash = "sha256:ab";
  deploy.status.targets.push_back(target);
  return deploy;
}

TEST(EncodeTest, YamlRoundTripIsEqual) {
  std::vector<Object> objects = FullObjects();
  objects.push_back(DeployWithStatus());
  for (const Object& object : objects) {
    std::string yaml = EncodeYaml(object);
    SCOPED_TRACE(yaml);
    std::vector<Object> decoded = ObjectsOf(yaml);
    ASSERT_EQ(decoded.size(), 1u);
    EXPECT_TRUE(decoded[0] == object);
  }
}

TEST(EncodeTest, JsonRoundTripIsEqual) {
  std::vector<Object> objects = FullObjects();
  objects.push_back(DeployWithStatus());
  for (const Object& object : objects) {
    std::string json = EncodeJson(object).dump();
    SCOPED_TRACE(json);
    std::vector<Object> decoded = ObjectsOf(json, Format::kJson);
    ASSERT_EQ(decoded.size(), 1u);
    EXPECT_TRUE(decoded[0] == object);
  }
}

TEST(EncodeTest, TrickyStringsSurviveYaml) {
  ServiceDeploy deploy = DeployWithStatus();
  std::vector<std::string> values = {
      "",     " lead",  "trail ", "null", "~",  "True", "no",
      "0700", "1e3",    "-",      "- x",  "#x", "a #b", "a: b",
      ":",    "?",      "'",      "\"",   "\\", "\t",   "a\nb\n",
      "\r",   "ü 漢字", "{x}",    "[x]",  "*a", "&a",   "!a",
      "%a",   "@a",     "`a",     "|",    ">",  ",",    "$(SVCD_MASTER_ADDR)",
      "$$",   "\x7f",   "---",    "..."};
  for (size_t i = 0; i < values.size(); ++i) {
    deploy.spec.envs.push_back({"V" + std::to_string(i), values[i]});
  }
  deploy.metadata.annotations = {{"note", "a: b"}, {"empty", ""}, {"svcd.io/x", "true"}};
  Object object = deploy;
  std::string yaml = EncodeYaml(object);
  std::vector<Object> decoded = ObjectsOf(yaml);
  ASSERT_EQ(decoded.size(), 1u) << yaml;
  const ServiceDeploy& back = std::get<ServiceDeploy>(decoded[0]);
  ASSERT_EQ(back.spec.envs.size(), values.size()) << yaml;
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(back.spec.envs[i].value, values[i]) << "index " << i << "\n" << yaml;
  }
  EXPECT_EQ(back.metadata.annotations, deploy.metadata.annotations);
}

TEST(EncodeTest, WritesKindAndLeavesOutDefaults) {
  ServiceDeploy deploy;
  deploy.metadata.name = "qwen";
  deploy.spec.template_ref = "vllm";
  deploy.spec.model_name = "m";
  deploy.spec.master.host = "gpu-01";
  nlohmann::json json = EncodeJson(deploy);
  EXPECT_EQ(json["apiVersion"], "svcd.io/v1alpha1");
  EXPECT_EQ(json["kind"], "ServiceDeploy");
  EXPECT_EQ(json["spec"]["master"]["host"], "gpu-01");
  EXPECT_EQ(json["spec"]["workerStaggerSeconds"], 5);
  EXPECT_EQ(json["spec"]["suspend"], false);
  EXPECT_FALSE(json.contains("status")) << json.dump();
  EXPECT_FALSE(json["spec"].contains("restartPolicy")) << json.dump();
  EXPECT_FALSE(json["spec"].contains("probe")) << json.dump();
  EXPECT_FALSE(json["metadata"].contains("uid")) << json.dump();

  Host host;
  host.metadata.name = "gpu-01";
  host.spec.address = "10.0.0.1";
  EXPECT_FALSE(EncodeJson(host).contains("status"));
  ServiceTemplate tmpl;
  EXPECT_EQ(EncodeJson(tmpl)["kind"], "ServiceTemplate");
}

TEST(EncodeTest, KindOfAndMetaOf) {
  std::vector<Object> objects = FullObjects();
  ASSERT_EQ(objects.size(), 3u);
  EXPECT_EQ(KindOf(objects[0]), "Host");
  EXPECT_EQ(KindOf(objects[1]), "ServiceTemplate");
  EXPECT_EQ(KindOf(objects[2]), "ServiceDeploy");
  EXPECT_EQ(MetaOf(objects[2]).namespace_, "eval");
  MetaOf(objects[0]).labels["new"] = "x";
  EXPECT_EQ(std::get<Host>(objects[0]).metadata.labels.at("new"), "x");
}

const FieldInfo* FindField(const std::vector<FieldInfo>& fields, const std::string& path) {
  for (const FieldInfo& field : fields) {
    if (field.path == path) return &field;
  }
  return nullptr;
}

TEST(SchemaTest, DescribesFieldsWithTypesAndRules) {
  std::vector<FieldInfo> fields = DescribeFields("ServiceDeploy");
  const FieldInfo* flag = FindField(fields, "spec.master.args[].flag");
  ASSERT_NE(flag, nullptr);
  EXPECT_EQ(flag->type, "boolean");
  EXPECT_FALSE(flag->required);

  const FieldInfo* arg_name = FindField(fields, "spec.workers[].args[].name");
  ASSERT_NE(arg_name, nullptr);
  EXPECT_EQ(arg_name->pattern, "^-{0,2}[A-Za-z0-9][A-Za-z0-9._-]*$");

  const FieldInfo* port = FindField(fields, "spec.probe.http.port");
  ASSERT_NE(port, nullptr);
  EXPECT_EQ(port->type, "integer");
  EXPECT_TRUE(port->required);
  EXPECT_EQ(port->minimum, 1);
  EXPECT_EQ(port->maximum, 65535);

  const FieldInfo* policy = FindField(fields, "spec.startupPolicy");
  ASSERT_NE(policy, nullptr);
  EXPECT_EQ(policy->enum_values,
            (std::vector<std::string>{"MasterStarted", "MasterReady", "Parallel"}));

  const FieldInfo* workers = FindField(fields, "spec.workers");
  ASSERT_NE(workers, nullptr);
  EXPECT_EQ(workers->type, "array");
  EXPECT_EQ(workers->max_items, 256);

  const FieldInfo* finalizers = FindField(fields, "metadata.finalizers");
  ASSERT_NE(finalizers, nullptr);
  EXPECT_FALSE(finalizers->max_length.has_value());
  EXPECT_EQ(finalizers->max_items, 32);
  const FieldInfo* finalizer = FindField(fields, "metadata.finalizers[]");
  ASSERT_NE(finalizer, nullptr);
  EXPECT_EQ(finalizer->type, "string");
  EXPECT_EQ(finalizer->max_length, 253);

  const FieldInfo* labels = FindField(fields, "metadata.labels");
  ASSERT_NE(labels, nullptr);
  EXPECT_EQ(labels->type, "map");

  const FieldInfo* kind = FindField(fields, "kind");
  ASSERT_NE(kind, nullptr);
  EXPECT_TRUE(kind->required);
  EXPECT_EQ(kind->enum_values, std::vector<std::string>{"ServiceDeploy"});

  for (const char* path : {"metadata.name", "spec.templateRef", "spec.modelName", "spec.master",
                           "spec.master.host", "spec.workers[].host", "spec.envs[].name"}) {
    const FieldInfo* field = FindField(fields, path);
    ASSERT_NE(field, nullptr) << path;
    EXPECT_TRUE(field->required) << path;
  }
  EXPECT_NE(FindField(fields, "metadata.namespace"), nullptr);
  EXPECT_EQ(FindField(fields, "spec.probe.exec"), nullptr);
  EXPECT_NE(FindField(fields, "status.targets[].pid"), nullptr);
}

TEST(SchemaTest, KindSpecificFields) {
  std::vector<FieldInfo> host = DescribeFields("Host");
  EXPECT_EQ(FindField(host, "metadata.namespace"), nullptr);
  EXPECT_NE(FindField(host, "spec.powerjob.workerAddress"), nullptr);
  EXPECT_NE(FindField(host, "status.dispatchReady"), nullptr);
  std::vector<FieldInfo> tmpl = DescribeFields("ServiceTemplate");
  EXPECT_NE(FindField(tmpl, "spec.probe.exec.command[]"), nullptr);
  EXPECT_EQ(FindField(tmpl, "status"), nullptr);
  EXPECT_TRUE(DescribeFields("Deployment").empty());
}

TEST(SchemaTest, PathsAreUniqueAndParentsComeFirst) {
  for (const char* kind : {"Host", "ServiceTemplate", "ServiceDeploy"}) {
    std::set<std::string> seen;
    for (const FieldInfo& field : DescribeFields(kind)) {
      EXPECT_TRUE(seen.insert(field.path).second) << kind << " " << field.path;
      size_t dot = field.path.rfind('.');
      if (dot == std::string::npos) continue;
      std::string parent = field.path.substr(0, dot);
      if (parent.size() > 2 && parent.substr(parent.size() - 2) == "[]") {
        parent.resize(parent.size() - 2);
      }
      EXPECT_EQ(seen.count(parent), 1u) << kind << " " << field.path;
    }
  }
}

// Sets the value at a schema path such as "spec.workers[].args[].flag" in
// `doc`, creating one-item lists for each "[]".
void SetAtPath(nlohmann::json& doc, std::string_view path, const nlohmann::json& value) {
  nlohmann::json* at = &doc;
  while (!path.empty()) {
    size_t dot = path.find('.');
    std::string_view segment = path.substr(0, dot);
    path = dot == std::string_view::npos ? "" : path.substr(dot + 1);
    bool list = segment.size() > 2 && segment.substr(segment.size() - 2) == "[]";
    if (list) segment.remove_suffix(2);
    at = &(*at)[std::string(segment)];
    if (list) {
      if (!at->is_array() || at->empty()) *at = nlohmann::json::array({nlohmann::json::object()});
      at = &(*at)[0];
    }
  }
  *at = value;
}

// Checks that the decoder really reads every field the schema lists: a
// wrong-typed value at each path must be reported at that path.
TEST(SchemaTest, DecoderChecksEveryDescribedField) {
  std::vector<Object> objects = FullObjects();
  ASSERT_EQ(objects.size(), 3u);
  for (const Object& object : objects) {
    std::string kind = KindOf(object);
    for (const FieldInfo& field : DescribeFields(kind)) {
      if (field.path == "kind") continue;
      if (field.path.size() > 2 && field.path.substr(field.path.size() - 2) == "[]") continue;
      nlohmann::json doc = EncodeJson(object);
      nlohmann::json wrong =
          field.type == "string" || field.type == "integer" || field.type == "boolean"
              ? nlohmann::json::array({1})
              : nlohmann::json("text");
      SetAtPath(doc, field.path, wrong);
      std::string expected_path = field.path;
      for (size_t at; (at = expected_path.find("[]")) != std::string::npos;) {
        expected_path.replace(at, 2, "[0]");
      }
      SCOPED_TRACE(kind + " " + field.path);
      std::vector<Cause> causes = CausesOf(doc.dump(), Format::kJson);
      const Cause* cause = FindCause(causes, expected_path);
      EXPECT_NE(cause, nullptr) << Join(causes);
    }
  }
}

}  // namespace
}  // namespace svcd::api
