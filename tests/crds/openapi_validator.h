// A small OpenAPI v3 schema validator, enough to check manifests against
// svcd's CRDs the way a Kubernetes API server with strict field validation
// (`kubectl apply --validate=strict`) checks a custom resource.
//
// Supported keywords: type, properties, required, additionalProperties
// (false or a schema), items, enum, pattern, minLength, maxLength, minimum,
// maximum, minItems, maxItems, oneOf, anyOf, allOf, not,
// x-kubernetes-list-type (map, set) with x-kubernetes-list-map-keys, and
// x-kubernetes-preserve-unknown-fields. A pattern is an ECMAScript
// std::regex searched anywhere in the string, as OpenAPI specifies. Lengths
// count Unicode code points.
// `format` and `description` are not checked; UnsupportedKeywords lists any
// other keyword a schema uses, so that a test notices one this validator
// would silently ignore.

#ifndef SVCD_TESTS_CRDS_OPENAPI_VALIDATOR_H_
#define SVCD_TESTS_CRDS_OPENAPI_VALIDATOR_H_

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/crds/crd_schema.h"

namespace svcd::crdtest {

// One reason a value does not match its schema.
struct SchemaProblem {
  std::string path;  // "spec.master.args[1].name"; empty for the whole document
  std::string message;

  std::string ToString() const { return (path.empty() ? "<document>" : path) + ": " + message; }
};

// Validates `value`, found at `path`, against one schema node. An object
// whose schema lists properties rejects every other key as an unknown field,
// as strict field validation does. A property whose value is null counts as
// absent, because the API server prunes nulls of fields that are not
// nullable. Returns every problem found, empty when the value matches.
std::vector<SchemaProblem> ValidateValue(const nlohmann::json& value, const nlohmann::json& schema,
                                         const std::string& path = "");

// Validates one manifest document. apiVersion and kind select the CRD; a
// group, version or kind that no CRD serves is a problem at "apiVersion" or
// "kind". metadata gets the checks Kubernetes applies to ObjectMeta: known
// keys, their types, and a name unless generateName is set. The CRD's own
// constraints on metadata.name apply too. The rest is checked against the
// CRD schema.
// NOTE: label and annotation key syntax is not checked here.
std::vector<SchemaProblem> ValidateManifest(const nlohmann::json& document,
                                            const std::vector<Crd>& crds);

// Returns "path: keyword" for every keyword in `schema` or below it that
// ValidateValue neither checks nor deliberately ignores.
std::vector<std::string> UnsupportedKeywords(const nlohmann::json& schema,
                                             const std::string& path = "");

}  // namespace svcd::crdtest

#endif  // SVCD_TESTS_CRDS_OPENAPI_VALIDATOR_H_
