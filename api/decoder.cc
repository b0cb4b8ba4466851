#include "api/decoder.h"

#include <algorithm>
#include <charconv>
#include <mutex>
#include <regex>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>

#include "api/schema.h"

namespace svcd::api {
namespace {

constexpr char kValidKinds[] = "Host, ServiceTemplate, ServiceDeploy";

// Compiles each pattern once; std::regex construction is slow.
const std::regex& CompiledPattern(std::string_view pattern) {
  static std::mutex mutex;
  static std::unordered_map<std::string, std::regex> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache.find(std::string(pattern));
  if (it == cache.end()) {
    it = cache.emplace(std::string(pattern), std::regex(std::string(pattern))).first;
  }
  return it->second;
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      bool same = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                  std::tolower(static_cast<unsigned char>(b[j - 1]));
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (same ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// "spec.workers[3].args" -> "spec.workers[].args", the form schema paths use.
std::string SchemaPath(std::string_view path) {
  std::string out;
  bool in_index = false;
  for (char c : path) {
    if (c == '[') {
      in_index = true;
      out += "[]";
    } else if (c == ']') {
      in_index = false;
    } else if (!in_index) {
      out += c;
    }
  }
  return out;
}

std::string RangeText(const Rules& rules) {
  if (rules.minimum && rules.maximum) {
    return "between " + std::to_string(*rules.minimum) + " and " + std::to_string(*rules.maximum);
  }
  if (rules.minimum) return "at least " + std::to_string(*rules.minimum);
  return "at most " + std::to_string(*rules.maximum);
}

std::string JoinEnum(const std::vector<std::string_view>& values) {
  std::string out;
  for (std::string_view value : values) {
    if (!out.empty()) out += ", ";
    out += value;
  }
  return out;
}

// Returns DescribeFields(kind), computed once per kind because a hostile
// input can contain many unknown fields.
const std::vector<FieldInfo>& CachedFields(std::string_view kind) {
  static const std::vector<FieldInfo> kHost = DescribeFields(kKindHost);
  static const std::vector<FieldInfo> kTemplate = DescribeFields(kKindServiceTemplate);
  static const std::vector<FieldInfo> kDeploy = DescribeFields(kKindServiceDeploy);
  static const std::vector<FieldInfo> kNone;
  if (kind == kKindHost) return kHost;
  if (kind == kKindServiceTemplate) return kTemplate;
  if (kind == kKindServiceDeploy) return kDeploy;
  return kNone;
}

const MapEntry* FindEntry(const Node& map, std::string_view key) {
  for (const MapEntry& entry : map.entries) {
    if (entry.key == key) return &entry;
  }
  return nullptr;
}

}  // namespace

Decoder::Decoder(const Node& root, std::string_view kind, std::vector<Cause>& causes)
    : kind_(kind), causes_(causes) {
  Enter(root, "");
}

void Decoder::Finish() {
  while (!frames_.empty()) Leave();
}

void Decoder::Add(std::string field, std::string message, const Node* at) {
  Cause cause = CauseAt(std::move(field), std::move(message));
  if (at != nullptr && at->type != Node::Type::kNull) {
    cause.line = at->line;
    cause.column = at->column;
  }
  causes_.push_back(std::move(cause));
}

void Decoder::AddAtKey(std::string field, std::string message, const MapEntry& entry) {
  causes_.push_back(CauseAt(std::move(field), std::move(message), entry.line, entry.column));
}

void Decoder::TypeError(const std::string& path, std::string_view expected, const Node& node) {
  std::string got = NodeTypeName(node);
  if (node.type == Node::Type::kScalar) got += " " + QuoteForMessage(node.text);
  Add(path, "expected " + std::string(expected) + ", got " + got, &node);
}

std::string Decoder::ChildPath(std::string_view name) const {
  const std::string& parent = frames_.back().path;
  return parent.empty() ? std::string(name) : parent + "." + std::string(name);
}

void Decoder::Enter(const Node& node, std::string path) {
  std::set<std::string_view> seen;
  for (const MapEntry& entry : node.entries) {
    if (seen.insert(entry.key).second) continue;
    std::string field = path.empty() ? entry.key : path + "." + entry.key;
    AddAtKey(field, "duplicate key " + QuoteForMessage(entry.key) + "; keep only one of them",
             entry);
  }
  frames_.push_back({&node, std::move(path), {}});
}

void Decoder::Leave() {
  ReportUnknownFields(frames_.back());
  frames_.pop_back();
}

void Decoder::ReportUnknownFields(const Frame& frame) {
  for (const MapEntry& entry : frame.node->entries) {
    if (std::find(frame.known.begin(), frame.known.end(), entry.key) != frame.known.end()) {
      continue;
    }
    std::string field = frame.path.empty() ? entry.key : frame.path + "." + entry.key;
    AddAtKey(field, "unknown field " + QuoteForMessage(entry.key) + SuggestFor(frame, entry.key),
             entry);
  }
}

// Suggests a close sibling name for a typo, or, for a field that exists at
// another level, where it belongs (the usual sign of a mis-indented block).
std::string Decoder::SuggestFor(const Frame& frame, std::string_view key) const {
  for (std::string_view known : frame.known) {
    if (EditDistance(known, key) <= std::max<size_t>(1, key.size() / 4)) {
      return "; did you mean \"" + std::string(known) + "\"?";
    }
  }
  std::string here = SchemaPath(frame.path);
  std::vector<std::string> parents;
  for (const FieldInfo& info : CachedFields(kind_)) {
    size_t dot = info.path.rfind('.');
    std::string_view last = dot == std::string::npos ? std::string_view(info.path)
                                                     : std::string_view(info.path).substr(dot + 1);
    if (last != key) continue;
    std::string parent = dot == std::string::npos ? "the top level" : info.path.substr(0, dot);
    if (parent != here && parents.size() < 3) parents.push_back(parent);
  }
  if (parents.empty()) return "; remove it";
  std::string out = "; \"" + std::string(key) + "\" belongs under ";
  for (size_t i = 0; i < parents.size(); ++i) out += (i == 0 ? "" : " or ") + parents[i];
  return out + ": check the indentation";
}

const MapEntry* Decoder::Lookup(std::string_view name, const Rules& rules) {
  Frame& frame = frames_.back();
  frame.known.push_back(name);
  const MapEntry* entry = FindEntry(*frame.node, name);
  if (entry == nullptr || entry->value.type == Node::Type::kNull) {
    if (rules.required) {
      Add(ChildPath(name), "missing required field; add " + std::string(name) + ":", nullptr);
    }
    return nullptr;
  }
  return entry;
}

const Node* Decoder::LookupObject(std::string_view name, const Rules& rules) {
  const MapEntry* entry = Lookup(name, rules);
  if (entry == nullptr) return nullptr;
  if (entry->value.type != Node::Type::kMap) {
    TypeError(ChildPath(name), "object", entry->value);
    return nullptr;
  }
  return &entry->value;
}

const Node* Decoder::LookupList(std::string_view name, const Rules& rules) {
  const MapEntry* entry = Lookup(name, rules);
  if (entry == nullptr) return nullptr;
  const Node& node = entry->value;
  if (node.type != Node::Type::kSequence) {
    TypeError(ChildPath(name), "list", node);
    return nullptr;
  }
  if (rules.required && node.items.empty()) {
    Add(ChildPath(name), "must not be empty", &node);
    return nullptr;
  }
  if (rules.max_items && static_cast<int64_t>(node.items.size()) > *rules.max_items) {
    Add(ChildPath(name),
        "has " + std::to_string(node.items.size()) + " items; at most " +
            std::to_string(*rules.max_items) + " are allowed",
        &node);
    return nullptr;
  }
  return &node;
}

bool Decoder::ValidateString(const std::string& path, const Node& node, std::string_view value,
                             const Rules& rules, std::string_view what) {
  std::string invalid = "invalid " + std::string(what) + " " + QuoteForMessage(value) + ": ";
  if (!rules.enum_values.empty() && std::find(rules.enum_values.begin(), rules.enum_values.end(),
                                              value) == rules.enum_values.end()) {
    Add(path, invalid + "must be one of " + JoinEnum(rules.enum_values), &node);
    return false;
  }
  if (rules.max_length && static_cast<int64_t>(value.size()) > *rules.max_length) {
    Add(path,
        invalid + "must be at most " + std::to_string(*rules.max_length) + " characters, not " +
            std::to_string(value.size()),
        &node);
    return false;
  }
  if (!rules.pattern.empty() &&
      !std::regex_search(value.begin(), value.end(), CompiledPattern(rules.pattern))) {
    Add(path, invalid + "must match " + std::string(rules.pattern), &node);
    return false;
  }
  if (rules.check != nullptr) {
    std::string reason = rules.check(value);
    if (!reason.empty()) {
      Add(path, invalid + reason, &node);
      return false;
    }
  }
  return true;
}

std::optional<std::string> Decoder::ReadString(std::string_view name, const Rules& rules) {
  const MapEntry* entry = Lookup(name, rules);
  if (entry == nullptr) return std::nullopt;
  const Node& node = entry->value;
  std::string path = ChildPath(name);
  if (node.type != Node::Type::kScalar) {
    TypeError(path, "string", node);
    return std::nullopt;
  }
  if (rules.required && node.text.empty()) {
    Add(path, "must not be empty", &node);
    return std::nullopt;
  }
  ValidateString(path, node, node.text, rules, rules.what.empty() ? "value" : rules.what);
  return node.text;
}

void Decoder::String(std::string_view name, std::string& out, const Rules& rules) {
  if (std::optional<std::string> value = ReadString(name, rules)) out = std::move(*value);
}

void Decoder::String(std::string_view name, std::optional<std::string>& out, const Rules& rules) {
  if (std::optional<std::string> value = ReadString(name, rules)) out = std::move(*value);
}

void Decoder::Constant(std::string_view name, std::string_view value) {
  const MapEntry* entry = Lookup(name, {});
  std::string hint = "; set " + std::string(name) + ": " + std::string(value);
  if (entry == nullptr) {
    Add(std::string(name), "missing required field" + hint, nullptr);
  } else if (entry->value.type != Node::Type::kScalar || entry->value.text != value) {
    std::string got = entry->value.type == Node::Type::kScalar
                          ? QuoteForMessage(entry->value.text)
                          : std::string("a ") + NodeTypeName(entry->value);
    Add(std::string(name), "invalid " + std::string(name) + " " + got + hint, &entry->value);
  }
}

std::optional<bool> Decoder::ReadBool(std::string_view name, const Rules& rules) {
  const MapEntry* entry = Lookup(name, rules);
  if (entry == nullptr) return std::nullopt;
  const Node& node = entry->value;
  std::string path = ChildPath(name);
  if (node.type == Node::Type::kScalar && !node.quoted) {
    if (node.text == "true") return true;
    if (node.text == "false") return false;
    Add(path, "expected boolean true or false, got " + QuoteForMessage(node.text), &node);
  } else if (node.type == Node::Type::kScalar) {
    Add(path, "expected boolean, got string " + QuoteForMessage(node.text) + "; remove the quotes",
        &node);
  } else {
    TypeError(path, "boolean", node);
  }
  return std::nullopt;
}

void Decoder::Bool(std::string_view name, bool& out, const Rules& rules) {
  if (std::optional<bool> value = ReadBool(name, rules)) out = *value;
}

void Decoder::Bool(std::string_view name, std::optional<bool>& out, const Rules& rules) {
  if (std::optional<bool> value = ReadBool(name, rules)) out = *value;
}

std::optional<int64_t> Decoder::ReadInt(std::string_view name, const Rules& rules, int64_t type_min,
                                        int64_t type_max) {
  const MapEntry* entry = Lookup(name, rules);
  if (entry == nullptr) return std::nullopt;
  const Node& node = entry->value;
  std::string path = ChildPath(name);
  if (node.type != Node::Type::kScalar) {
    TypeError(path, "integer", node);
    return std::nullopt;
  }
  const std::string& text = node.text;
  if (node.quoted) {
    Add(path, "expected integer, got string " + QuoteForMessage(text) + "; remove the quotes",
        &node);
    return std::nullopt;
  }
  std::string_view digits = text;
  if (!digits.empty() && digits.front() == '-') digits.remove_prefix(1);
  if (digits.empty() ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    Add(path, "expected integer, got " + QuoteForMessage(text) + "; write a plain decimal number",
        &node);
    return std::nullopt;
  }
  if (digits.size() > 1 && digits.front() == '0') {
    Add(path,
        "invalid integer " + QuoteForMessage(text) +
            ": leading zeros are not allowed (it is not read as octal); write it in decimal",
        &node);
    return std::nullopt;
  }
  int64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || value < type_min || value > type_max) {
    Add(path, "integer " + QuoteForMessage(text) + " is out of range", &node);
    return std::nullopt;
  }
  if ((rules.minimum && value < *rules.minimum) || (rules.maximum && value > *rules.maximum)) {
    std::string what = rules.what.empty() ? "value" : std::string(rules.what);
    Add(path, what + " " + text + " is out of range: must be " + RangeText(rules), &node);
    return std::nullopt;
  }
  return value;
}

void Decoder::StringMap(std::string_view name, std::map<std::string, std::string>& out,
                        const Rules& rules) {
  const MapEntry* found = Lookup(name, rules);
  if (found == nullptr) return;
  std::string path = ChildPath(name);
  if (found->value.type != Node::Type::kMap) {
    TypeError(path, "object", found->value);
    return;
  }
  std::string what = rules.what.empty() ? "key" : std::string(rules.what);
  for (const MapEntry& entry : found->value.entries) {
    std::string field = path + "." + entry.key;
    if (out.count(entry.key) > 0) {
      AddAtKey(field, "duplicate key " + QuoteForMessage(entry.key) + "; keep only one of them",
               entry);
      continue;
    }
    if (rules.key_check != nullptr) {
      std::string reason = rules.key_check(entry.key);
      if (!reason.empty()) {
        AddAtKey(field, "invalid " + what + " key " + QuoteForMessage(entry.key) + ": " + reason,
                 entry);
      }
    }
    const Node& value = entry.value;
    if (value.type != Node::Type::kScalar && value.type != Node::Type::kNull) {
      TypeError(field, "string", value);
      continue;
    }
    ValidateString(field, value, value.text, rules, what + " value");
    out[entry.key] = value.text;
  }
}

void Decoder::StringList(std::string_view name, std::vector<std::string>& out, const Rules& rules) {
  const Node* node = LookupList(name, rules);
  if (node == nullptr) return;
  std::string path = ChildPath(name);
  out.clear();
  for (size_t i = 0; i < node->items.size(); ++i) {
    const Node& item = node->items[i];
    std::string item_path = path + "[" + std::to_string(i) + "]";
    if (item.type != Node::Type::kScalar) {
      TypeError(item_path, "string", item);
      continue;
    }
    ValidateString(item_path, item, item.text, rules, "value");
    out.push_back(item.text);
  }
}

void Decoder::Forbidden(std::string_view name, std::string_view message) {
  Frame& frame = frames_.back();
  frame.known.push_back(name);
  if (const MapEntry* entry = FindEntry(*frame.node, name)) {
    AddAtKey(ChildPath(name), std::string(message), *entry);
  }
}

void Decoder::Error(std::string_view field, std::string message) {
  const Frame& frame = frames_.back();
  std::string path = frame.path;
  if (!field.empty()) {
    if (!path.empty() && field.front() != '[') path += ".";
    path += field;
  }
  // Walk "envs[2].name" down from the current map for a line and column.
  const Node* at = frame.node;
  std::string_view rest = field;
  while (!rest.empty() && at != nullptr) {
    size_t end = rest.find_first_of(".[");
    std::string_view key = rest.substr(0, end);
    rest = end == std::string_view::npos ? "" : rest.substr(end);
    if (!key.empty()) {
      const MapEntry* entry = FindEntry(*at, key);
      at = entry == nullptr ? nullptr : &entry->value;
    }
    if (!rest.empty() && rest.front() == '[') {
      size_t close = rest.find(']');
      size_t index = std::stoul(std::string(rest.substr(1, close - 1)));
      at = (at != nullptr && index < at->items.size()) ? &at->items[index] : nullptr;
      rest.remove_prefix(close + 1);
    }
    if (!rest.empty() && rest.front() == '.') rest.remove_prefix(1);
  }
  Add(std::move(path), std::move(message), at);
}

std::optional<Object> DecodeObject(const Node& root, std::vector<Cause>& causes) {
  const MapEntry* kind = FindEntry(root, "kind");
  std::string kind_text =
      kind != nullptr && kind->value.type == Node::Type::kScalar ? kind->value.text : "";
  auto decode = [&]<class T>(T object) -> std::optional<Object> {
    Decoder decoder(root, kind_text, causes);
    VisitFields(decoder, object);
    decoder.Finish();
    return Object(std::move(object));
  };
  if (kind_text == kKindHost) return decode(Host{});
  if (kind_text == kKindServiceTemplate) return decode(ServiceTemplate{});
  if (kind_text == kKindServiceDeploy) return decode(ServiceDeploy{});

  if (kind == nullptr || kind->value.type == Node::Type::kNull) {
    causes.push_back(
        CauseAt("kind", std::string("missing required field; set one of ") + kValidKinds));
  } else {
    std::string got = kind->value.type == Node::Type::kScalar
                          ? QuoteForMessage(kind->value.text)
                          : std::string("a ") + NodeTypeName(kind->value);
    causes.push_back(CauseAt("kind", "unknown kind " + got + ": must be one of " + kValidKinds,
                             kind->value.line, kind->value.column));
  }
  const MapEntry* version = FindEntry(root, "apiVersion");
  if (version != nullptr &&
      (version->value.type != Node::Type::kScalar || version->value.text != kGroupVersion)) {
    causes.push_back(CauseAt("apiVersion",
                             std::string("invalid apiVersion; set apiVersion: ") + kGroupVersion,
                             version->value.line, version->value.column));
  }
  return std::nullopt;
}

}  // namespace svcd::api
