#include "api/encoder.h"

#include <yaml-cpp/emitter.h>
#include <yaml-cpp/emittermanip.h>

#include <cctype>
#include <string>

namespace svcd::api {
namespace {

bool IsPlainSafeChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' ||
         c == '/' || c == ' ' || c == '(' || c == ')' || c == '=' || c == '+' || c == '$' ||
         c == ';' || c == '^' || c == '~';
}

// True when `text` must be double-quoted to read back as the same string in
// any YAML 1.1 or 1.2 reader, not only in our own string fields.
bool NeedsQuotes(std::string_view text) {
  if (text.empty()) return true;
  if (text.front() == ' ' || text.back() == ' ') return true;
  char first = text.front();
  // Digits, signs and dots may start a number; '~' and '-' are null and
  // indicator characters.
  if (std::isdigit(static_cast<unsigned char>(first)) || first == '-' || first == '+' ||
      first == '.' || first == '~' || first == '=') {
    return true;
  }
  std::string lower;
  for (char c : text) {
    if (!IsPlainSafeChar(c)) return true;
    lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  for (const char* word : {"null", "true", "false", "yes", "no", "on", "off", "y", "n"}) {
    if (lower == word) return true;
  }
  return false;
}

void Emit(YAML::Emitter& out, const nlohmann::ordered_json& value) {
  switch (value.type()) {
    case nlohmann::ordered_json::value_t::object:
      if (value.empty()) out << YAML::Flow;
      out << YAML::BeginMap;
      for (const auto& [key, child] : value.items()) {
        out << YAML::Key;
        if (NeedsQuotes(key)) out << YAML::DoubleQuoted;
        out << key << YAML::Value;
        Emit(out, child);
      }
      out << YAML::EndMap;
      break;
    case nlohmann::ordered_json::value_t::array:
      if (value.empty()) out << YAML::Flow;
      out << YAML::BeginSeq;
      for (const auto& child : value) Emit(out, child);
      out << YAML::EndSeq;
      break;
    case nlohmann::ordered_json::value_t::string: {
      const std::string& text = value.get_ref<const std::string&>();
      if (NeedsQuotes(text)) out << YAML::DoubleQuoted;
      out << text;
      break;
    }
    case nlohmann::ordered_json::value_t::boolean:
      out << (value.get<bool>() ? "true" : "false");
      break;
    case nlohmann::ordered_json::value_t::number_integer:
      out << value.get<int64_t>();
      break;
    case nlohmann::ordered_json::value_t::number_unsigned:
      out << value.get<uint64_t>();
      break;
    default:
      // The encoder writes no floats, nulls or binary values.
      out << YAML::Null;
      break;
  }
}

}  // namespace

std::string EmitYaml(const nlohmann::ordered_json& value) {
  YAML::Emitter out;
  out.SetIndent(2);
  Emit(out, value);
  return std::string(out.c_str()) + "\n";
}

}  // namespace svcd::api
