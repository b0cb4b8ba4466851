#include "tests/crds/schema_documents.h"

#include <algorithm>

#include "tests/crds/openapi_validator.h"

namespace svcd::crdtest {
namespace {

using nlohmann::json;

struct Segment {
  std::string name;
  bool is_array = false;  // the segment was written "name[]"
};

std::vector<Segment> SplitPath(std::string_view path) {
  std::vector<Segment> segments;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('.', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(start, end - start);
    Segment segment;
    if (part.size() >= 2 && part.substr(part.size() - 2) == "[]") {
      segment.is_array = true;
      part.remove_suffix(2);
    }
    segment.name = std::string(part);
    segments.push_back(std::move(segment));
    start = end + 1;
  }
  return segments;
}

// Returns the object that contains the last segment of `segments`, creating
// missing parents; `schema` ends at the schema of that object.
json& Parent(json& document, const json& root, const std::vector<Segment>& segments,
             const json*& schema) {
  json* node = &document;
  schema = &root;
  for (size_t i = 0; i + 1 < segments.size(); ++i) {
    const Segment& segment = segments[i];
    schema = &schema->at("properties").at(segment.name);
    json& child = (*node)[segment.name];
    if (!segment.is_array) {
      if (!child.is_object()) child = MinimalValue(*schema);
      node = &child;
      continue;
    }
    schema = &schema->at("items");
    if (!child.is_array()) child = json::array();
    if (child.empty()) child.push_back(MinimalValue(*schema));
    node = &child[0];
  }
  return *node;
}

}  // namespace

const std::vector<std::string>& SampleStrings() {
  static const std::vector<std::string> kSamples = {"gpu-01",      "10.0.0.12", "10.0.0.12:27777",
                                                    "VLLM_USE_V1", "/health",   "Content-Type",
                                                    "model",       "x"};
  return kSamples;
}

json MinimalValue(const json& schema) {
  if (schema.contains("enum")) return schema["enum"][0];
  const std::string type = SchemaType(schema);
  if (type == "object") {
    json value = json::object();
    std::vector<std::string> required = schema.value("required", std::vector<std::string>{});
    if (schema.contains("oneOf")) {
      auto first = schema["oneOf"][0].value("required", std::vector<std::string>{});
      required.insert(required.end(), first.begin(), first.end());
    }
    for (const std::string& name : required) {
      value[name] = MinimalValue(schema.at("properties").at(name));
    }
    return value;
  }
  if (type == "map") return json::object();
  if (type == "array") {
    json value = json::array();
    for (int64_t i = 0; i < schema.value("minItems", int64_t{0}); ++i) {
      value.push_back(MinimalValue(schema.at("items")));
    }
    return value;
  }
  if (type == "integer") {
    int64_t value = schema.value("minimum", int64_t{1});
    if (schema.contains("maximum")) value = std::min(value, schema["maximum"].get<int64_t>());
    return value;
  }
  if (type == "boolean") return true;
  for (const std::string& sample : SampleStrings()) {
    if (ValidateValue(sample, schema).empty()) return sample;
  }
  return nullptr;
}

json MinimalManifest(const Crd& crd) {
  json manifest = MinimalValue(crd.Schema());
  manifest["metadata"] = {{"name", "gpu-01"}};
  if (crd.scope == "Namespaced") manifest["metadata"]["namespace"] = "eval";
  return manifest;
}

const json* SchemaAt(const json& root, std::string_view path) {
  const json* schema = &root;
  for (const Segment& segment : SplitPath(path)) {
    const json::json_pointer property("/properties/" + segment.name);
    if (!schema->contains(property)) return nullptr;
    schema = &schema->at(property);
    if (segment.is_array) {
      if (!schema->contains("items")) return nullptr;
      schema = &schema->at("items");
    }
  }
  return schema;
}

std::string FirstElementPath(std::string_view path) {
  std::string out;
  for (size_t i = 0; i < path.size(); ++i) {
    if (path.substr(i, 2) == "[]") {
      out += "[0]";
      ++i;
    } else {
      out += path[i];
    }
  }
  return out;
}

void SetAt(json& document, const json& root, std::string_view path, json value) {
  const std::vector<Segment> segments = SplitPath(path);
  const json* schema = nullptr;
  json& parent = Parent(document, root, segments, schema);
  const Segment& last = segments.back();
  if (!last.is_array) {
    parent[last.name] = std::move(value);
    return;
  }
  json& list = parent[last.name];
  if (!list.is_array() || list.empty()) list = json::array({nullptr});
  list[0] = std::move(value);
}

void RemoveAt(json& document, const json& root, std::string_view path) {
  const std::vector<Segment> segments = SplitPath(path);
  const json* schema = nullptr;
  json& parent = Parent(document, root, segments, schema);
  parent.erase(segments.back().name);
}

}  // namespace svcd::crdtest
