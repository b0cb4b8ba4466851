// Loads YAML into JSON values the way kubectl's YAML loader does, for tests
// that check manifests against the CRDs as a Kubernetes API server would.
//
// kubectl converts YAML to JSON with sigs.k8s.io/yaml, which resolves plain
// (unquoted) scalars by their spelling with go-yaml v2's YAML 1.1 rules:
// `no`, `off` and `y` become booleans, `010` the octal 8, `1e3` a float and
// `~` null. Quoted and block scalars stay strings. svcd's own codec never
// does this, which is why only svcd catches some mistakes in
// tests/testdata/manifests/bad.

#ifndef SVCD_TESTS_CRDS_YAML11_LOADER_H_
#define SVCD_TESTS_CRDS_YAML11_LOADER_H_

#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "api/status.h"

namespace svcd::crdtest {

// Converts one yaml-cpp node to JSON, resolving plain scalars as YAML 1.1.
// Fails with InvalidArgument naming the path and line of a key that occurs
// twice in one mapping, or of a mapping key that is not a scalar.
StatusOr<nlohmann::json> NodeToJson(const YAML::Node& node);

// Parses every document of a YAML stream and converts it. Empty and
// comment-only documents are skipped. Fails with InvalidArgument, naming the
// line and column, when yaml-cpp cannot parse the text (tab indentation, for
// one) or a document has a duplicate key.
StatusOr<std::vector<nlohmann::json>> LoadYamlDocuments(std::string_view text);

// Returns the JSON value that a YAML 1.1 loader gives a plain scalar.
nlohmann::json ResolvePlainScalar(const std::string& text);

}  // namespace svcd::crdtest

#endif  // SVCD_TESTS_CRDS_YAML11_LOADER_H_
