// The command renderer: pure functions from a ServiceDeploy, its
// ServiceTemplate and its Hosts to one POSIX sh script per node.
//
// Rendering one node:
//   1. Envs merge in three layers: template spec.defaultEnvs, deploy
//      spec.envs, then the node's envs (see MergeEnvs for the rules).
//   2. Args merge in two layers: template spec.defaultMasterArgs (or
//      spec.defaultWorkerArgs for a worker), then the node's args (see
//      MergeArgs). The deploy has no args of its own.
//   3. `$(NAME)` references expand (see ExpandVariables). In an env value,
//      NAME may be a per-node variable or an env earlier in the merged list.
//      In an arg value, NAME may be a per-node variable or any merged env.
//      Other references stay as written. svcd expands references itself,
//      and every value reaches the shell single-quoted.
//   4. The script is written:
//        #!/bin/sh
//        # svcd: deploy NAMESPACE/NAME, node worker-0 (rank 1 of 3), host HOST
//        export SVCD_MASTER_ADDR='...'    (the per-node variables, then the envs)
//        FIXED_PREFIX 'positional' ... --name 'value' ... --flag
//      The fixed prefix is trusted shell text and is copied as written, less
//      trailing whitespace, so the args continue its last line. Positional
//      args come right after the prefix (template's, then the node's) and
//      named args follow in merged order. Putting positional args first keeps
//      `vllm serve MODEL` working and stops a flag that takes an optional
//      value from swallowing a positional arg.
//
// Per-node variables, exported first on every node:
//   SVCD_MASTER_ADDR  spec.address of the master's Host
//   SVCD_NODE_ADDR    spec.address of this node's Host
//   SVCD_NODE_RANK    0 for the master, i+1 for worker-i
//   SVCD_NODE_COUNT   1 + number of workers
//   SVCD_ROLE         master | worker
//   SVCD_DEPLOY       NAMESPACE/NAME (namespace "default" when empty)
//
// Every value is single-quoted (ShellQuote), so dash and bash running as
// `sh` both deliver it byte for byte. A script always starts with "#!/bin/sh",
// which keeps a PowerJob shell processor from reading it as a URL to fetch
// (it downloads text that starts with http, https or ftp).

#ifndef SVCD_RENDER_RENDER_H_
#define SVCD_RENDER_RENDER_H_

#include <cstddef>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "api/status.h"
#include "api/types.h"

namespace svcd::render {

struct RenderOptions {
  // Maximum size of one node's script in bytes. A larger script is an
  // error, never truncated.
  size_t max_script_bytes = 64 * 1024;
};

// The rendered command of one node (one target of the deploy).
struct NodeScript {
  std::string name;     // target name: "master", "worker-0", "worker-1", ...
  std::string role;     // "master" | "worker"
  int rank = 0;         // 0 for the master, i+1 for worker-i
  std::string host;     // Host name
  std::string address;  // the Host's spec.address
  // Every exported variable in script order: the per-node variables, then
  // the merged envs, with values expanded.
  std::vector<api::EnvVar> envs;
  // The argv words after the fixed prefix, expanded and unquoted.
  std::vector<std::string> argv_tail;
  std::string script;  // the whole script text
  std::string hash;    // "sha256:" and 64 lowercase hex digits of `script`

  friend bool operator==(const NodeScript&, const NodeScript&) = default;
};

struct RenderedDeploy {
  std::string deploy;  // NAMESPACE/NAME
  NodeScript master;
  std::vector<NodeScript> workers;  // workers[i] is worker-i

  friend bool operator==(const RenderedDeploy&, const RenderedDeploy&) = default;
};

// Renders the script of every node of `deploy`. `tmpl` must be the template
// that deploy.spec.templateRef names, and `hosts` maps Host names to Hosts;
// Hosts that the deploy does not use are ignored. Host.spec.disabled is not
// checked: rendering shows what would run, not whether it may be dispatched.
// The result depends only on the arguments, so equal inputs give equal
// scripts and hashes. The function keeps no state and may run on several
// threads at once.
//
// Returns InvalidArgument with one Cause per problem, naming the field path:
// a templateRef that does not match `tmpl`, an empty fixed prefix, a missing
// or unknown Host (spec.master.host, spec.workers[1].host), a Host without
// an address, any env or arg problem reported by MergeEnvs and MergeArgs, or
// a script over options.max_script_bytes (naming the node and its size).
// Returns Internal only if hashing fails. Nothing partial is returned.
StatusOr<RenderedDeploy> RenderDeploy(const api::ServiceDeploy& deploy,
                                      const api::ServiceTemplate& tmpl,
                                      const std::map<std::string, api::Host>& hosts,
                                      const RenderOptions& options = {});

// Returns "sha256:" followed by the lowercase hex SHA-256 of `bytes`, or
// Internal when OpenSSL fails.
StatusOr<std::string> HashBytes(std::string_view bytes);

// Returns the JSON form printed by `svcctl render -o json`:
//   {"master": SCRIPT, "workers": [SCRIPT, ...],
//    "hashes": {"master": "sha256:...", "worker-0": "sha256:...", ...}}
nlohmann::json ToJson(const RenderedDeploy& rendered);

}  // namespace svcd::render

#endif  // SVCD_RENDER_RENDER_H_
