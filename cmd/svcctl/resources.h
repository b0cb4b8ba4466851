// Shared parts of svcctl's resource commands: the global options, kind
// names, REST paths and output helpers.

#ifndef SVCD_CMD_SVCCTL_RESOURCES_H_
#define SVCD_CMD_SVCCTL_RESOURCES_H_

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "api/status.h"
#include "api/types.h"
#include "cmd/svcctl/client.h"

namespace svcd::ctl {

// Options given before the subcommand, shared by every command.
struct GlobalOptions {
  std::string server;           // --server; empty: SVCD_SERVER, then http://127.0.0.1:7070
  std::string token;            // --token; empty: SVCD_TOKEN
  std::string namespace_;       // -n; empty: "default"
  std::string timeout = "30s";  // --request-timeout
};

// A resource kind as the REST API and the command line name it.
struct KindInfo {
  std::string kind;      // "ServiceDeploy"
  std::string plural;    // "servicedeploys"
  std::string singular;  // "servicedeploy"
  bool namespaced = false;
};

// Resolves "hosts", "host", "Host", "servicetemplates", "st", "sd", ... or
// fails with InvalidArgument listing the valid names.
StatusOr<KindInfo> ResolveKind(const std::string& name);
KindInfo KindInfoOf(const std::string& kind);  // kind must be one of the three

// Splits "sd/NAME" into kind and name; a bare word is returned as kind only.
StatusOr<std::pair<KindInfo, std::string>> ResolveKindSlashName(const std::string& text);

// REST paths. `ns` is ignored for cluster-scoped kinds; an empty `ns` for a
// namespaced collection means all namespaces.
std::string CollectionPath(const KindInfo& kind, const std::string& ns);
std::string ObjectPath(const KindInfo& kind, const std::string& ns, const std::string& name);

// Builds the client from the global options and the environment.
ApiClient MakeClient(const GlobalOptions& options);
std::string EffectiveNamespace(const GlobalOptions& options);

// Parses a duration such as "30s", "5m", "1h", "500ms" or a bare number of
// seconds into milliseconds.
StatusOr<int64_t> ParseDurationMs(const std::string& text);

// Prints every line of a failed status on stderr, prefixed "error: ".
int PrintError(const Status& status);

// Sends a request and decodes a 2xx JSON reply; any other reply becomes the
// Status it carries.
StatusOr<nlohmann::json> CallJson(const ApiClient& client, const std::string& method,
                                  const std::string& path, const std::string& body = "");

// Converts an object as the server sends it to YAML that decodes back to the
// same object.
StatusOr<std::string> JsonObjectToYaml(const nlohmann::json& object);

// "5d", "3h", "12m", "40s" since an RFC 3339 time; "<unknown>" when unreadable.
std::string FormatAge(const std::string& rfc3339);

// The AGE cell of an event: the age of its newest occurrence, and for a
// repeated event "(xCOUNT over AGE)" with the age of the first, as kubectl
// prints it.
std::string EventAge(const nlohmann::json& event);

// Prints rows as left-aligned columns separated by three spaces.
void PrintTable(const std::vector<std::vector<std::string>>& rows);

}  // namespace svcd::ctl

#endif  // SVCD_CMD_SVCCTL_RESOURCES_H_
