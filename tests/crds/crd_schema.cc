#include "tests/crds/crd_schema.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "tests/crds/yaml11_loader.h"

namespace svcd::crdtest {
namespace {

using nlohmann::json;

std::string StringAt(const json& value, const json::json_pointer& pointer) {
  if (!value.contains(pointer) || !value.at(pointer).is_string()) return "";
  return value.at(pointer).get<std::string>();
}

void AddFields(const json& schema, const std::string& path, bool required,
               std::vector<SchemaField>& out);

// Adds the properties of an object schema. At the root (empty prefix) it
// skips metadata, whose schema Kubernetes fixes.
void AddProperties(const json& schema, const std::string& prefix, std::vector<SchemaField>& out) {
  if (!schema.contains("properties")) return;
  std::vector<std::string> required;
  if (schema.contains("required")) required = schema["required"].get<std::vector<std::string>>();
  for (const auto& [name, property] : schema["properties"].items()) {
    if (prefix.empty() && name == "metadata") continue;
    bool is_required = std::find(required.begin(), required.end(), name) != required.end();
    AddFields(property, prefix.empty() ? name : prefix + "." + name, is_required, out);
  }
}

void AddFields(const json& schema, const std::string& path, bool required,
               std::vector<SchemaField>& out) {
  SchemaField field;
  field.path = path;
  field.type = SchemaType(schema);
  field.required = required;
  field.schema = &schema;
  if (schema.contains("enum")) {
    for (const json& value : schema["enum"]) {
      field.enum_values.push_back(value.is_string() ? value.get<std::string>() : value.dump());
    }
  }
  if (schema.contains("minimum")) field.minimum = schema["minimum"].get<int64_t>();
  if (schema.contains("maximum")) field.maximum = schema["maximum"].get<int64_t>();
  field.pattern = schema.value("pattern", "");
  const json& limits =
      field.type == "map" ? schema["additionalProperties"] : schema;  // a map limits its values
  if (limits.contains("maxLength")) field.max_length = limits["maxLength"].get<int64_t>();
  if (schema.contains("maxItems")) field.max_items = schema["maxItems"].get<int64_t>();
  field.description = schema.value("description", "");
  const std::string type = field.type;
  out.push_back(std::move(field));

  if (type == "object") {
    AddProperties(schema, path, out);
  } else if (type == "array" && schema.contains("items")) {
    const json& items = schema["items"];
    if (SchemaType(items) == "object") {
      AddProperties(items, path + "[]", out);
    } else {
      AddFields(items, path + "[]", false, out);
    }
  }
}

}  // namespace

std::string SourcePath(std::string_view relative) {
  return std::string(SVCD_SOURCE_DIR) + "/" + std::string(relative);
}

StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot read " + path);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

const json& Crd::Schema() const {
  return document.at(json::json_pointer("/spec/versions/0/schema/openAPIV3Schema"));
}

StatusOr<Crd> LoadCrd(const std::string& path) {
  StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  StatusOr<std::vector<json>> documents = LoadYamlDocuments(*text);
  if (!documents.ok()) {
    return Status::InvalidArgument(path + ": " + documents.status().ToString());
  }
  if (documents->size() != 1) {
    return Status::InvalidArgument(path + ": expected exactly one YAML document");
  }

  Crd crd;
  crd.file = path;
  crd.document = std::move(documents->front());
  const json& doc = crd.document;
  if (StringAt(doc, json::json_pointer("/apiVersion")) != "apiextensions.k8s.io/v1" ||
      StringAt(doc, json::json_pointer("/kind")) != "CustomResourceDefinition") {
    return Status::InvalidArgument(path + ": not an apiextensions.k8s.io/v1 CRD");
  }
  const json::json_pointer versions("/spec/versions");
  if (!doc.contains(versions) || !doc.at(versions).is_array() || doc.at(versions).size() != 1 ||
      !doc.contains(json::json_pointer("/spec/versions/0/schema/openAPIV3Schema"))) {
    return Status::InvalidArgument(path + ": expected exactly one version with a schema");
  }
  crd.group = StringAt(doc, json::json_pointer("/spec/group"));
  crd.kind = StringAt(doc, json::json_pointer("/spec/names/kind"));
  crd.plural = StringAt(doc, json::json_pointer("/spec/names/plural"));
  crd.scope = StringAt(doc, json::json_pointer("/spec/scope"));
  crd.version = StringAt(doc, json::json_pointer("/spec/versions/0/name"));
  const json::json_pointer short_names("/spec/names/shortNames");
  if (doc.contains(short_names)) {
    crd.short_names = doc.at(short_names).get<std::vector<std::string>>();
  }
  return crd;
}

StatusOr<std::vector<Crd>> LoadAllCrds() {
  std::vector<Crd> crds;
  for (const KindFile& entry : kCrdFiles) {
    StatusOr<Crd> crd = LoadCrd(SourcePath(entry.file));
    if (!crd.ok()) return crd.status();
    crds.push_back(std::move(*crd));
  }
  return crds;
}

const Crd* FindCrd(const std::vector<Crd>& crds, std::string_view kind) {
  for (const Crd& crd : crds) {
    if (crd.kind == kind) return &crd;
  }
  return nullptr;
}

std::string SchemaType(const json& schema) {
  std::string type = schema.value("type", "");
  if (type == "object" && !schema.contains("properties") &&
      schema.contains("additionalProperties") && schema["additionalProperties"].is_object() &&
      schema["additionalProperties"].value("type", "") == "string") {
    return "map";
  }
  return type;
}

std::vector<SchemaField> FlattenSchema(const json& root) {
  std::vector<SchemaField> fields;
  AddProperties(root, "", fields);
  std::sort(fields.begin(), fields.end(),
            [](const SchemaField& a, const SchemaField& b) { return a.path < b.path; });
  return fields;
}

}  // namespace svcd::crdtest
