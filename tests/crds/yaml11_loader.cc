#include "tests/crds/yaml11_loader.h"

#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <regex>

namespace svcd::crdtest {
namespace {

using nlohmann::json;

constexpr char kStrTag[] = "tag:yaml.org,2002:str";

bool IsOneOf(const std::string& text, std::initializer_list<const char*> words) {
  for (const char* word : words) {
    if (text == word) return true;
  }
  return false;
}

// Parses an integer the way Go's strconv.ParseInt does with base 0, which is
// what go-yaml v2 calls: an optional sign, then 0x/0X hex, 0b/0B binary,
// 0o/0O or a bare leading 0 octal, else decimal. Underscores were already
// removed by the caller.
std::optional<json> ParseGoInteger(const std::string& text) {
  size_t pos = 0;
  bool negative = false;
  if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    negative = text[pos] == '-';
    ++pos;
  }

  std::string digits = text.substr(pos);
  int base = 10;
  if (digits.size() > 2 && digits[0] == '0' && std::strchr("xXbBoO", digits[1]) != nullptr) {
    base = std::strchr("xX", digits[1]) ? 16 : std::strchr("bB", digits[1]) ? 2 : 8;
    digits = digits.substr(2);
  } else if (digits.size() > 1 && digits[0] == '0') {
    base = 8;
    digits = digits.substr(1);
  }
  if (digits.empty()) return std::nullopt;

  static const std::string kDigits = "0123456789abcdef";
  for (char c : digits) {
    size_t value = kDigits.find(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    if (value == std::string::npos || value >= static_cast<size_t>(base)) return std::nullopt;
  }

  errno = 0;
  unsigned long long magnitude = std::strtoull(digits.c_str(), nullptr, base);
  if (errno == ERANGE) return std::nullopt;
  if (!negative) {
    if (magnitude <= static_cast<unsigned long long>(INT64_MAX)) {
      return json(static_cast<int64_t>(magnitude));
    }
    return json(static_cast<uint64_t>(magnitude));
  }
  if (magnitude > static_cast<unsigned long long>(INT64_MAX) + 1) return std::nullopt;
  return json(static_cast<int64_t>(0 - magnitude));
}

Cause MakeCause(std::string field, std::string message, const YAML::Mark& mark) {
  Cause cause;
  cause.field = std::move(field);
  cause.message = std::move(message);
  cause.line = mark.line + 1;
  cause.column = mark.column + 1;
  return cause;
}

Status DuplicateKeyError(const std::string& path, const YAML::Mark& mark) {
  return Status::InvalidArgument(
      "duplicate key",
      {MakeCause(path, "duplicate key: the same key occurs twice in one mapping", mark)});
}

Status Convert(const YAML::Node& node, const std::string& path, json& out);

Status ConvertMap(const YAML::Node& node, const std::string& path, json& out) {
  out = json::object();
  for (const auto& entry : node) {
    const YAML::Node& key = entry.first;
    if (!key.IsScalar()) {
      return Status::InvalidArgument("mapping key is not a scalar",
                                     {MakeCause(path, "mapping keys must be scalars", key.Mark())});
    }
    const std::string& name = key.Scalar();
    std::string child_path = path.empty() ? name : path + "." + name;
    if (out.contains(name)) return DuplicateKeyError(child_path, key.Mark());
    json child;
    Status status = Convert(entry.second, child_path, child);
    if (!status.ok()) return status;
    out[name] = std::move(child);
  }
  return Status::Ok();
}

Status Convert(const YAML::Node& node, const std::string& path, json& out) {
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      out = nullptr;
      return Status::Ok();
    case YAML::NodeType::Scalar:
      // yaml-cpp tags plain scalars "?" and quoted or block scalars "!".
      if (node.Tag() == "?") {
        out = ResolvePlainScalar(node.Scalar());
      } else if (node.Tag() == "!" || node.Tag() == kStrTag) {
        out = node.Scalar();
      } else {
        out = ResolvePlainScalar(node.Scalar());
      }
      return Status::Ok();
    case YAML::NodeType::Sequence: {
      out = json::array();
      for (size_t i = 0; i < node.size(); ++i) {
        json item;
        Status status = Convert(node[i], path + "[" + std::to_string(i) + "]", item);
        if (!status.ok()) return status;
        out.push_back(std::move(item));
      }
      return Status::Ok();
    }
    case YAML::NodeType::Map:
      return ConvertMap(node, path, out);
  }
  return Status::Internal("unknown yaml-cpp node type at " + path);
}

}  // namespace

json ResolvePlainScalar(const std::string& text) {
  if (IsOneOf(text, {"", "~", "null", "Null", "NULL"})) return nullptr;
  if (IsOneOf(text, {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"})) {
    return true;
  }
  if (IsOneOf(text, {"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"})) {
    return false;
  }

  // Numbers: go-yaml v2 drops underscores, then tries an integer, then a
  // float of the form below. NOTE: .inf, .nan and timestamps are not
  // resolved here; no svcd manifest field takes them.
  std::string plain;
  for (char c : text) {
    if (c != '_') plain += c;
  }
  if (std::optional<json> integer = ParseGoInteger(plain)) return *integer;
  static const std::regex kFloat(R"(^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$)");
  if (std::regex_match(plain, kFloat)) return std::strtod(plain.c_str(), nullptr);
  return text;
}

StatusOr<json> NodeToJson(const YAML::Node& node) {
  json out;
  Status status = Convert(node, "", out);
  if (!status.ok()) return status;
  return out;
}

StatusOr<std::vector<json>> LoadYamlDocuments(std::string_view text) {
  std::vector<YAML::Node> nodes;
  try {
    nodes = YAML::LoadAll(std::string(text));
  } catch (const YAML::Exception& error) {
    return Status::InvalidArgument("invalid YAML", {MakeCause("", error.msg, error.mark)});
  }

  std::vector<json> documents;
  for (const YAML::Node& node : nodes) {
    if (node.IsNull()) continue;
    StatusOr<json> converted = NodeToJson(node);
    if (!converted.ok()) return converted.status();
    documents.push_back(std::move(*converted));
  }
  return documents;
}

}  // namespace svcd::crdtest
