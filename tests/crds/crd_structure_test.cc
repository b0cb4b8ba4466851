// Checks that each CRD in crds/ is one a Kubernetes API server accepts: the
// names, scope and versions it needs, a structural schema, printer columns
// that point at real fields, and a description on every property.

#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "tests/crds/crd_schema.h"
#include "tests/crds/openapi_validator.h"

namespace svcd::crdtest {
namespace {

using nlohmann::json;

class CrdStructureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StatusOr<std::vector<Crd>> crds = LoadAllCrds();
    ASSERT_TRUE(crds.ok()) << crds.status().ToString();
    crds_ = std::move(*crds);
  }

  std::vector<Crd> crds_;
};

// Calls `visit(schema, path, level)` for every schema node reachable through
// properties, items and additionalProperties; level is "root", "field" or
// "item" as Kubernetes' structural checks name them.
template <class F>
void ForEachNode(const json& schema, const std::string& path, const std::string& level, F&& visit) {
  visit(schema, path, level);
  if (schema.contains("properties")) {
    for (const auto& [name, child] : schema["properties"].items()) {
      ForEachNode(child, path.empty() ? name : path + "." + name, "field", visit);
    }
  }
  if (schema.contains("items")) ForEachNode(schema["items"], path + "[]", "item", visit);
  if (schema.contains("additionalProperties") && schema["additionalProperties"].is_object()) {
    ForEachNode(schema["additionalProperties"], path + ".*", "field", visit);
  }
}

// Returns the problems Kubernetes reports for a value validation nested in
// allOf, anyOf, oneOf or not. Such a validation may not carry type,
// description, default, nullable, additionalProperties, metadata or
// x-kubernetes extensions. It may only require properties that the
// enclosing schema declares.
std::vector<std::string> NestedProblems(const json& nested, const json& outer,
                                        const std::string& where) {
  std::vector<std::string> problems;
  for (const auto& [keyword, value] : nested.items()) {
    if (keyword == "type" || keyword == "description" || keyword == "default" ||
        keyword == "nullable" || keyword == "additionalProperties" || keyword == "title" ||
        keyword.rfind("x-kubernetes-", 0) == 0) {
      problems.push_back(where + ": " + keyword + " is not allowed in a nested validation");
    }
  }
  if (nested.contains("properties") && nested["properties"].contains("metadata")) {
    problems.push_back(where + ": metadata is not allowed in a nested validation");
  }
  if (nested.contains("required")) {
    for (const json& name : nested["required"]) {
      if (!outer.contains("properties") || !outer["properties"].contains(name.get<std::string>())) {
        problems.push_back(where + ": requires undeclared property " + name.dump());
      }
    }
  }
  for (const char* combinator : {"allOf", "anyOf", "oneOf"}) {
    if (!nested.contains(combinator)) continue;
    for (const json& branch : nested[combinator]) {
      auto more = NestedProblems(branch, outer, where + "." + combinator);
      problems.insert(problems.end(), more.begin(), more.end());
    }
  }
  if (nested.contains("not")) {
    auto more = NestedProblems(nested["not"], outer, where + ".not");
    problems.insert(problems.end(), more.begin(), more.end());
  }
  return problems;
}

// Returns a printer column's JSONPath as a schema path: ".status.phase" is
// "status.phase", and a filter such as [?(@.type=="Ready")] becomes "[]".
std::string ColumnFieldPath(const std::string& json_path) {
  static const std::regex kFilter(R"(\[\?\([^\]]*\)\])");
  std::string path = std::regex_replace(json_path, kFilter, "[]");
  return path.empty() || path[0] != '.' ? path : path.substr(1);
}

TEST_F(CrdStructureTest, NamesGroupAndVersion) {
  ASSERT_EQ(crds_.size(), 3u);
  for (const Crd& crd : crds_) {
    SCOPED_TRACE(crd.file);
    EXPECT_EQ(crd.group, "svcd.io");
    EXPECT_EQ(crd.version, "v1alpha1");
    EXPECT_EQ(crd.document["metadata"]["name"], crd.plural + "." + crd.group);
    EXPECT_EQ(crd.file, SourcePath("crds/" + crd.plural + "." + crd.group + ".yaml"));
    const json& names = crd.document["spec"]["names"];
    EXPECT_EQ(names["singular"], crd.plural.substr(0, crd.plural.size() - 1));
    EXPECT_EQ(names["listKind"], crd.kind + "List");
    const json& version = crd.document["spec"]["versions"][0];
    EXPECT_EQ(version["served"], true);
    EXPECT_EQ(version["storage"], true);
  }
}

TEST_F(CrdStructureTest, ScopesAndShortNames) {
  const std::map<std::string, std::pair<std::string, std::vector<std::string>>> expected = {
      {"Host", {"Cluster", {}}},
      {"ServiceTemplate", {"Cluster", {"st"}}},
      {"ServiceDeploy", {"Namespaced", {"sd"}}},
  };
  for (const auto& [kind, scope_and_names] : expected) {
    const Crd* crd = FindCrd(crds_, kind);
    ASSERT_NE(crd, nullptr) << kind;
    EXPECT_EQ(crd->scope, scope_and_names.first) << kind;
    EXPECT_EQ(crd->short_names, scope_and_names.second) << kind;
  }
}

TEST_F(CrdStructureTest, StatusSubresourceExactlyWhenStatusSchema) {
  for (const Crd& crd : crds_) {
    const json& version = crd.document["spec"]["versions"][0];
    const bool has_subresource =
        version.contains("subresources") && version["subresources"].contains("status");
    const bool has_status = crd.Schema()["properties"].contains("status");
    EXPECT_EQ(has_subresource, has_status) << crd.file;
  }
  EXPECT_TRUE(FindCrd(crds_, "Host")->Schema()["properties"].contains("status"));
  EXPECT_TRUE(FindCrd(crds_, "ServiceDeploy")->Schema()["properties"].contains("status"));
}

TEST_F(CrdStructureTest, PrinterColumnsPointAtSchemaFields) {
  const std::map<std::string, std::string> column_type_for_schema = {
      {"string", "string"}, {"integer", "integer"}, {"boolean", "boolean"}};
  for (const Crd& crd : crds_) {
    std::map<std::string, std::string> types;
    for (const SchemaField& field : FlattenSchema(crd.Schema())) types[field.path] = field.type;
    const json& columns = crd.document["spec"]["versions"][0]["additionalPrinterColumns"];
    ASSERT_FALSE(columns.empty()) << crd.file;
    std::set<std::string> names;
    for (const json& column : columns) {
      const std::string name = column["name"].get<std::string>();
      const std::string path = ColumnFieldPath(column["jsonPath"].get<std::string>());
      SCOPED_TRACE(crd.kind + " column " + name);
      EXPECT_TRUE(names.insert(name).second) << "duplicate column name";
      if (path == "metadata.creationTimestamp") {
        EXPECT_EQ(column["type"], "date");
        continue;
      }
      ASSERT_TRUE(types.count(path)) << "no schema field " << path;
      EXPECT_EQ(column["type"], column_type_for_schema.at(types[path]));
      EXPECT_FALSE(column.value("description", "").empty());
    }
    EXPECT_TRUE(names.count("Age")) << crd.file;
  }
  std::set<std::string> deploy_columns;
  for (const json& column : FindCrd(crds_, "ServiceDeploy")
                                ->document["spec"]["versions"][0]["additionalPrinterColumns"]) {
    deploy_columns.insert(column["name"].get<std::string>());
  }
  EXPECT_TRUE(deploy_columns.count("Phase"));
  EXPECT_TRUE(deploy_columns.count("Ready"));
}

TEST_F(CrdStructureTest, EveryPropertyHasDescription) {
  for (const Crd& crd : crds_) {
    EXPECT_FALSE(crd.Schema().value("description", "").empty()) << crd.file;
    for (const SchemaField& field : FlattenSchema(crd.Schema())) {
      EXPECT_FALSE(field.description.empty()) << crd.kind << " " << field.path;
    }
    const json::json_pointer name("/properties/metadata/properties/name/description");
    EXPECT_TRUE(crd.Schema().contains(name)) << crd.file;
  }
}

TEST_F(CrdStructureTest, SchemaIsStructural) {
  for (const Crd& crd : crds_) {
    std::vector<std::string> problems;
    ForEachNode(crd.Schema(), "", "root",
                [&](const json& node, const std::string& path, const std::string& level) {
                  const std::string where = crd.kind + " " + (path.empty() ? "<root>" : path);
                  if (!node.contains("type") &&
                      !node.value("x-kubernetes-preserve-unknown-fields", false)) {
                    problems.push_back(where + ": type is missing");
                  }
                  if (node.value("type", "") == "array" && !node.contains("items")) {
                    problems.push_back(where + ": array without items");
                  }
                  if (node.contains("additionalProperties") &&
                      (level == "root" || node.contains("properties") ||
                       node["additionalProperties"].is_boolean())) {
                    problems.push_back(where +
                                       ": additionalProperties at the root, next to properties, or "
                                       "as a boolean is rejected by apiextensions.k8s.io/v1");
                  }
                  for (const char* combinator : {"allOf", "anyOf", "oneOf"}) {
                    if (!node.contains(combinator)) continue;
                    for (const json& branch : node[combinator]) {
                      auto found = NestedProblems(branch, node, where + "." + combinator);
                      problems.insert(problems.end(), found.begin(), found.end());
                    }
                  }
                  if (node.contains("not")) {
                    auto found = NestedProblems(node["not"], node, where + ".not");
                    problems.insert(problems.end(), found.begin(), found.end());
                  }
                });
    const json& metadata = crd.Schema()["properties"]["metadata"];
    EXPECT_EQ(metadata.value("type", ""), "object") << crd.file;
    const json metadata_properties = metadata.value("properties", json::object());
    for (const auto& [name, unused] : metadata_properties.items()) {
      EXPECT_TRUE(name == "name" || name == "generateName")
          << crd.file << ": metadata may only restrict name and generateName, not " << name;
    }
    EXPECT_TRUE(problems.empty()) << ::testing::PrintToString(problems);
  }
}

TEST_F(CrdStructureTest, ListMapKeysAreRequiredScalars) {
  for (const Crd& crd : crds_) {
    ForEachNode(
        crd.Schema(), "", "root",
        [&](const json& node, const std::string& path, const std::string&) {
          if (node.value("x-kubernetes-list-type", "") != "map") return;
          SCOPED_TRACE(crd.kind + " " + path);
          const json& items = node["items"];
          ASSERT_EQ(items.value("type", ""), "object");
          const auto keys = node.value("x-kubernetes-list-map-keys", std::vector<std::string>{});
          ASSERT_FALSE(keys.empty());
          const auto required = items.value("required", std::vector<std::string>{});
          for (const std::string& key : keys) {
            EXPECT_NE(std::find(required.begin(), required.end(), key), required.end()) << key;
            const json::json_pointer key_type("/properties/" + key + "/type");
            const std::string type =
                items.contains(key_type) ? items.at(key_type).get<std::string>() : "";
            EXPECT_TRUE(type == "string" || type == "integer" || type == "boolean") << key;
          }
        });
  }
}

TEST_F(CrdStructureTest, PatternsCompileWithoutLookaround) {
  // Kubernetes compiles patterns with Go's RE2 syntax, which has no
  // lookaround or back references; std::regex is what the tests use.
  static const std::regex kUnsupported(R"(\(\?[=!<]|\\[1-9])");
  for (const Crd& crd : crds_) {
    ForEachNode(crd.Schema(), "", "root",
                [&](const json& node, const std::string& path, const std::string&) {
                  auto check = [&](const std::string& pattern) {
                    SCOPED_TRACE(crd.kind + " " + path + " " + pattern);
                    EXPECT_NO_THROW(std::regex(pattern, std::regex::ECMAScript));
                    EXPECT_FALSE(std::regex_search(pattern, kUnsupported));
                    EXPECT_EQ(pattern.front(), '^');
                  };
                  if (node.contains("pattern")) {
                    // A value pattern must match the whole value, so it is anchored at both ends.
                    check(node["pattern"].get<std::string>());
                    EXPECT_EQ(node["pattern"].get<std::string>().back(), '$')
                        << crd.kind << " " << path;
                  }
                  if (node.contains("not") && node["not"].contains("pattern")) {
                    check(node["not"]["pattern"].get<std::string>());
                  }
                });
  }
}

TEST_F(CrdStructureTest, ValidatorSupportsEveryKeyword) {
  for (const Crd& crd : crds_) {
    EXPECT_EQ(UnsupportedKeywords(crd.Schema()), std::vector<std::string>{}) << crd.file;
  }
}

TEST_F(CrdStructureTest, EnumValuesMatchFieldType) {
  for (const Crd& crd : crds_) {
    for (const SchemaField& field : FlattenSchema(crd.Schema())) {
      if (!field.schema->contains("enum")) continue;
      for (const json& value : (*field.schema)["enum"]) {
        EXPECT_TRUE(ValidateValue(value, *field.schema, field.path).empty())
            << crd.kind << " " << field.path << " " << value.dump();
      }
    }
  }
}

TEST_F(CrdStructureTest, RootRequiresIdentity) {
  for (const Crd& crd : crds_) {
    const auto required = crd.Schema().value("required", std::vector<std::string>{});
    EXPECT_EQ(required, (std::vector<std::string>{"apiVersion", "kind", "metadata", "spec"}))
        << crd.file;
    EXPECT_EQ(crd.Schema()["properties"]["kind"]["enum"], json::array({crd.kind})) << crd.file;
    EXPECT_EQ(crd.Schema()["properties"]["apiVersion"]["enum"],
              json::array({crd.group + "/" + crd.version}))
        << crd.file;
  }
}

}  // namespace
}  // namespace svcd::crdtest
