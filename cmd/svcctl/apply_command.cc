// svcctl apply and svcctl diff: send manifests to svcd.

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "api/codec.h"
#include "api/defaults.h"
#include "cmd/svcctl/commands.h"
#include "cmd/svcctl/manifests.h"
#include "cmd/svcctl/resources.h"

namespace svcd::ctl {
namespace {

struct ApplyFlags {
  std::vector<std::string> files;
  bool recursive = false;
  std::string dry_run = "none";  // none | client | server
  bool prune = false;
  std::string applyset;
};

std::string ObjectRef(const KindInfo& kind, const std::string& name) {
  return kind.singular + "/" + name;
}

// Wraps the objects in a List, the body POST .../apply takes.
std::string ListBody(const std::vector<LoadedObject>& objects) {
  nlohmann::json items = nlohmann::json::array();
  for (const LoadedObject& loaded : objects) items.push_back(api::EncodeJson(loaded.object));
  return nlohmann::json{{"apiVersion", "v1"}, {"kind", "List"}, {"items", items}}.dump();
}

std::string ApplyPath(const ApplyFlags& flags, bool dry_run) {
  std::string path = "/apis/svcd.io/v1alpha1/apply";
  std::vector<std::string> query;
  if (dry_run) query.push_back("dryRun=All");
  if (!flags.applyset.empty()) query.push_back("applyset=" + UrlEncode(flags.applyset));
  if (flags.prune) query.push_back("prune=true");
  for (size_t i = 0; i < query.size(); ++i) path += (i == 0 ? "?" : "&") + query[i];
  return path;
}

// Gives deploys without metadata.namespace the namespace of -n, as kubectl does.
void FillNamespace(const GlobalOptions& global, std::vector<LoadedObject>& objects) {
  for (LoadedObject& loaded : objects) {
    if (auto* deploy = std::get_if<api::ServiceDeploy>(&loaded.object)) {
      if (deploy->metadata.namespace_.empty()) {
        deploy->metadata.namespace_ = EffectiveNamespace(global);
      }
    }
  }
}

// Client-side dry run: validates locally and compares with the live objects.
int ClientDryRun(const ApiClient& client, const std::vector<LoadedObject>& objects) {
  for (const LoadedObject& loaded : objects) {
    api::Object desired = loaded.object;
    api::ApplyDefaults(desired);
    const KindInfo kind = KindInfoOf(api::KindOf(desired));
    const api::ObjectMeta& meta = api::MetaOf(desired);
    StatusOr<nlohmann::json> live =
        CallJson(client, "GET", ObjectPath(kind, meta.namespace_, meta.name));
    std::string action = "created";
    if (live.ok()) {
      auto decoded = api::DecodeObjects(live->dump(), api::Format::kJson);
      action = "configured";
      if (decoded.ok() && decoded->size() == 1 && api::SpecEquivalent(decoded->front(), desired) &&
          api::MetaOf(decoded->front()).labels == meta.labels &&
          api::MetaOf(decoded->front()).annotations == meta.annotations) {
        action = "unchanged";
      }
    } else if (live.status().code() != Code::kNotFound) {
      return PrintError(live.status());
    }
    std::cout << ObjectRef(kind, meta.name) << " " << action << " (dry run)\n";
  }
  return 0;
}

int RunApply(const GlobalOptions& global, ApplyFlags flags) {
  if (flags.dry_run.empty()) flags.dry_run = "client";  // a bare --dry-run, as in kubectl
  if (flags.prune && flags.applyset.empty()) {
    return PrintError(Status::InvalidArgument(
        "--prune needs --applyset NAME: only objects recorded in that apply set are pruned"));
  }
  if (flags.dry_run != "none" && flags.dry_run != "client" && flags.dry_run != "server") {
    return PrintError(Status::InvalidArgument("invalid --dry-run value \"" + flags.dry_run +
                                              "\": use none, client or server"));
  }
  StatusOr<std::vector<LoadedObject>> objects = LoadManifests(flags.files, flags.recursive);
  if (!objects.ok()) return PrintError(objects.status());
  FillNamespace(global, *objects);
  if (objects->empty() && !flags.prune) {
    return PrintError(Status::InvalidArgument("no objects found in the given files"));
  }
  const ApiClient client = MakeClient(global);
  // Only svcd knows the members of an apply set, so a client dry run with
  // --prune asks svcd's dry run what would be pruned.
  if (flags.dry_run == "client" && !flags.prune) return ClientDryRun(client, *objects);

  const bool dry_run = flags.dry_run != "none";
  StatusOr<nlohmann::json> reply =
      CallJson(client, "POST", ApplyPath(flags, dry_run), ListBody(*objects));
  if (!reply.ok()) return PrintError(reply.status());
  std::string suffix;
  if (flags.dry_run == "client") suffix = " (dry run)";
  if (flags.dry_run == "server") suffix = " (server dry run)";
  for (const auto& result : (*reply)["results"]) {
    const KindInfo kind = KindInfoOf(result.value("kind", ""));
    std::cout << ObjectRef(kind, result.value("name", "")) << " " << result.value("action", "")
              << suffix << "\n";
  }
  return 0;
}

// ---------------------------------------------------------------------------
// diff

// The parts of an object a user's manifest controls; the rest is the
// server's (uid, resourceVersion, status, ...).
nlohmann::json ComparablePart(nlohmann::json object) {
  object.erase("status");
  if (object.contains("metadata")) {
    nlohmann::json& meta = object["metadata"];
    for (const char* key : {"uid", "resourceVersion", "generation", "creationTimestamp",
                            "deletionTimestamp", "finalizers"}) {
      meta.erase(key);
    }
  }
  return object;
}

StatusOr<std::string> ComparableYaml(const nlohmann::json& object) {
  return JsonObjectToYaml(ComparablePart(object));
}

bool WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  return static_cast<bool>(out);
}

// Runs `diff -u` on the two texts; returns its exit status (0 same, 1 differ).
int UnifiedDiff(const std::string& label, const std::string& live, const std::string& desired) {
  char dir_template[] = "/tmp/svcctl-diff.XXXXXX";
  const char* dir = mkdtemp(dir_template);
  if (dir == nullptr) return 2;
  const std::string live_path = std::string(dir) + "/live";
  const std::string desired_path = std::string(dir) + "/desired";
  int rc = 2;
  if (WriteFile(live_path, live) && WriteFile(desired_path, desired)) {
    std::cout.flush();
    const std::string command = "diff -u --label 'live/" + label + "' --label 'desired/" + label +
                                "' '" + live_path + "' '" + desired_path + "'";
    const int status = std::system(command.c_str());
    rc = WIFEXITED(status) ? WEXITSTATUS(status) : 2;
  }
  std::filesystem::remove_all(dir);
  return rc;
}

int RunDiff(const GlobalOptions& global, const ApplyFlags& flags) {
  StatusOr<std::vector<LoadedObject>> objects = LoadManifests(flags.files, flags.recursive);
  if (!objects.ok()) return PrintError(objects.status()) + 1;
  FillNamespace(global, *objects);
  const ApiClient client = MakeClient(global);
  // The server's dry run returns each object as it would be stored.
  StatusOr<nlohmann::json> reply =
      CallJson(client, "POST", ApplyPath({}, /*dry_run=*/true), ListBody(*objects));
  if (!reply.ok()) return PrintError(reply.status()) + 1;

  int exit_code = 0;
  for (const auto& result : (*reply)["results"]) {
    const KindInfo kind = KindInfoOf(result.value("kind", ""));
    const std::string name = result.value("name", "");
    const std::string ns = result.value("namespace", "");
    std::string live_yaml;
    StatusOr<nlohmann::json> live = CallJson(client, "GET", ObjectPath(kind, ns, name));
    if (live.ok()) {
      StatusOr<std::string> yaml = ComparableYaml(*live);
      if (!yaml.ok()) return PrintError(yaml.status()) + 1;
      live_yaml = *yaml;
    } else if (live.status().code() != Code::kNotFound) {
      return PrintError(live.status()) + 1;
    }
    StatusOr<std::string> desired_yaml = ComparableYaml(result["object"]);
    if (!desired_yaml.ok()) return PrintError(desired_yaml.status()) + 1;
    const std::string label = kind.singular + "/" + (kind.namespaced ? ns + "/" : "") + name;
    const int rc = UnifiedDiff(label, live_yaml, *desired_yaml);
    if (rc > 1) return PrintError(Status::Internal("running diff -u failed")) + 1;
    exit_code = std::max(exit_code, rc);
  }
  return exit_code;
}

}  // namespace

void AddApplyCommands(CLI::App& app, const GlobalOptions& global, CommandRegistry& registry) {
  auto flags = std::make_shared<ApplyFlags>();
  CLI::App* apply = app.add_subcommand("apply", "Create or update objects from manifest files");
  apply->add_option("-f,--filename", flags->files, "File, directory or - for stdin")->required();
  apply->add_flag("-R,--recursive", flags->recursive, "Read directories recursively");
  // No default_str: CLI11 gives a bare --dry-run the default string as its
  // value, and "none" there would turn the dry run into a real write.
  apply
      ->add_option("--dry-run", flags->dry_run,
                   "none (default), client or server: validate, write nothing; a bare --dry-run "
                   "is client")
      ->expected(0, 1);
  apply->add_flag("--prune", flags->prune,
                  "Delete objects of the apply set that these manifests no longer hold");
  apply->add_option("--applyset", flags->applyset, "Name of the apply set these objects belong to");
  registry.Add(apply, [&global, flags] { return RunApply(global, *flags); });

  auto diff_flags = std::make_shared<ApplyFlags>();
  CLI::App* diff = app.add_subcommand(
      "diff", "Show a unified diff of live objects against manifests (exit 1 when they differ)");
  diff->add_option("-f,--filename", diff_flags->files, "File, directory or - for stdin")
      ->required();
  diff->add_flag("-R,--recursive", diff_flags->recursive, "Read directories recursively");
  registry.Add(diff, [&global, diff_flags] { return RunDiff(global, *diff_flags); });
}

}  // namespace svcd::ctl
