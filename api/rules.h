// Field rules shared by the decoder, the encoder and the schema recorder, and
// the value checks that a regular expression cannot express.
//
// Every field of every resource is described once, in api/fields.h, as a
// call such as `v.Int("port", p.port, {.required = true, .minimum = 1})`.
// The Rules argument is what the decoder enforces and what DescribeFields
// reports, so the two cannot drift apart.

#ifndef SVCD_API_RULES_H_
#define SVCD_API_RULES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/types.h"

namespace svcd::api {

// Returns an empty string when `value` is valid, else the reason it is not,
// phrased to follow `invalid <what> "<value>": `.
using ValueCheck = std::string (*)(std::string_view value);

// Constraints on one field. Designated initializers must follow this order.
struct Rules {
  // Scalars and objects: the field must be present and not null; strings
  // must also be non-empty and lists must have at least one item.
  bool required = false;
  std::string_view what;  // noun used in messages, such as "arg name"
  std::vector<std::string_view> enum_values;
  std::optional<int64_t> minimum;  // integers
  std::optional<int64_t> maximum;
  std::optional<int64_t> max_length;  // strings, and each value of a map
  std::optional<int64_t> max_items;   // lists
  std::string_view pattern;           // ECMAScript regex that strings must match
  ValueCheck check = nullptr;         // strings, and each value of a map
  ValueCheck key_check = nullptr;     // each key of a map
};

// Receives problems found by the cross-field checks in api/fields.h.
class Reporter {
 public:
  virtual ~Reporter() = default;
  // Records a problem at `field`, a path relative to the object being
  // checked: "" for the object itself, or such as "envs[2].name".
  virtual void Error(std::string_view field, std::string message) = 0;
};

// Whether a ServiceDeploy or a cluster-scoped kind owns the metadata, and
// whether a probe may run commands (templates only, because admins write
// them and editors write deploys).
enum class Scope { kCluster, kNamespaced };
enum class ProbeOwner { kTemplate, kDeploy };

inline constexpr char kDns1123LabelPattern[] = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";
inline constexpr char kEnvNamePattern[] = "^[A-Za-z_][A-Za-z0-9_]*$";
inline constexpr char kArgNamePattern[] = "^-{0,2}[A-Za-z0-9][A-Za-z0-9._-]*$";
inline constexpr char kHttpPathPattern[] = "^/\\S*$";
inline constexpr char kHeaderNamePattern[] = "^[A-Za-z0-9!#$%&'*+.^_`|~-]+$";
inline constexpr char kReservedEnvPrefix[] = "SVCD_";
inline constexpr int kMaxWorkers = 256;

// IPv4 address, IPv6 literal (no brackets, no zone) or DNS name; no scheme,
// port, path or spaces.
std::string CheckHostAddress(std::string_view value);
// host:port, with an IPv6 host in brackets, and a port in 1..65535.
std::string CheckWorkerAddress(std::string_view value);
// Rejects the SVCD_ prefix, which svcd's own per-node variables use.
std::string CheckEnvNameNotReserved(std::string_view value);
// Kubernetes label and annotation keys: an optional DNS subdomain prefix and
// "/", then a name of at most 63 characters.
std::string CheckLabelKey(std::string_view value);
// Kubernetes label values: empty, or at most 63 alphanumerics, '-', '_', '.'
// starting and ending with an alphanumeric.
std::string CheckLabelValue(std::string_view value);
// HTTP header values: no CR, LF or other control characters except tab.
std::string CheckHeaderValue(std::string_view value);

// Returns the option as the renderer writes it: the name as written when it
// starts with '-', else "--" followed by the name.
std::string RenderedArgName(std::string_view name);

// Reports each env name that occurs twice in `envs`, at "<field>[i].name".
void CheckUniqueEnvNames(Reporter& reporter, std::string_view field,
                         const std::vector<EnvVar>& envs);
// Reports each named arg whose rendered option occurs twice in `args`.
void CheckUniqueArgNames(Reporter& reporter, std::string_view field, const std::vector<Arg>& args);

}  // namespace svcd::api

#endif  // SVCD_API_RULES_H_
