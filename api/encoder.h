// Encoder: the visitor that writes a resource as JSON, in field order.
//
// It runs the VisitFields descriptions of api/fields.h and writes every field
// that has a value: integers and booleans always, strings, lists and maps
// when non-empty, optional fields when set, and nested objects unless they
// equal their default. Omitting an empty string is safe
// because every string field decodes to empty when absent, except
// HttpProbe.method and .path, whose valid values are never empty.

#ifndef SVCD_API_ENCODER_H_
#define SVCD_API_ENCODER_H_

#include <concepts>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/fields.h"
#include "api/rules.h"

namespace svcd::api {

class Encoder {
 public:
  // Writes fields into `out`, which must be a JSON object.
  explicit Encoder(nlohmann::ordered_json& out) : out_(out) {}

  void Constant(std::string_view name, std::string_view value) { Set(name, value); }
  void String(std::string_view name, const std::string& value, const Rules&) {
    if (!value.empty()) Set(name, value);
  }
  void String(std::string_view name, const std::optional<std::string>& value, const Rules&) {
    if (value) Set(name, *value);
  }
  template <std::integral I>
  void Int(std::string_view name, const I& value, const Rules&) {
    Set(name, value);
  }
  template <std::integral I>
  void Int(std::string_view name, const std::optional<I>& value, const Rules&) {
    if (value) Set(name, *value);
  }
  void Bool(std::string_view name, bool value, const Rules&) { Set(name, value); }
  void Bool(std::string_view name, const std::optional<bool>& value, const Rules&) {
    if (value) Set(name, *value);
  }
  void StringMap(std::string_view name, const std::map<std::string, std::string>& value,
                 const Rules&) {
    if (!value.empty()) Set(name, value);
  }
  void StringList(std::string_view name, const std::vector<std::string>& value, const Rules&) {
    if (!value.empty()) Set(name, value);
  }
  void Forbidden(std::string_view, std::string_view) {}
  template <class F>
  void Check(F&&) {}

  // An optional object equal to its default-constructed value is left out,
  // because decoding its absence gives that same value. A required object is
  // always written, so that the output keeps the shape the decoder demands.
  template <class T, class... Extra>
  void Object(std::string_view name, T& value, const Rules& rules, Extra... extra) {
    if (!rules.required && value == T{}) return;
    Set(name, EncodeFields(value, extra...));
  }
  template <class T, class... Extra>
  void Object(std::string_view name, std::optional<T>& value, const Rules&, Extra... extra) {
    if (value) Set(name, EncodeFields(*value, extra...));
  }
  template <class T, class... Extra>
  void List(std::string_view name, std::vector<T>& items, const Rules&, Extra... extra) {
    if (items.empty()) return;
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (T& item : items) list.push_back(EncodeFields(item, extra...));
    Set(name, std::move(list));
  }

  // Encodes one struct through its VisitFields description.
  template <class T, class... Extra>
  static nlohmann::ordered_json EncodeFields(T& value, Extra... extra) {
    nlohmann::ordered_json out = nlohmann::ordered_json::object();
    Encoder encoder(out);
    VisitFields(encoder, value, extra...);
    return out;
  }

 private:
  template <class Value>
  void Set(std::string_view name, Value&& value) {
    out_[std::string(name)] = std::forward<Value>(value);
  }

  nlohmann::ordered_json& out_;
};

// Writes `value` as a block-style YAML document. Strings that YAML would read
// as anything but the same string (null, booleans, numbers, leading or
// trailing spaces, indicators, control characters) are double-quoted.
std::string EmitYaml(const nlohmann::ordered_json& value);

}  // namespace svcd::api

#endif  // SVCD_API_ENCODER_H_
