// Decoder: the visitor that reads a resource from a document tree.
//
// It runs the VisitFields descriptions of api/fields.h against a map node,
// enforcing each field's type and Rules, and records every problem as a Cause
// instead of stopping at the first. On entering a map it reports duplicate
// keys, and decodes the first occurrence. After the map's fields are visited
// it reports every key that no field description matched as unknown.

#ifndef SVCD_API_DECODER_H_
#define SVCD_API_DECODER_H_

#include <concepts>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/document.h"
#include "api/fields.h"
#include "api/rules.h"
#include "api/status.h"
#include "api/types.h"

namespace svcd::api {

// Decodes one resource from the root map of a document. Appends every
// problem to `causes`, with field paths relative to the document root, and
// returns the object (possibly half filled when causes were added), or
// nullopt when apiVersion or kind rule out decoding at all.
std::optional<Object> DecodeObject(const Node& root, std::vector<Cause>& causes);

class Decoder final : public Reporter {
 public:
  // `kind` selects the schema used to suggest where a misplaced field belongs.
  Decoder(const Node& root, std::string_view kind, std::vector<Cause>& causes);

  // Reports the unknown fields of the root map. Call once after VisitFields.
  void Finish();

  // Visitor interface: see api/fields.h.
  void Constant(std::string_view name, std::string_view value);
  void String(std::string_view name, std::string& out, const Rules& rules);
  void String(std::string_view name, std::optional<std::string>& out, const Rules& rules);
  void Bool(std::string_view name, bool& out, const Rules& rules);
  void Bool(std::string_view name, std::optional<bool>& out, const Rules& rules);
  void StringMap(std::string_view name, std::map<std::string, std::string>& out,
                 const Rules& rules);
  void StringList(std::string_view name, std::vector<std::string>& out, const Rules& rules);
  void Forbidden(std::string_view name, std::string_view message);

  template <std::integral I>
  void Int(std::string_view name, I& out, const Rules& rules) {
    std::optional<int64_t> value =
        ReadInt(name, rules, std::numeric_limits<I>::min(), std::numeric_limits<I>::max());
    if (value) out = static_cast<I>(*value);
  }

  template <std::integral I>
  void Int(std::string_view name, std::optional<I>& out, const Rules& rules) {
    std::optional<int64_t> value =
        ReadInt(name, rules, std::numeric_limits<I>::min(), std::numeric_limits<I>::max());
    if (value) out = static_cast<I>(*value);
  }

  template <class T, class... Extra>
  void Object(std::string_view name, T& out, const Rules& rules, Extra... extra) {
    const Node* node = LookupObject(name, rules);
    if (node == nullptr) return;
    Enter(*node, ChildPath(name));
    VisitFields(*this, out, extra...);
    Leave();
  }

  template <class T, class... Extra>
  void Object(std::string_view name, std::optional<T>& out, const Rules& rules, Extra... extra) {
    const Node* node = LookupObject(name, rules);
    if (node == nullptr) return;
    out.emplace();
    Enter(*node, ChildPath(name));
    VisitFields(*this, *out, extra...);
    Leave();
  }

  template <class T, class... Extra>
  void List(std::string_view name, std::vector<T>& out, const Rules& rules, Extra... extra) {
    const Node* node = LookupList(name, rules);
    if (node == nullptr) return;
    out.assign(node->items.size(), T{});
    std::string path = ChildPath(name);
    for (size_t i = 0; i < node->items.size(); ++i) {
      const Node& item = node->items[i];
      std::string item_path = path + "[" + std::to_string(i) + "]";
      if (item.type != Node::Type::kMap) {
        TypeError(item_path, "object", item);
        continue;
      }
      Enter(item, item_path);
      VisitFields(*this, out[i], extra...);
      Leave();
    }
  }

  template <class F>
  void Check(F&& check) {
    check(static_cast<Reporter&>(*this));
  }

  // Reporter: `field` is relative to the object being visited.
  void Error(std::string_view field, std::string message) override;

 private:
  struct Frame {
    const Node* node;
    std::string path;
    std::vector<std::string_view> known;  // every name VisitFields asked for
  };

  std::string ChildPath(std::string_view name) const;
  void Enter(const Node& node, std::string path);
  void Leave();
  void ReportUnknownFields(const Frame& frame);
  std::string SuggestFor(const Frame& frame, std::string_view key) const;

  // Returns the first entry named `name` in the current map and marks the
  // name known. Returns nullptr when it is absent or null, after reporting a
  // missing required field.
  const MapEntry* Lookup(std::string_view name, const Rules& rules);
  const Node* LookupObject(std::string_view name, const Rules& rules);
  const Node* LookupList(std::string_view name, const Rules& rules);
  std::optional<std::string> ReadString(std::string_view name, const Rules& rules);
  std::optional<bool> ReadBool(std::string_view name, const Rules& rules);
  std::optional<int64_t> ReadInt(std::string_view name, const Rules& rules, int64_t type_min,
                                 int64_t type_max);
  // Applies enum, length, pattern and check rules; reports and returns false
  // when `value` breaks one.
  bool ValidateString(const std::string& path, const Node& node, std::string_view value,
                      const Rules& rules, std::string_view what);

  void Add(std::string field, std::string message, const Node* at);
  void AddAtKey(std::string field, std::string message, const MapEntry& entry);
  void TypeError(const std::string& path, std::string_view expected, const Node& node);

  std::string kind_;
  std::vector<Cause>& causes_;
  std::vector<Frame> frames_;
};

}  // namespace svcd::api

#endif  // SVCD_API_DECODER_H_
