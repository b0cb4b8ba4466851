// The field list of each kind, as the decoder enforces it.
//
// DescribeFields runs the VisitFields descriptions of api/fields.h with a
// recording visitor, so the list is never kept by hand and always matches
// what DecodeObjects accepts. The CRDs under crds/ are checked against it.

#ifndef SVCD_API_SCHEMA_H_
#define SVCD_API_SCHEMA_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace svcd::api {

struct FieldInfo {
  // Dotted path from the document root; "[]" marks the items of a list, as
  // in "spec.master.args[].name" and "spec.probe.exec.command[]".
  std::string path;
  // "string" | "integer" | "boolean" | "object" | "array" | "map", where a
  // map has string keys and string values.
  std::string type;
  // Must be present and not null; a required string must also be non-empty
  // and a required array must have at least one item.
  bool required = false;
  std::vector<std::string> enum_values;
  std::optional<int64_t> minimum, maximum;
  std::string pattern;                // ECMAScript regex that the value must match; empty if none
  std::optional<int64_t> max_length;  // strings; for a map, each value
  std::optional<int64_t> max_items;   // arrays
};

// Returns every field the decoder accepts for `kind` ("Host",
// "ServiceTemplate" or "ServiceDeploy"), parents before children, including
// apiVersion, kind, metadata and status fields. Returns an empty list for any
// other kind. Rules that a pattern cannot express (host addresses, label
// keys, reserved env names, cross-field rules) are enforced by the decoder
// only.
std::vector<FieldInfo> DescribeFields(std::string_view kind);

}  // namespace svcd::api

#endif  // SVCD_API_SCHEMA_H_
