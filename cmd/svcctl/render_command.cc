// `svcctl render`: renders the per-node scripts of ServiceDeploys offline.
//
// Reads Hosts, ServiceTemplates and ServiceDeploys from files, directories
// (their *.yaml, *.yml and *.json files, not recursive) or stdin (`-`),
// decodes them strictly, applies defaults and renders every deploy. Output
// goes to stdout only when every deploy renders. Otherwise each problem goes
// to stderr as one line, `FILE:LINE:COLUMN: PATH: message`, and the exit
// status is 1. Line and column are known for YAML input only.

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "api/codec.h"
#include "api/defaults.h"
#include "api/document.h"
#include "api/status.h"
#include "api/types.h"
#include "cmd/svcctl/commands.h"
#include "render/render.h"

namespace svcd::ctl {
namespace {

constexpr char kStdinPath[] = "-";
constexpr char kStdinName[] = "<stdin>";

struct RenderFlags {
  std::vector<std::string> paths;
  std::string output = "text";
  size_t max_script_bytes = render::RenderOptions{}.max_script_bytes;
};

template <typename T>
struct Sourced {
  T object;
  std::string source;  // file name, or <stdin>
};

// Everything read from the inputs, keyed by name (Hosts, templates) or by
// NAMESPACE/NAME (deploys).
struct Manifests {
  std::map<std::string, Sourced<api::Host>> hosts;
  std::map<std::string, Sourced<api::ServiceTemplate>> templates;
  std::map<std::string, Sourced<api::ServiceDeploy>> deploys;
  std::map<std::string, std::string> texts;  // source -> input text
};

Cause FileProblem(const std::string& source, std::string message) {
  Cause cause;
  cause.source = source;
  cause.message = std::move(message);
  return cause;
}

std::string DeployKey(const api::ServiceDeploy& deploy) {
  return deploy.metadata.namespace_ + "/" + deploy.metadata.name;
}

bool IsManifestFile(const std::filesystem::path& path) {
  const std::string ext = path.extension().string();
  return ext == ".yaml" || ext == ".yml" || ext == ".json";
}

// Turns the -f arguments into a list of files, expanding directories.
std::vector<std::string> ExpandPaths(const std::vector<std::string>& paths,
                                     std::vector<Cause>& problems) {
  std::vector<std::string> files;
  for (const std::string& path : paths) {
    if (path == kStdinPath) {
      files.push_back(path);
      continue;
    }
    std::error_code error;
    if (!std::filesystem::is_directory(path, error)) {
      files.push_back(path);
      continue;
    }
    std::vector<std::string> found;
    for (const auto& entry : std::filesystem::directory_iterator(path, error)) {
      if (entry.is_regular_file(error) && IsManifestFile(entry.path())) {
        found.push_back(entry.path().string());
      }
    }
    if (error) {
      problems.push_back(FileProblem(path, "cannot list directory: " + error.message()));
    } else if (found.empty()) {
      problems.push_back(FileProblem(path, "directory has no *.yaml, *.yml or *.json file"));
    }
    std::sort(found.begin(), found.end());
    files.insert(files.end(), found.begin(), found.end());
  }
  return files;
}

// Reads a file or stdin, and rejects input over `max_bytes` without reading
// the rest.
std::optional<std::string> ReadInput(const std::string& path, size_t max_bytes,
                                     std::vector<Cause>& problems) {
  const std::string source = path == kStdinPath ? kStdinName : path;
  std::ifstream file;
  std::istream* stream = &std::cin;
  if (path != kStdinPath) {
    file.open(path, std::ios::binary);
    if (!file) {
      problems.push_back(FileProblem(source, "cannot open: " + std::string(std::strerror(errno))));
      return std::nullopt;
    }
    stream = &file;
  }
  std::string text(max_bytes + 1, '\0');
  stream->read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(stream->gcount()));
  if (stream->bad()) {
    problems.push_back(FileProblem(source, "read failed"));
    return std::nullopt;
  }
  if (text.size() > max_bytes) {
    problems.push_back(FileProblem(source, "input is larger than " + std::to_string(max_bytes) +
                                               " bytes: split it into several files"));
    return std::nullopt;
  }
  return text;
}

// Adds `object` to `index` under `key`, or reports a second definition.
template <typename T>
void AddUnique(std::map<std::string, Sourced<T>>& index, const std::string& kind,
               const std::string& key, T object, const std::string& source,
               std::vector<Cause>& problems) {
  auto [it, inserted] = index.try_emplace(key, Sourced<T>{std::move(object), source});
  if (!inserted) {
    problems.push_back(FileProblem(source, kind + " " + key + " is defined twice (first in " +
                                               it->second.source + "): keep one definition"));
  }
}

// Decodes one input and adds its objects to `manifests`.
void DecodeInto(const std::string& source, const std::string& text, Manifests& manifests,
                std::vector<Cause>& problems) {
  api::DecodeOptions options;
  options.source_name = source;
  StatusOr<std::vector<api::Object>> objects =
      api::DecodeObjects(text, api::DetectFormat(text), options);
  if (!objects.ok()) {
    if (objects.status().causes().empty()) {
      problems.push_back(FileProblem(source, objects.status().message()));
    }
    for (Cause cause : objects.status().causes()) {
      cause.source = source;
      problems.push_back(std::move(cause));
    }
    return;
  }

  manifests.texts[source] = text;
  for (api::Object& object : *objects) {
    api::ApplyDefaults(object);
    // The key is copied before the object is moved into the index.
    if (auto* host = std::get_if<api::Host>(&object)) {
      const std::string key = host->metadata.name;
      AddUnique(manifests.hosts, "Host", key, std::move(*host), source, problems);
    } else if (auto* tmpl = std::get_if<api::ServiceTemplate>(&object)) {
      const std::string key = tmpl->metadata.name;
      AddUnique(manifests.templates, "ServiceTemplate", key, std::move(*tmpl), source, problems);
    } else if (auto* deploy = std::get_if<api::ServiceDeploy>(&object)) {
      const std::string key = DeployKey(*deploy);
      AddUnique(manifests.deploys, "ServiceDeploy", key, std::move(*deploy), source, problems);
    }
  }
}

// ---------------------------------------------------------------------------
// Source positions of render problems. The renderer names field paths only,
// so the YAML text is parsed again to find the line of that field.

const api::Node* FindEntry(const api::Node& map, std::string_view key) {
  if (map.type != api::Node::Type::kMap) return nullptr;
  for (const api::MapEntry& entry : map.entries) {
    if (entry.key == key) return &entry.value;
  }
  return nullptr;
}

std::string ScalarAt(const api::Node& map, std::string_view key) {
  const api::Node* node = FindEntry(map, key);
  return node != nullptr && node->type == api::Node::Type::kScalar ? node->text : "";
}

// Finds the object of `kind` named `name` (and `ns` for ServiceDeploys) in
// `node`, looking into the items of a List.
const api::Node* FindObject(const api::Node& node, const std::string& kind, const std::string& name,
                            const std::string& ns) {
  const std::string node_kind = ScalarAt(node, "kind");
  if (node_kind == "List") {
    const api::Node* items = FindEntry(node, "items");
    if (items == nullptr) return nullptr;
    for (const api::Node& item : items->items) {
      if (const api::Node* found = FindObject(item, kind, name, ns)) return found;
    }
    return nullptr;
  }
  const api::Node* metadata = FindEntry(node, "metadata");
  if (node_kind != kind || metadata == nullptr || ScalarAt(*metadata, "name") != name) {
    return nullptr;
  }
  if (kind == api::kKindServiceDeploy) {
    std::string object_ns = ScalarAt(*metadata, "namespace");
    if (object_ns.empty()) object_ns = api::kDefaultNamespace;
    if (object_ns != ns) return nullptr;
  }
  return &node;
}

// Sets cause.line and cause.column to the deepest part of cause.field that
// exists in `object`, such as the `host` key for "spec.workers[1].host".
void LocateField(const api::Node& object, Cause& cause) {
  const api::Node* node = &object;
  std::string_view rest = cause.field;
  while (!rest.empty() && node != nullptr) {
    if (rest.front() == '.') rest.remove_prefix(1);
    if (rest.front() == '[') {
      const size_t close = rest.find(']');
      if (close == std::string_view::npos) return;
      const size_t index =
          std::strtoul(std::string(rest.substr(1, close - 1)).c_str(), nullptr, 10);
      rest.remove_prefix(close + 1);
      if (node->type != api::Node::Type::kSequence || index >= node->items.size()) return;
      node = &node->items[index];
      cause.line = node->line;
      cause.column = node->column;
      continue;
    }
    const size_t end = rest.find_first_of(".[");
    const std::string_view key = rest.substr(0, end);
    rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);
    if (node->type != api::Node::Type::kMap) return;
    const api::MapEntry* found = nullptr;
    for (const api::MapEntry& entry : node->entries) {
      if (entry.key == key) found = &entry;
    }
    if (found == nullptr) return;
    cause.line = found->line;
    cause.column = found->column;
    node = &found->value;
  }
}

// Fields that the renderer reports on the template rather than the deploy.
bool IsTemplateField(const std::string& field) {
  for (const char* prefix : {"spec.defaultEnvs", "spec.defaultMasterArgs", "spec.defaultWorkerArgs",
                             "spec.fixedPrefix"}) {
    if (field.starts_with(prefix)) return true;
  }
  return false;
}

// Points `cause` at the file, line and column of the object it belongs to.
void AttachSource(const Manifests& manifests, const std::string& kind, const std::string& name,
                  const std::string& ns, const std::string& source, Cause& cause) {
  cause.source = source;
  auto text = manifests.texts.find(source);
  if (text == manifests.texts.end() || api::DetectFormat(text->second) != api::Format::kYaml) {
    return;
  }
  StatusOr<std::vector<api::Document>> documents = api::ParseYamlStream(text->second);
  if (!documents.ok()) return;
  for (const api::Document& document : *documents) {
    if (const api::Node* object = FindObject(document.root, kind, name, ns)) {
      LocateField(*object, cause);
      return;
    }
  }
}

// ---------------------------------------------------------------------------
// Rendering and output

// Renders one deploy, or appends its problems with their sources.
std::optional<render::RenderedDeploy> RenderOne(const Manifests& manifests,
                                                const Sourced<api::ServiceDeploy>& deploy,
                                                const render::RenderOptions& options,
                                                const std::map<std::string, api::Host>& hosts,
                                                std::vector<Cause>& problems) {
  const api::ObjectMeta& meta = deploy.object.metadata;
  auto tmpl = manifests.templates.find(deploy.object.spec.template_ref);
  if (tmpl == manifests.templates.end()) {
    Cause cause;
    cause.field = "spec.templateRef";
    cause.message = "ServiceTemplate \"" + deploy.object.spec.template_ref +
                    "\" not found in the given files: add it with -f";
    AttachSource(manifests, api::kKindServiceDeploy, meta.name, meta.namespace_, deploy.source,
                 cause);
    problems.push_back(std::move(cause));
    return std::nullopt;
  }

  StatusOr<render::RenderedDeploy> rendered =
      render::RenderDeploy(deploy.object, tmpl->second.object, hosts, options);
  if (rendered.ok()) return std::move(*rendered);

  for (Cause cause : rendered.status().causes()) {
    if (IsTemplateField(cause.field)) {
      AttachSource(manifests, api::kKindServiceTemplate, tmpl->first, "", tmpl->second.source,
                   cause);
    } else {
      cause.message = "ServiceDeploy " + DeployKey(deploy.object) + ": " + cause.message;
      AttachSource(manifests, api::kKindServiceDeploy, meta.name, meta.namespace_, deploy.source,
                   cause);
    }
    problems.push_back(std::move(cause));
  }
  if (rendered.status().causes().empty()) {
    problems.push_back(FileProblem(deploy.source, rendered.status().message()));
  }
  return std::nullopt;
}

void PrintNodeText(const std::string& deploy, const render::NodeScript& node) {
  std::cout << "# ==== " << deploy << " " << node.name << " (host " << node.host << ", "
            << node.hash << ")\n"
            << node.script;
}

void PrintText(const std::vector<render::RenderedDeploy>& rendered) {
  bool first = true;
  for (const render::RenderedDeploy& deploy : rendered) {
    std::vector<const render::NodeScript*> nodes = {&deploy.master};
    for (const render::NodeScript& worker : deploy.workers) nodes.push_back(&worker);
    for (const render::NodeScript* node : nodes) {
      if (!first) std::cout << "\n";
      first = false;
      PrintNodeText(deploy.deploy, *node);
    }
  }
}

void PrintJson(const std::vector<render::RenderedDeploy>& rendered) {
  nlohmann::json out;
  if (rendered.size() == 1) {
    out = render::ToJson(rendered[0]);
  } else {
    out = nlohmann::json::object();
    for (const render::RenderedDeploy& deploy : rendered) out[deploy.deploy] = ToJson(deploy);
  }
  std::cout << out.dump(2) << "\n";
}

int PrintProblems(const std::vector<Cause>& problems) {
  for (const Cause& problem : problems) std::cerr << problem.ToString() << "\n";
  return 1;
}

int RunRender(const RenderFlags& flags) {
  std::vector<Cause> problems;
  Manifests manifests;
  const size_t max_input_bytes = api::DecodeOptions{}.max_bytes;
  for (const std::string& path : ExpandPaths(flags.paths, problems)) {
    std::optional<std::string> text = ReadInput(path, max_input_bytes, problems);
    if (text.has_value())
      DecodeInto(path == kStdinPath ? kStdinName : path, *text, manifests, problems);
  }
  if (!problems.empty()) return PrintProblems(problems);
  if (manifests.deploys.empty()) {
    std::cerr << "no ServiceDeploy found in the given files: pass the deploy's manifest with -f\n";
    return 1;
  }

  std::map<std::string, api::Host> hosts;
  for (const auto& [name, host] : manifests.hosts) hosts.emplace(name, host.object);
  render::RenderOptions options;
  options.max_script_bytes = flags.max_script_bytes;
  std::vector<render::RenderedDeploy> rendered;
  for (const auto& [key, deploy] : manifests.deploys) {
    std::optional<render::RenderedDeploy> one =
        RenderOne(manifests, deploy, options, hosts, problems);
    if (one.has_value()) rendered.push_back(std::move(*one));
  }
  if (!problems.empty()) return PrintProblems(problems);

  if (flags.output == "json") {
    PrintJson(rendered);
  } else {
    PrintText(rendered);
  }
  return 0;
}

}  // namespace

void AddRenderCommand(CLI::App& app, CommandRegistry& registry) {
  auto flags = std::make_shared<RenderFlags>();
  CLI::App* command = app.add_subcommand(
      "render", "Render the per-node scripts of ServiceDeploys offline, from manifest files");
  command
      ->add_option("-f,--filename", flags->paths,
                   "Manifest file, directory of *.yaml, *.yml and *.json files, or - for stdin; "
                   "repeatable")
      ->required();
  command->add_option("-o,--output", flags->output, "Output format: text (default) or json")
      ->check(CLI::IsMember({"text", "json"}));
  command
      ->add_option("--max-script-bytes", flags->max_script_bytes,
                   "Maximum size of one node's script in bytes (default 65536)")
      ->check(CLI::PositiveNumber);
  registry.Add(command, [flags] { return RunRender(*flags); });
}

}  // namespace svcd::ctl
