// svcctl delete and svcctl describe.

#include <chrono>
#include <iostream>
#include <map>
#include <thread>

#include "api/codec.h"
#include "cmd/svcctl/commands.h"
#include "cmd/svcctl/manifests.h"
#include "cmd/svcctl/resources.h"

namespace svcd::ctl {
namespace {

using Ptr = nlohmann::json::json_pointer;

struct DeleteFlags {
  std::string kind;
  std::string name;
  std::vector<std::string> files;
  bool recursive = false;
  bool wait = false;
  std::string timeout = "60s";
  bool force = false;
  bool ignore_not_found = false;
};

struct ObjectKey {
  KindInfo kind;
  std::string ns;
  std::string name;
};

// Polls until the object is gone or the deadline passes.
Status WaitUntilGone(const ApiClient& client, const ObjectKey& key, int64_t timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  auto pause = std::chrono::milliseconds(100);
  while (true) {
    StatusOr<nlohmann::json> live = CallJson(client, "GET", ObjectPath(key.kind, key.ns, key.name));
    if (!live.ok() && live.status().code() == Code::kNotFound) return Status::Ok();
    if (!live.ok() && live.status().code() != Code::kUnavailable) return live.status();
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::DeadlineExceeded("timed out waiting for " + key.kind.singular + "/" +
                                      key.name +
                                      " to be deleted; it may still be stopping its targets "
                                      "(see svcctl describe)");
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(2000));
  }
}

int RunDelete(const GlobalOptions& global, DeleteFlags flags) {
  StatusOr<int64_t> timeout_ms = ParseDurationMs(flags.timeout);
  if (!timeout_ms.ok()) return PrintError(timeout_ms.status());

  std::vector<ObjectKey> keys;
  if (!flags.files.empty()) {
    if (!flags.kind.empty()) {
      return PrintError(Status::InvalidArgument("give either KIND NAME or -f PATH, not both"));
    }
    StatusOr<std::vector<LoadedObject>> objects = LoadManifests(flags.files, flags.recursive);
    if (!objects.ok()) return PrintError(objects.status());
    for (const LoadedObject& loaded : *objects) {
      const api::ObjectMeta& meta = api::MetaOf(loaded.object);
      const KindInfo kind = KindInfoOf(api::KindOf(loaded.object));
      const std::string ns = meta.namespace_.empty() ? EffectiveNamespace(global) : meta.namespace_;
      keys.push_back({kind, kind.namespaced ? ns : "", meta.name});
    }
  } else {
    StatusOr<std::pair<KindInfo, std::string>> target = ResolveKindSlashName(flags.kind);
    if (!target.ok()) return PrintError(target.status());
    std::string name = target->second.empty() ? flags.name : target->second;
    if (name.empty()) {
      return PrintError(Status::InvalidArgument("delete needs a NAME (or -f PATH)"));
    }
    keys.push_back({target->first, EffectiveNamespace(global), name});
  }

  const ApiClient client = MakeClient(global);
  int exit_code = 0;
  for (ObjectKey& key : keys) {
    if (key.ns.empty()) key.ns = EffectiveNamespace(global);
    std::string path = ObjectPath(key.kind, key.ns, key.name);
    if (flags.force) path += "?force=true";
    StatusOr<nlohmann::json> reply = CallJson(client, "DELETE", path);
    if (!reply.ok()) {
      if (reply.status().code() == Code::kNotFound && flags.ignore_not_found) continue;
      exit_code = PrintError(reply.status());
      continue;
    }
    std::cout << key.kind.singular << "/" << key.name << " deleted"
              << (flags.force ? " (forced; processes may be left running, see the audit log)" : "")
              << "\n";
    if (flags.wait) {
      Status gone = WaitUntilGone(client, key, *timeout_ms);
      if (!gone.ok()) exit_code = PrintError(gone);
    }
  }
  return exit_code;
}

// ---------------------------------------------------------------------------
// describe

struct DescribeFlags {
  std::string kind;
  std::string name;
};

void PrintMap(const char* title, const nlohmann::json& object, const char* pointer) {
  std::cout << title;
  if (!object.contains(Ptr(pointer)) || object.at(Ptr(pointer)).empty()) {
    std::cout << "<none>\n";
    return;
  }
  bool first = true;
  for (const auto& [key, value] : object.at(Ptr(pointer)).items()) {
    if (!first) std::cout << std::string(14, ' ');
    std::cout << key << "=" << value.get<std::string>() << "\n";
    first = false;
  }
}

std::string Field(const nlohmann::json& doc, const char* pointer, const char* fallback = "") {
  if (!doc.contains(Ptr(pointer)) || doc.at(Ptr(pointer)).is_null()) return fallback;
  const auto& value = doc.at(Ptr(pointer));
  return value.is_string() ? value.get<std::string>() : value.dump();
}

void PrintIndented(const std::string& text, int indent) {
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::cout << std::string(indent, ' ') << text.substr(start, end - start) << "\n";
    start = end + 1;
  }
}

void PrintStatus(const nlohmann::json& object) {
  if (!object.contains("status")) return;
  const nlohmann::json& status = object["status"];
  if (status.contains("phase"))
    std::cout << "Phase:        " << Field(object, "/status/phase") << "\n";
  if (status.contains("endpoint")) {
    std::cout << "Endpoint:     " << Field(object, "/status/endpoint") << "\n";
  }
  if (status.contains("conditions")) {
    std::cout << "Conditions:\n";
    std::vector<std::vector<std::string>> rows = {{"  TYPE", "STATUS", "REASON", "MESSAGE"}};
    for (const auto& c : status["conditions"]) {
      rows.push_back({"  " + c.value("type", ""), c.value("status", ""), c.value("reason", ""),
                      c.value("message", "")});
    }
    PrintTable(rows);
  }
  if (status.contains("targets")) {
    std::cout << "Targets:\n";
    std::vector<std::vector<std::string>> rows = {
        {"  NAME", "HOST", "STATE", "RESTARTS", "PID", "EXIT", "MESSAGE"}};
    for (const auto& t : status["targets"]) {
      rows.push_back({"  " + t.value("name", ""), t.value("host", ""), t.value("state", ""),
                      std::to_string(t.value("attempts", 0)),
                      t.contains("pid") ? t["pid"].dump() : "-",
                      t.contains("exitCode") ? t["exitCode"].dump() : "-", t.value("message", "")});
    }
    PrintTable(rows);
  }
}

void PrintEvents(const ApiClient& client, const KindInfo& kind, const nlohmann::json& object) {
  const std::string uid = Field(object, "/metadata/uid");
  std::string path = "/apis/svcd.io/v1alpha1/";
  if (kind.namespaced)
    path += "namespaces/" + UrlEncode(Field(object, "/metadata/namespace")) + "/";
  path += "events?uid=" + UrlEncode(uid);
  StatusOr<nlohmann::json> events = CallJson(client, "GET", path);
  std::cout << "Events:";
  if (!events.ok() || !events->contains("items") || (*events)["items"].empty()) {
    std::cout << "       <none>\n";
    return;
  }
  std::cout << "\n";
  std::vector<std::vector<std::string>> rows = {{"  TYPE", "REASON", "AGE", "MESSAGE"}};
  for (const auto& e : (*events)["items"]) {
    rows.push_back(
        {"  " + e.value("type", ""), e.value("reason", ""), EventAge(e), e.value("message", "")});
  }
  PrintTable(rows);
}

// Prints the newest probe results of each target of a deploy, at most
// three per target, newest last.
void PrintProbes(const ApiClient& client, const std::string& object_path) {
  StatusOr<nlohmann::json> probes = CallJson(client, "GET", object_path + "/probes?limit=200");
  std::cout << "Probes:";
  if (!probes.ok() || !probes->contains("items") || (*probes)["items"].empty()) {
    std::cout << "       <none>\n";
    return;
  }
  std::map<std::string, std::vector<nlohmann::json>> by_target;
  for (const auto& probe : (*probes)["items"]) {
    std::vector<nlohmann::json>& newest = by_target[probe.value("target", "")];
    newest.push_back(probe);
    if (newest.size() > 3) newest.erase(newest.begin());
  }
  std::cout << "\n";
  std::vector<std::vector<std::string>> rows = {
      {"  TARGET", "RESULT", "LATENCY", "AGE", "MESSAGE"}};
  for (const auto& [target, newest] : by_target) {
    for (const nlohmann::json& probe : newest) {
      rows.push_back({"  " + target, probe.value("passed", false) ? "passed" : "failed",
                      std::to_string(probe.value("latencyMs", int64_t{0})) + "ms",
                      FormatAge(probe.value("time", "")), probe.value("message", "")});
    }
  }
  PrintTable(rows);
}

int RunDescribe(const GlobalOptions& global, DescribeFlags flags) {
  StatusOr<std::pair<KindInfo, std::string>> target = ResolveKindSlashName(flags.kind);
  if (!target.ok()) return PrintError(target.status());
  const KindInfo kind = target->first;
  const std::string name = target->second.empty() ? flags.name : target->second;
  if (name.empty()) return PrintError(Status::InvalidArgument("describe needs a NAME"));
  const ApiClient client = MakeClient(global);
  const std::string object_path = ObjectPath(kind, EffectiveNamespace(global), name);
  StatusOr<nlohmann::json> object = CallJson(client, "GET", object_path);
  if (!object.ok()) return PrintError(object.status());

  std::cout << "Name:         " << Field(*object, "/metadata/name") << "\n";
  if (kind.namespaced)
    std::cout << "Namespace:    " << Field(*object, "/metadata/namespace") << "\n";
  std::cout << "Kind:         " << kind.kind << "\n";
  PrintMap("Labels:       ", *object, "/metadata/labels");
  PrintMap("Annotations:  ", *object, "/metadata/annotations");
  std::cout << "UID:          " << Field(*object, "/metadata/uid") << "\n";
  std::cout << "Generation:   " << Field(*object, "/metadata/generation") << "\n";
  std::cout << "Created:      " << Field(*object, "/metadata/creationTimestamp") << "\n";
  if (!Field(*object, "/metadata/deletionTimestamp").empty()) {
    std::cout << "Deleting:     since " << Field(*object, "/metadata/deletionTimestamp") << "\n";
  }
  nlohmann::json spec_only = {{"apiVersion", (*object)["apiVersion"]},
                              {"kind", (*object)["kind"]},
                              {"metadata", {{"name", name}}},
                              {"spec", (*object)["spec"]}};
  if (kind.namespaced) spec_only["metadata"]["namespace"] = Field(*object, "/metadata/namespace");
  StatusOr<std::string> yaml = JsonObjectToYaml(spec_only);
  if (yaml.ok()) {
    std::cout << "Spec:\n";
    const size_t spec_at = yaml->find("spec:");
    PrintIndented(spec_at == std::string::npos ? *yaml : yaml->substr(spec_at + 6), 0);
  }
  PrintStatus(*object);
  if (kind.kind == api::kKindServiceDeploy) PrintProbes(client, object_path);
  PrintEvents(client, kind, *object);
  return 0;
}

}  // namespace

void AddDeleteCommands(CLI::App& app, const GlobalOptions& global, CommandRegistry& registry) {
  auto flags = std::make_shared<DeleteFlags>();
  CLI::App* del = app.add_subcommand("delete", "Delete objects; deploys stop their targets first");
  del->add_option("kind", flags->kind,
                  "hosts, servicetemplates (st), servicedeploys (sd) or sd/NAME");
  del->add_option("name", flags->name, "Name of the object");
  del->add_option("-f,--filename", flags->files, "Delete the objects in these manifests");
  del->add_flag("-R,--recursive", flags->recursive, "Read directories recursively");
  del->add_flag("--wait", flags->wait, "Wait until the objects are gone");
  del->add_option("--timeout", flags->timeout, "How long --wait waits, such as 60s or 5m");
  del->add_flag("--force", flags->force,
                "Remove a deploy at once without waiting for its targets to stop; processes "
                "may be left running and are recorded in the audit log");
  del->add_flag("--ignore-not-found", flags->ignore_not_found, "Treat a missing object as deleted");
  registry.Add(del, [&global, flags] { return RunDelete(global, *flags); });

  auto describe_flags = std::make_shared<DescribeFlags>();
  CLI::App* describe = app.add_subcommand("describe", "Show one object in detail, with its events");
  describe->add_option("kind", describe_flags->kind, "Kind, or KIND/NAME")->required();
  describe->add_option("name", describe_flags->name, "Name of the object");
  registry.Add(describe,
               [&global, describe_flags] { return RunDescribe(global, *describe_flags); });
}

}  // namespace svcd::ctl
