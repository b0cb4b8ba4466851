#include "render/render.h"

#include <openssl/evp.h>

#include <array>
#include <optional>
#include <span>

#include "render/merge.h"
#include "render/shell.h"

namespace svcd::render {
namespace {

Cause MakeCause(std::string field, std::string message) {
  Cause cause;
  cause.field = std::move(field);
  cause.message = std::move(message);
  return cause;
}

// One node to render and where its fields live, for error paths.
struct NodeInput {
  std::string name;   // "master", "worker-0", ...
  std::string role;   // "master" | "worker"
  std::string field;  // "spec.master", "spec.workers[0]"
  int rank = 0;
  const api::NodeSpec* spec = nullptr;
  const api::Host* host = nullptr;
};

// Facts shared by every node of one deploy.
struct DeployContext {
  std::string key;          // NAMESPACE/NAME
  std::string master_addr;  // the master Host's spec.address
  int node_count = 0;
  std::string prefix;           // fixed prefix, trailing whitespace removed
  std::string template_object;  // `ServiceTemplate "NAME"`, for messages
};

// Variables of one node while expanding: per-node variables and envs.
using VariableMap = std::map<std::string, std::string, std::less<>>;

// Appends the causes of `status` (or its message) unless an equal cause is
// already listed. Template and deploy envs are merged once per node, so
// their problems would otherwise repeat for every node.
void AddCauses(const Status& status, std::vector<Cause>& causes) {
  std::vector<Cause> added = status.causes();
  if (added.empty()) added.push_back(MakeCause("", status.message()));
  for (Cause& cause : added) {
    if (std::find(causes.begin(), causes.end(), cause) == causes.end()) {
      causes.push_back(std::move(cause));
    }
  }
}

// Replaces control bytes so that a name cannot end the header comment line.
std::string CommentSafe(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    const unsigned char byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) c = '?';
  }
  return out;
}

std::string TrimTrailingSpace(std::string_view text) {
  const size_t end = text.find_last_not_of(" \t\r\n\v\f");
  return std::string(end == std::string_view::npos ? "" : text.substr(0, end + 1));
}

// Looks up the Host that `field` names, or appends a cause and returns null.
const api::Host* ResolveHost(const std::string& field, const std::string& name,
                             const std::map<std::string, api::Host>& hosts,
                             std::vector<Cause>& causes) {
  if (name.empty()) {
    causes.push_back(MakeCause(field, "missing Host name: set it to the name of a Host"));
    return nullptr;
  }
  auto it = hosts.find(name);
  if (it == hosts.end()) {
    causes.push_back(
        MakeCause(field, "Host \"" + name + "\" not found: create it or fix the name"));
    return nullptr;
  }
  if (it->second.spec.address.empty()) {
    causes.push_back(
        MakeCause(field, "Host \"" + name + "\" has no spec.address: set it on the Host"));
    return nullptr;
  }
  if (it->second.spec.address.find('\0') != std::string::npos) {
    causes.push_back(MakeCause(field, "spec.address of Host \"" + name + "\" contains a NUL byte"));
    return nullptr;
  }
  return &it->second;
}

std::vector<api::EnvVar> NodeVariables(const DeployContext& deploy, const NodeInput& node) {
  return {
      {"SVCD_MASTER_ADDR", deploy.master_addr},
      {"SVCD_NODE_ADDR", node.host->spec.address},
      {"SVCD_NODE_RANK", std::to_string(node.rank)},
      {"SVCD_NODE_COUNT", std::to_string(deploy.node_count)},
      {"SVCD_ROLE", node.role},
      {"SVCD_DEPLOY", deploy.key},
  };
}

VariableLookup LookupIn(const VariableMap& variables) {
  return [&variables](std::string_view name) -> std::optional<std::string> {
    auto it = variables.find(name);
    if (it == variables.end()) return std::nullopt;
    return it->second;
  };
}

// Expands env values in merged order. Each env can reference the per-node
// variables and the envs before it, because `variables` grows as the loop goes.
void ExpandEnvs(std::vector<api::EnvVar>& envs, VariableMap& variables) {
  const VariableLookup lookup = LookupIn(variables);
  for (api::EnvVar& env : envs) {
    env.value = ExpandVariables(env.value, lookup);
    variables[env.name] = env.value;
  }
}

std::vector<std::string> BuildArgvTail(const MergedArgs& args, const VariableMap& variables) {
  const VariableLookup lookup = LookupIn(variables);
  std::vector<std::string> argv;
  for (const std::string& value : args.positional) argv.push_back(ExpandVariables(value, lookup));
  for (const NamedArg& arg : args.named) {
    argv.push_back(arg.option);
    if (arg.value.has_value()) argv.push_back(ExpandVariables(*arg.value, lookup));
  }
  return argv;
}

// Writes the script text. Option words passed IsValidArgName, so only
// values need quoting; the options are left bare so the script reads well.
std::string WriteScript(const DeployContext& deploy, const NodeInput& node,
                        const std::vector<api::EnvVar>& envs, const MergedArgs& args,
                        const std::vector<std::string>& argv_tail) {
  std::string script = "#!/bin/sh\n";
  script += "# svcd: deploy " + CommentSafe(deploy.key) + ", node " + node.name + " (rank " +
            std::to_string(node.rank) + " of " + std::to_string(deploy.node_count) + "), host " +
            CommentSafe(node.spec->host) + "\n";
  for (const api::EnvVar& env : envs) {
    script += "export " + env.name + "=" + ShellQuote(env.value) + "\n";
  }

  script += deploy.prefix;
  size_t word = 0;
  for (; word < args.positional.size(); ++word) script += " " + ShellQuote(argv_tail[word]);
  for (const NamedArg& arg : args.named) {
    script += " " + argv_tail[word++];
    if (arg.value.has_value()) script += " " + ShellQuote(argv_tail[word++]);
  }
  script += "\n";
  return script;
}

// Renders one node, or appends its problems to `causes` and returns nullopt.
std::optional<NodeScript> RenderNode(const DeployContext& deploy, const NodeInput& node,
                                     const api::ServiceDeploy& sd, const api::ServiceTemplate& tmpl,
                                     const RenderOptions& options, std::vector<Cause>& causes) {
  const bool is_master = node.role == "master";
  const std::array<EnvLayer, 3> env_layers = {
      EnvLayer{"spec.defaultEnvs", deploy.template_object, tmpl.spec.default_envs},
      EnvLayer{"spec.envs", "", sd.spec.envs},
      EnvLayer{node.field + ".envs", "", node.spec->envs},
  };
  const std::array<ArgLayer, 2> arg_layers = {
      ArgLayer{is_master ? "spec.defaultMasterArgs" : "spec.defaultWorkerArgs",
               deploy.template_object,
               is_master ? tmpl.spec.default_master_args : tmpl.spec.default_worker_args},
      ArgLayer{node.field + ".args", "", node.spec->args},
  };
  StatusOr<std::vector<api::EnvVar>> merged_envs = MergeEnvs(env_layers);
  StatusOr<MergedArgs> merged_args = MergeArgs(arg_layers);
  if (!merged_envs.ok()) AddCauses(merged_envs.status(), causes);
  if (!merged_args.ok()) AddCauses(merged_args.status(), causes);
  if (!merged_envs.ok() || !merged_args.ok()) return std::nullopt;

  NodeScript out;
  out.name = node.name;
  out.role = node.role;
  out.rank = node.rank;
  out.host = node.spec->host;
  out.address = node.host->spec.address;
  out.envs = NodeVariables(deploy, node);
  VariableMap variables;
  for (const api::EnvVar& env : out.envs) variables[env.name] = env.value;
  ExpandEnvs(*merged_envs, variables);
  out.envs.insert(out.envs.end(), merged_envs->begin(), merged_envs->end());
  out.argv_tail = BuildArgvTail(*merged_args, variables);
  out.script = WriteScript(deploy, node, out.envs, *merged_args, out.argv_tail);

  if (out.script.size() > options.max_script_bytes) {
    causes.push_back(MakeCause(node.field, "rendered script for " + node.name + " is " +
                                               std::to_string(out.script.size()) +
                                               " bytes, over the limit of " +
                                               std::to_string(options.max_script_bytes) +
                                               " bytes: shorten its envs and args"));
    return std::nullopt;
  }
  return out;
}

// Checks the deploy-wide inputs and fills `context`, and appends a cause
// for each problem.
void PrepareDeploy(const api::ServiceDeploy& sd, const api::ServiceTemplate& tmpl,
                   DeployContext& context, std::vector<Cause>& causes) {
  const std::string& ns = sd.metadata.namespace_;
  context.key = (ns.empty() ? std::string(api::kDefaultNamespace) : ns) + "/" + sd.metadata.name;
  context.node_count = 1 + static_cast<int>(sd.spec.workers.size());
  context.template_object = "ServiceTemplate \"" + tmpl.metadata.name + "\"";
  context.prefix = TrimTrailingSpace(tmpl.spec.fixed_prefix);

  if (sd.spec.template_ref.empty()) {
    causes.push_back(
        MakeCause("spec.templateRef", "missing: set it to the name of a ServiceTemplate"));
  } else if (sd.spec.template_ref != tmpl.metadata.name) {
    causes.push_back(MakeCause("spec.templateRef", "names \"" + sd.spec.template_ref +
                                                       "\" but the template given is \"" +
                                                       tmpl.metadata.name + "\""));
  }
  if (context.prefix.empty()) {
    causes.push_back(
        MakeCause("spec.fixedPrefix",
                  context.template_object + " has an empty fixed prefix: set the command"));
  } else if (context.prefix.find('\0') != std::string::npos) {
    causes.push_back(MakeCause("spec.fixedPrefix",
                               context.template_object + " has a NUL byte in its fixed prefix"));
  }
}

}  // namespace

StatusOr<std::string> HashBytes(std::string_view bytes) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1) {
    return Status::Internal("SHA-256 of the rendered script failed in OpenSSL");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "sha256:";
  for (unsigned int i = 0; i < length; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0x0f];
  }
  return out;
}

StatusOr<RenderedDeploy> RenderDeploy(const api::ServiceDeploy& deploy,
                                      const api::ServiceTemplate& tmpl,
                                      const std::map<std::string, api::Host>& hosts,
                                      const RenderOptions& options) {
  std::vector<Cause> causes;
  DeployContext context;
  PrepareDeploy(deploy, tmpl, context, causes);

  // Resolve every Host first, so that one error lists all missing ones.
  std::vector<NodeInput> nodes;
  nodes.push_back({"master", "master", "spec.master", 0, &deploy.spec.master, nullptr});
  for (size_t i = 0; i < deploy.spec.workers.size(); ++i) {
    nodes.push_back({"worker-" + std::to_string(i), "worker",
                     "spec.workers[" + std::to_string(i) + "]", static_cast<int>(i) + 1,
                     &deploy.spec.workers[i], nullptr});
  }
  for (NodeInput& node : nodes) {
    node.host = ResolveHost(node.field + ".host", node.spec->host, hosts, causes);
  }
  if (!causes.empty()) {
    return Status::InvalidArgument("cannot render ServiceDeploy " + context.key, causes);
  }
  context.master_addr = nodes[0].host->spec.address;

  // Render every node, collecting the problems of all of them.
  std::vector<NodeScript> scripts;
  for (const NodeInput& node : nodes) {
    std::optional<NodeScript> script = RenderNode(context, node, deploy, tmpl, options, causes);
    if (script.has_value()) scripts.push_back(std::move(*script));
  }
  if (!causes.empty()) {
    return Status::InvalidArgument("cannot render ServiceDeploy " + context.key, causes);
  }

  for (NodeScript& script : scripts) {
    StatusOr<std::string> hash = HashBytes(script.script);
    if (!hash.ok()) return hash.status();
    script.hash = std::move(*hash);
  }
  RenderedDeploy rendered;
  rendered.deploy = context.key;
  rendered.master = std::move(scripts[0]);
  rendered.workers.assign(std::make_move_iterator(scripts.begin() + 1),
                          std::make_move_iterator(scripts.end()));
  return rendered;
}

nlohmann::json ToJson(const RenderedDeploy& rendered) {
  nlohmann::json workers = nlohmann::json::array();
  nlohmann::json hashes = nlohmann::json::object();
  hashes[rendered.master.name] = rendered.master.hash;
  for (const NodeScript& worker : rendered.workers) {
    workers.push_back(worker.script);
    hashes[worker.name] = worker.hash;
  }
  return {{"master", rendered.master.script}, {"workers", workers}, {"hashes", hashes}};
}

}  // namespace svcd::render
