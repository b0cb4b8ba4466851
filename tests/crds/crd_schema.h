// Loads svcd's CustomResourceDefinitions from crds/ and lists the fields of
// their OpenAPI v3 schemas in the notation of api::DescribeFields, so tests
// can compare the two.

#ifndef SVCD_TESTS_CRDS_CRD_SCHEMA_H_
#define SVCD_TESTS_CRDS_CRD_SCHEMA_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/status.h"

namespace svcd::crdtest {

// The kinds svcd serves, each with the CRD file that describes it.
struct KindFile {
  const char* kind;
  const char* file;  // relative to the source tree
};
inline constexpr KindFile kCrdFiles[] = {
    {"Host", "crds/hosts.svcd.io.yaml"},
    {"ServiceTemplate", "crds/servicetemplates.svcd.io.yaml"},
    {"ServiceDeploy", "crds/servicedeploys.svcd.io.yaml"},
};

// Returns the absolute path of `relative` in the source tree, which the
// build passes in as the SVCD_SOURCE_DIR compile definition.
std::string SourcePath(std::string_view relative);

// Returns the whole content of `path`; fails with NotFound when it cannot be
// read.
StatusOr<std::string> ReadFile(const std::string& path);

// One CustomResourceDefinition with the facts the tests use pulled out.
struct Crd {
  std::string file;
  nlohmann::json document;  // the whole CRD
  std::string group;
  std::string kind;
  std::string plural;
  std::string scope;
  std::string version;  // name of the only entry of spec.versions
  std::vector<std::string> short_names;

  // Returns spec.versions[0].schema.openAPIV3Schema.
  const nlohmann::json& Schema() const;
};

// Loads one CRD file. Fails with InvalidArgument when the file is not YAML,
// is no apiextensions.k8s.io/v1 CustomResourceDefinition, or does not have
// exactly one version with a schema.
StatusOr<Crd> LoadCrd(const std::string& path);

// Loads the CRD of every kind in kCrdFiles, in that order.
StatusOr<std::vector<Crd>> LoadAllCrds();

// Returns the CRD for `kind`, or nullptr.
const Crd* FindCrd(const std::vector<Crd>& crds, std::string_view kind);

// One property of a CRD schema. `path` and `type` use the notation of
// api::FieldInfo: "spec.master.args[].name"; "map" for an object whose
// additionalProperties are strings.
struct SchemaField {
  std::string path;
  std::string type;
  bool required = false;  // listed in the parent's `required`
  std::vector<std::string> enum_values;
  std::optional<int64_t> minimum;
  std::optional<int64_t> maximum;
  std::string pattern;
  std::optional<int64_t> max_length;  // strings; for a map, each value
  std::optional<int64_t> max_items;   // arrays
  std::string description;
  const nlohmann::json* schema = nullptr;  // points into the Crd's document
};

// Returns the type of a schema node in api::FieldInfo notation.
std::string SchemaType(const nlohmann::json& schema);

// Lists every property below `root`, sorted by path, except the root's
// metadata, whose schema Kubernetes defines. The elements of an array of
// scalars appear as "path[]".
std::vector<SchemaField> FlattenSchema(const nlohmann::json& root);

}  // namespace svcd::crdtest

#endif  // SVCD_TESTS_CRDS_CRD_SCHEMA_H_
