#include "api/codec.h"

#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "api/decoder.h"
#include "api/document.h"
#include "api/encoder.h"
#include "api/fields.h"

namespace svcd::api {
namespace {

// One object to decode: a document, or one item of a JSON array or List.
struct Unit {
  std::string label;           // "doc 2", "item 3", "doc 2 item 3"
  const Node* root = nullptr;  // a map, or nullptr when the shape is wrong
  std::vector<Cause> causes;
  std::optional<Object> object;
};

const MapEntry* FindEntry(const Node& map, std::string_view key) {
  for (const MapEntry& entry : map.entries) {
    if (entry.key == key) return &entry;
  }
  return nullptr;
}

bool IsList(const Node& root) {
  const MapEntry* kind = FindEntry(root, "kind");
  return kind != nullptr && kind->value.type == Node::Type::kScalar && kind->value.text == "List";
}

Cause NotAnObject(std::string_view label, const Node& node) {
  std::string what = NodeTypeName(node);
  std::string where = node.line > 0 ? " (line " + std::to_string(node.line) + ")" : "";
  return CauseAt("",
                 std::string(label) + where + " is a " + what +
                     ", not an object; each document must be one object with apiVersion, kind, "
                     "metadata and spec",
                 node.line, node.column);
}

// Adds one unit per item of a List document.
void ExpandList(const Node& root, const std::string& label, bool only_document,
                std::vector<Unit>& units) {
  Unit list{label, nullptr, {}, std::nullopt};
  for (const MapEntry& entry : root.entries) {
    if (entry.key == "apiVersion" || entry.key == "kind" || entry.key == "items" ||
        entry.key == "metadata") {
      continue;
    }
    list.causes.push_back(CauseAt(entry.key,
                                  "unknown field " + QuoteForMessage(entry.key) +
                                      " in a List; a List holds only apiVersion, kind and items",
                                  entry.line, entry.column));
  }
  const MapEntry* items = FindEntry(root, "items");
  if (items == nullptr || items->value.type != Node::Type::kSequence) {
    list.causes.push_back(
        CauseAt("items", "a List needs items: a list of objects", root.line, root.column));
  }
  if (!list.causes.empty()) units.push_back(std::move(list));
  if (items == nullptr || items->value.type != Node::Type::kSequence) return;

  for (size_t i = 0; i < items->value.items.size(); ++i) {
    const Node& item = items->value.items[i];
    std::string item_label = "item " + std::to_string(i + 1);
    if (!only_document) item_label = label + " " + item_label;
    Unit unit{item_label, nullptr, {}, std::nullopt};
    if (item.type == Node::Type::kMap) {
      unit.root = &item;
    } else {
      unit.causes.push_back(NotAnObject(item_label, item));
    }
    units.push_back(std::move(unit));
  }
}

std::vector<Unit> SplitIntoUnits(const std::vector<Document>& documents) {
  std::vector<Unit> units;
  int non_empty = 0;
  for (const Document& doc : documents) non_empty += doc.root.type != Node::Type::kNull;
  for (const Document& doc : documents) {
    const Node& root = doc.root;
    if (root.type == Node::Type::kMap && IsList(root)) {
      ExpandList(root, doc.label, non_empty == 1, units);
      if (!doc.causes.empty()) units.push_back({doc.label, nullptr, doc.causes, std::nullopt});
      continue;
    }
    if (root.type == Node::Type::kNull && doc.causes.empty()) continue;  // empty document
    Unit unit{doc.label, nullptr, doc.causes, std::nullopt};
    if (root.type == Node::Type::kMap) {
      unit.root = &root;
    } else if (root.type != Node::Type::kNull) {
      std::string label =
          doc.label.rfind("doc ", 0) == 0 ? "document " + doc.label.substr(4) : doc.label;
      unit.causes.push_back(NotAnObject(label, root));
    }
    units.push_back(std::move(unit));
  }
  return units;
}

// Returns `Kind "name"` as written in the unit, for status messages.
std::string DescribeUnit(const Unit& unit) {
  if (unit.root == nullptr) return unit.label;
  std::string out;
  const MapEntry* kind = FindEntry(*unit.root, "kind");
  if (kind != nullptr && kind->value.type == Node::Type::kScalar) out = kind->value.text;
  const MapEntry* meta = FindEntry(*unit.root, "metadata");
  const MapEntry* name = meta != nullptr ? FindEntry(meta->value, "name") : nullptr;
  if (name != nullptr && name->value.type == Node::Type::kScalar) {
    out += (out.empty() ? "" : " ") + QuoteForMessage(name->value.text);
  }
  return out.empty() ? unit.label : out;
}

Status Failure(const std::vector<Unit>& units, const DecodeOptions& options) {
  bool prefix = units.size() > 1;
  std::vector<Cause> causes;
  std::string failed;
  for (const Unit& unit : units) {
    if (unit.causes.empty()) continue;
    std::string described = DescribeUnit(unit);
    if (prefix && described != unit.label) described = unit.label + " (" + described + ")";
    failed += (failed.empty() ? "" : ", ") + described;
    for (Cause cause : unit.causes) {
      cause.source = options.source_name;
      if (prefix) {
        cause.field = "[" + unit.label + "]" + (cause.field.empty() ? "" : " " + cause.field);
      }
      causes.push_back(std::move(cause));
    }
  }
  std::string message = options.source_name.empty() ? "" : options.source_name + ": ";
  message += "invalid " + failed + " (" + std::to_string(causes.size()) +
             (causes.size() == 1 ? " problem)" : " problems)");
  return Status::InvalidArgument(std::move(message), std::move(causes));
}

Status WithSource(const Status& status, const DecodeOptions& options) {
  if (options.source_name.empty()) return status;
  std::vector<Cause> causes = status.causes();
  for (Cause& cause : causes) cause.source = options.source_name;
  return Status(status.code(), options.source_name + ": " + status.message(), std::move(causes));
}

nlohmann::ordered_json EncodeOrdered(const Object& object) {
  // NOTE: VisitFields takes mutable references so that one description
  // serves the decoder too; the encoder only reads through them.
  Object& mutable_object = const_cast<Object&>(object);
  return std::visit([](auto& typed) { return Encoder::EncodeFields(typed); }, mutable_object);
}

// Copies an ordered tree into nlohmann::json, which sorts keys. A dump and
// parse would do the same but throws on strings that are not UTF-8.
nlohmann::json ToSortedJson(const nlohmann::ordered_json& value) {
  using Type = nlohmann::ordered_json::value_t;
  switch (value.type()) {
    case Type::object: {
      nlohmann::json out = nlohmann::json::object();
      for (const auto& [key, child] : value.items()) out[key] = ToSortedJson(child);
      return out;
    }
    case Type::array: {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& child : value) out.push_back(ToSortedJson(child));
      return out;
    }
    case Type::string:
      return value.get<std::string>();
    case Type::boolean:
      return value.get<bool>();
    case Type::number_integer:
      return value.get<int64_t>();
    case Type::number_unsigned:
      return value.get<uint64_t>();
    default:
      return nullptr;
  }
}

}  // namespace

StatusOr<std::vector<Object>> DecodeObjects(std::string_view text, Format format,
                                            const DecodeOptions& options) {
  ParseLimits limits;
  limits.max_bytes = options.max_bytes;
  limits.max_depth = options.max_depth;
  StatusOr<std::vector<Document>> documents =
      format == Format::kJson ? ParseJson(text, limits) : ParseYamlStream(text, limits);
  if (!documents.ok()) return WithSource(documents.status(), options);

  std::vector<Unit> units = SplitIntoUnits(*documents);
  if (units.empty()) {
    return WithSource(
        Status::InvalidArgument("no objects found: the input is empty or holds only comments",
                                {CauseAt("", "no objects found; add at least one object")}),
        options);
  }
  bool failed = false;
  for (Unit& unit : units) {
    if (unit.root != nullptr) unit.object = DecodeObject(*unit.root, unit.causes);
    failed = failed || !unit.causes.empty();
  }
  if (failed) return Failure(units, options);

  std::vector<Object> objects;
  objects.reserve(units.size());
  for (Unit& unit : units) objects.push_back(std::move(*unit.object));
  return objects;
}

Format DetectFormat(std::string_view text) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && (text[first] == '{' || text[first] == '[')) {
    return Format::kJson;
  }
  return Format::kYaml;
}

nlohmann::json EncodeJson(const Object& object) { return ToSortedJson(EncodeOrdered(object)); }

std::string EncodeYaml(const Object& object) { return EmitYaml(EncodeOrdered(object)); }

std::string KindOf(const Object& object) {
  switch (object.index()) {
    case 0:
      return kKindHost;
    case 1:
      return kKindServiceTemplate;
    default:
      return kKindServiceDeploy;
  }
}

const ObjectMeta& MetaOf(const Object& object) {
  return std::visit([](const auto& typed) -> const ObjectMeta& { return typed.metadata; }, object);
}

ObjectMeta& MetaOf(Object& object) {
  return std::visit([](auto& typed) -> ObjectMeta& { return typed.metadata; }, object);
}

}  // namespace svcd::api
