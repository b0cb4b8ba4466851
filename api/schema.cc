#include "api/schema.h"

#include <concepts>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "api/fields.h"
#include "api/types.h"

namespace svcd::api {
namespace {

// Visitor that records one FieldInfo per field instead of reading or
// writing values.
class SchemaRecorder {
 public:
  SchemaRecorder(std::string prefix, std::vector<FieldInfo>& out)
      : prefix_(std::move(prefix)), out_(out) {}

  void Constant(std::string_view name, std::string_view value) {
    Rules required;
    required.required = true;
    FieldInfo& info = Add(name, "string", required);
    info.enum_values = {std::string(value)};
  }
  template <class S>
  void String(std::string_view name, S&, const Rules& rules) {
    Add(name, "string", rules);
  }
  template <class I>
  void Int(std::string_view name, I&, const Rules& rules) {
    Add(name, "integer", rules);
  }
  template <class B>
  void Bool(std::string_view name, B&, const Rules& rules) {
    Add(name, "boolean", rules);
  }
  void StringMap(std::string_view name, std::map<std::string, std::string>&, const Rules& rules) {
    Add(name, "map", rules);
  }
  // Length and pattern rules apply to each item, so they are listed on the
  // "name[]" entry and not on the array.
  void StringList(std::string_view name, std::vector<std::string>&, const Rules& rules) {
    FieldInfo& list = Add(name, "array", rules);
    list.max_length.reset();
    list.pattern.clear();
    FieldInfo& item = Add(std::string(name) + "[]", "string", {});
    item.max_length = rules.max_length;
    item.pattern = std::string(rules.pattern);
  }
  void Forbidden(std::string_view, std::string_view) {}
  template <class F>
  void Check(F&&) {}

  template <class T, class... Extra>
  void Object(std::string_view name, T&, const Rules& rules, Extra... extra) {
    Add(name, "object", rules);
    Recurse<T>(Path(name), extra...);
  }
  template <class T, class... Extra>
  void Object(std::string_view name, std::optional<T>&, const Rules& rules, Extra... extra) {
    Add(name, "object", rules);
    Recurse<T>(Path(name), extra...);
  }
  template <class T, class... Extra>
  void List(std::string_view name, std::vector<T>&, const Rules& rules, Extra... extra) {
    Add(name, "array", rules);
    Recurse<T>(Path(name) + "[]", extra...);
  }

 private:
  std::string Path(std::string_view name) const {
    return prefix_.empty() ? std::string(name) : prefix_ + "." + std::string(name);
  }

  FieldInfo& Add(std::string_view name, std::string type, const Rules& rules) {
    FieldInfo info;
    info.path = Path(name);
    info.type = std::move(type);
    info.required = rules.required;
    for (std::string_view value : rules.enum_values) info.enum_values.emplace_back(value);
    info.minimum = rules.minimum;
    info.maximum = rules.maximum;
    info.pattern = std::string(rules.pattern);
    info.max_length = rules.max_length;
    info.max_items = rules.max_items;
    out_.push_back(std::move(info));
    return out_.back();
  }

  template <class T, class... Extra>
  void Recurse(std::string prefix, Extra... extra) {
    T sample{};
    SchemaRecorder child(std::move(prefix), out_);
    VisitFields(child, sample, extra...);
  }

  std::string prefix_;
  std::vector<FieldInfo>& out_;
};

template <class T>
std::vector<FieldInfo> Record() {
  std::vector<FieldInfo> out;
  T sample{};
  SchemaRecorder recorder("", out);
  VisitFields(recorder, sample);
  return out;
}

}  // namespace

std::vector<FieldInfo> DescribeFields(std::string_view kind) {
  if (kind == kKindHost) return Record<Host>();
  if (kind == kKindServiceTemplate) return Record<ServiceTemplate>();
  if (kind == kKindServiceDeploy) return Record<ServiceDeploy>();
  return {};
}

}  // namespace svcd::api
