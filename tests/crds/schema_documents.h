// Builds test documents from a CRD schema: the smallest valid object of a
// kind, and copies of it with one field set, replaced or removed. The
// agreement tests feed each copy to both the CRD validator and the codec.

#ifndef SVCD_TESTS_CRDS_SCHEMA_DOCUMENTS_H_
#define SVCD_TESTS_CRDS_SCHEMA_DOCUMENTS_H_

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "tests/crds/crd_schema.h"

namespace svcd::crdtest {

// Strings tried, in this order, wherever a valid string is needed. Each
// names a realistic value for some field of svcd's kinds.
const std::vector<std::string>& SampleStrings();

// Returns the smallest value that `schema` accepts. An object gets its
// required properties and those of its first oneOf branch, an enum its first
// value, an integer its minimum, an array minItems items, and a string the
// first of SampleStrings() that fits its pattern and length. Returns null
// when no sample fits a string's constraints.
nlohmann::json MinimalValue(const nlohmann::json& schema);

// Returns the smallest valid manifest of the CRD's kind, with metadata.name
// (and metadata.namespace for a namespaced kind) set.
nlohmann::json MinimalManifest(const Crd& crd);

// Returns the schema node of `path` ("spec.master.args[].name"), or nullptr.
const nlohmann::json* SchemaAt(const nlohmann::json& root, std::string_view path);

// Returns `path` with every "[]" replaced by "[0]", the element that SetAt
// and RemoveAt use.
std::string FirstElementPath(std::string_view path);

// Sets the field at `path` of `document` to `value`. Missing parents are
// created as their MinimalValue; a missing array gets one minimal element,
// and "[]" always means element 0.
void SetAt(nlohmann::json& document, const nlohmann::json& root, std::string_view path,
           nlohmann::json value);

// Removes the field at `path`, creating missing parents as SetAt does.
void RemoveAt(nlohmann::json& document, const nlohmann::json& root, std::string_view path);

}  // namespace svcd::crdtest

#endif  // SVCD_TESTS_CRDS_SCHEMA_DOCUMENTS_H_
