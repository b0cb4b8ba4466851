#include "tests/crds/openapi_validator.h"

#include <algorithm>
#include <map>
#include <regex>
#include <set>

namespace svcd::crdtest {
namespace {

using nlohmann::json;
using Problems = std::vector<SchemaProblem>;

std::string Child(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

std::string Index(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

// Returns the OpenAPI type name of a JSON value.
std::string TypeOf(const json& value) {
  if (value.is_null()) return "null";
  if (value.is_boolean()) return "boolean";
  if (value.is_number_integer()) return "integer";
  if (value.is_number()) return "number";
  if (value.is_string()) return "string";
  if (value.is_array()) return "array";
  return "object";
}

bool TypeMatches(const std::string& type, const json& value) {
  if (type == "number") return value.is_number();
  return TypeOf(value) == type;
}

size_t CodePoints(const std::string& text) {
  // Counts every byte that does not continue a UTF-8 sequence.
  return std::count_if(text.begin(), text.end(),
                       [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; });
}

void CheckString(const json& value, const json& schema, const std::string& path, Problems& out) {
  const std::string text = value.get<std::string>();
  if (schema.contains("pattern")) {
    const std::string pattern = schema["pattern"].get<std::string>();
    const std::regex regex(pattern, std::regex::ECMAScript);
    if (!std::regex_search(text, regex)) {
      out.push_back({path, "invalid value \"" + text + "\": must match " + pattern});
    }
  }
  if (schema.contains("minLength") && CodePoints(text) < schema["minLength"].get<size_t>()) {
    out.push_back({path, "must be at least " + schema["minLength"].dump() + " characters long"});
  }
  if (schema.contains("maxLength") && CodePoints(text) > schema["maxLength"].get<size_t>()) {
    out.push_back({path, "must be at most " + schema["maxLength"].dump() + " characters long"});
  }
}

void CheckNumber(const json& value, const json& schema, const std::string& path, Problems& out) {
  const double number = value.get<double>();
  if (schema.contains("minimum") && number < schema["minimum"].get<double>()) {
    out.push_back({path, "invalid value " + value.dump() + ": must be greater than or equal to " +
                             schema["minimum"].dump()});
  }
  if (schema.contains("maximum") && number > schema["maximum"].get<double>()) {
    out.push_back({path, "invalid value " + value.dump() + ": must be less than or equal to " +
                             schema["maximum"].dump()});
  }
}

// Checks x-kubernetes-list-type: items of a "set" are unique, and items of
// a "map" are unique by their x-kubernetes-list-map-keys.
void CheckListType(const json& value, const json& schema, const std::string& path, Problems& out) {
  const std::string list_type = schema.value("x-kubernetes-list-type", "atomic");
  if (list_type == "set") {
    for (size_t i = 0; i < value.size(); ++i) {
      for (size_t j = 0; j < i; ++j) {
        if (value[i] == value[j])
          out.push_back({Index(path, i), "duplicate value " + value[i].dump()});
      }
    }
  }
  if (list_type != "map") return;
  const auto keys = schema.value("x-kubernetes-list-map-keys", std::vector<std::string>{});
  std::set<std::string> seen;
  for (size_t i = 0; i < value.size(); ++i) {
    if (!value[i].is_object()) continue;
    json key = json::array();
    for (const std::string& name : keys) key.push_back(value[i].value(name, json()));
    if (seen.insert(key.dump()).second) continue;
    const std::string where = keys.size() == 1 ? Child(Index(path, i), keys[0]) : Index(path, i);
    const std::string duplicate_key = keys.size() == 1 ? key[0].dump() : key.dump();
    out.push_back(
        {where, "duplicate value " + duplicate_key + ": keys of this list must be unique"});
  }
}

void CheckArray(const json& value, const json& schema, const std::string& path, Problems& out) {
  if (schema.contains("minItems") && value.size() < schema["minItems"].get<size_t>()) {
    out.push_back({path, "must have at least " + schema["minItems"].dump() + " items"});
  }
  if (schema.contains("maxItems") && value.size() > schema["maxItems"].get<size_t>()) {
    out.push_back({path, "must have at most " + schema["maxItems"].dump() + " items, has " +
                             std::to_string(value.size())});
  }
  if (schema.contains("items")) {
    for (size_t i = 0; i < value.size(); ++i) {
      Problems item = ValidateValue(value[i], schema["items"], Index(path, i));
      out.insert(out.end(), item.begin(), item.end());
    }
  }
  CheckListType(value, schema, path, out);
}

void CheckObject(const json& value, const json& schema, const std::string& path, Problems& out) {
  const json empty = json::object();
  const json& properties = schema.contains("properties") ? schema["properties"] : empty;
  const bool preserve = schema.value("x-kubernetes-preserve-unknown-fields", false);
  const json* additional =
      schema.contains("additionalProperties") ? &schema["additionalProperties"] : nullptr;
  const bool closed =
      (additional != nullptr && additional->is_boolean() && !additional->get<bool>()) ||
      (additional == nullptr && schema.contains("properties") && !preserve);

  for (const auto& [key, child] : value.items()) {
    if (child.is_null()) continue;
    const std::string child_path = Child(path, key);
    Problems found;
    if (properties.contains(key)) {
      found = ValidateValue(child, properties[key], child_path);
    } else if (additional != nullptr && additional->is_object()) {
      found = ValidateValue(child, *additional, child_path);
    } else if (closed) {
      found.push_back({child_path, "unknown field \"" + key + "\""});
    }
    out.insert(out.end(), found.begin(), found.end());
  }
  if (schema.contains("required")) {
    for (const json& name : schema["required"]) {
      const std::string key = name.get<std::string>();
      if (!value.contains(key) || value[key].is_null())
        out.push_back({Child(path, key), "required value"});
    }
  }
}

// Checks allOf, anyOf, oneOf and not. A branch's problems are reported only
// for allOf; the others report which branches matched.
void CheckCombinators(const json& value, const json& schema, const std::string& path,
                      Problems& out) {
  if (schema.contains("allOf")) {
    for (const json& branch : schema["allOf"]) {
      Problems found = ValidateValue(value, branch, path);
      out.insert(out.end(), found.begin(), found.end());
    }
  }
  auto matches = [&](const json& branch) { return ValidateValue(value, branch, path).empty(); };
  if (schema.contains("anyOf") &&
      std::none_of(schema["anyOf"].begin(), schema["anyOf"].end(), matches)) {
    out.push_back({path, "must match at least one of " + schema["anyOf"].dump()});
  }
  if (schema.contains("oneOf")) {
    const auto count = std::count_if(schema["oneOf"].begin(), schema["oneOf"].end(), matches);
    if (count != 1) {
      out.push_back({path, "must match exactly one of " + schema["oneOf"].dump() + ", matches " +
                               std::to_string(count)});
    }
  }
  if (schema.contains("not") && matches(schema["not"])) {
    out.push_back({path, "must not match " + schema["not"].dump()});
  }
}

const std::set<std::string>& KnownKeywords() {
  static const std::set<std::string> kKnown = {"type",
                                               "properties",
                                               "required",
                                               "additionalProperties",
                                               "items",
                                               "enum",
                                               "pattern",
                                               "minLength",
                                               "maxLength",
                                               "minimum",
                                               "maximum",
                                               "minItems",
                                               "maxItems",
                                               "oneOf",
                                               "anyOf",
                                               "allOf",
                                               "not",
                                               "x-kubernetes-list-type",
                                               "x-kubernetes-list-map-keys",
                                               "x-kubernetes-preserve-unknown-fields",
                                               "description",
                                               "format"};
  return kKnown;
}

// Keys of Kubernetes' ObjectMeta that a manifest may carry, with the JSON
// type of each.
const std::map<std::string, std::string>& ObjectMetaTypes() {
  static const std::map<std::string, std::string> kTypes = {
      {"name", "string"},
      {"generateName", "string"},
      {"namespace", "string"},
      {"uid", "string"},
      {"resourceVersion", "string"},
      {"generation", "integer"},
      {"creationTimestamp", "string"},
      {"deletionTimestamp", "string"},
      {"deletionGracePeriodSeconds", "integer"},
      {"labels", "object"},
      {"annotations", "object"},
      {"finalizers", "array"},
      {"ownerReferences", "array"},
      {"managedFields", "array"},
      {"selfLink", "string"}};
  return kTypes;
}

void CheckObjectMeta(const json& metadata, const Crd& crd, Problems& out) {
  if (!metadata.is_object()) {
    out.push_back({"metadata", "expected object, got " + TypeOf(metadata)});
    return;
  }
  for (const auto& [key, value] : metadata.items()) {
    const auto known = ObjectMetaTypes().find(key);
    if (known == ObjectMetaTypes().end()) {
      out.push_back({"metadata." + key, "unknown field \"" + key + "\""});
    } else if (!value.is_null() && !TypeMatches(known->second, value)) {
      out.push_back({"metadata." + key, "expected " + known->second + ", got " + TypeOf(value)});
    }
  }
  for (const char* map_key : {"labels", "annotations"}) {
    if (!metadata.contains(map_key) || !metadata[map_key].is_object()) continue;
    for (const auto& [key, value] : metadata[map_key].items()) {
      if (!value.is_string()) {
        out.push_back({std::string("metadata.") + map_key + "." + key,
                       "expected string, got " + TypeOf(value)});
      }
    }
  }
  if (!metadata.contains("name") && !metadata.contains("generateName")) {
    out.push_back({"metadata.name", "required value"});
  }
  const json::json_pointer name_schema("/properties/metadata/properties/name");
  if (metadata.contains("name") && metadata["name"].is_string() &&
      crd.Schema().contains(name_schema)) {
    Problems found = ValidateValue(metadata["name"], crd.Schema().at(name_schema), "metadata.name");
    out.insert(out.end(), found.begin(), found.end());
  }
}

// Finds the CRD that serves the document's apiVersion and kind, or reports
// why none does.
const Crd* SelectCrd(const json& document, const std::vector<Crd>& crds, Problems& out) {
  const std::string api_version = document.value("apiVersion", json()).is_string()
                                      ? document["apiVersion"].get<std::string>()
                                      : "";
  const std::string kind =
      document.value("kind", json()).is_string() ? document["kind"].get<std::string>() : "";
  const size_t slash = api_version.find('/');
  const std::string group = slash == std::string::npos ? "" : api_version.substr(0, slash);
  const std::string version = slash == std::string::npos ? "" : api_version.substr(slash + 1);

  std::string kinds;
  for (const Crd& crd : crds) {
    if (crd.group != group) continue;
    kinds += (kinds.empty() ? "" : ", ") + crd.kind;
    if (crd.kind == kind && crd.version == version) return &crd;
    if (crd.kind == kind) {
      out.push_back({"apiVersion", "version \"" + version + "\" of " + kind +
                                       " is not served; use " + crd.group + "/" + crd.version});
      return nullptr;
    }
  }
  if (kinds.empty()) {
    out.push_back({"apiVersion", "no custom resources in API group \"" + group + "\""});
  } else {
    out.push_back(
        {"kind", "no kind \"" + kind + "\" in " + api_version + "; valid kinds: " + kinds});
  }
  return nullptr;
}

}  // namespace

Problems ValidateValue(const json& value, const json& schema, const std::string& path) {
  Problems out;
  if (schema.contains("type")) {
    const std::string type = schema["type"].get<std::string>();
    if (!TypeMatches(type, value)) {
      out.push_back({path, "expected " + type + ", got " + TypeOf(value)});
      return out;
    }
  }
  if (schema.contains("enum")) {
    const json& values = schema["enum"];
    if (std::find(values.begin(), values.end(), value) == values.end()) {
      out.push_back(
          {path, "unsupported value " + value.dump() + ": supported values: " + values.dump()});
    }
  }
  if (value.is_string()) CheckString(value, schema, path, out);
  if (value.is_number()) CheckNumber(value, schema, path, out);
  if (value.is_array()) CheckArray(value, schema, path, out);
  if (value.is_object()) CheckObject(value, schema, path, out);
  CheckCombinators(value, schema, path, out);
  return out;
}

Problems ValidateManifest(const json& document, const std::vector<Crd>& crds) {
  Problems out;
  if (!document.is_object()) {
    out.push_back({"", "a manifest document must be a mapping, got " + TypeOf(document)});
    return out;
  }
  const Crd* crd = SelectCrd(document, crds, out);
  if (crd == nullptr) return out;

  if (document.contains("metadata") && !document["metadata"].is_null()) {
    CheckObjectMeta(document["metadata"], *crd, out);
  } else {
    out.push_back({"metadata.name", "required value"});
  }
  // metadata was checked above; the schema only needs to see that it is there.
  json rest = document;
  if (rest.contains("metadata") && !rest["metadata"].is_null()) rest["metadata"] = json::object();
  Problems found = ValidateValue(rest, crd->Schema(), "");
  out.insert(out.end(), found.begin(), found.end());
  return out;
}

std::vector<std::string> UnsupportedKeywords(const json& schema, const std::string& path) {
  std::vector<std::string> out;
  if (!schema.is_object()) return out;
  auto descend = [&](const json& child, const std::string& child_path) {
    std::vector<std::string> found = UnsupportedKeywords(child, child_path);
    out.insert(out.end(), found.begin(), found.end());
  };
  for (const auto& [keyword, value] : schema.items()) {
    if (!KnownKeywords().count(keyword)) out.push_back(path + ": " + keyword);
  }
  if (schema.contains("properties")) {
    for (const auto& [name, child] : schema["properties"].items()) {
      descend(child, Child(path, name));
    }
  }
  if (schema.contains("items")) descend(schema["items"], path + "[]");
  if (schema.contains("additionalProperties")) {
    descend(schema["additionalProperties"], path + ".*");
  }
  for (const char* combinator : {"allOf", "anyOf", "oneOf"}) {
    if (!schema.contains(combinator)) continue;
    for (size_t i = 0; i < schema[combinator].size(); ++i) {
      descend(schema[combinator][i], path + "." + combinator + Index("", i));
    }
  }
  if (schema.contains("not")) descend(schema["not"], path + ".not");
  return out;
}

}  // namespace svcd::crdtest
