// svcctl get and svcctl describe: read objects from svcd.

#include <iostream>

#include "cmd/svcctl/commands.h"
#include "cmd/svcctl/resources.h"

namespace svcd::ctl {
namespace {

struct GetFlags {
  std::string kind;
  std::string name;
  std::string output;  // "" | wide | yaml | json | name
  bool all_namespaces = false;
  std::string selector;
};

std::string Str(const nlohmann::json& doc, const nlohmann::json::json_pointer& pointer,
                const std::string& fallback = "") {
  if (!doc.contains(pointer)) return fallback;
  const nlohmann::json& value = doc.at(pointer);
  if (value.is_string()) return value.get<std::string>();
  if (value.is_null()) return fallback;
  return value.dump();
}

using Ptr = nlohmann::json::json_pointer;

std::string ReadyCount(const nlohmann::json& deploy) {
  const nlohmann::json* targets = nullptr;
  if (deploy.contains(Ptr("/status/targets"))) targets = &deploy.at(Ptr("/status/targets"));
  size_t total = 1;
  if (deploy.contains(Ptr("/spec/workers"))) total += deploy.at(Ptr("/spec/workers")).size();
  size_t ready = 0;
  if (targets != nullptr) {
    for (const auto& target : *targets) ready += target.value("state", "") == "READY";
  }
  return std::to_string(ready) + "/" + std::to_string(total);
}

std::string Phase(const nlohmann::json& deploy) {
  if (!Str(deploy, Ptr("/metadata/deletionTimestamp")).empty()) return "Terminating";
  return Str(deploy, Ptr("/status/phase"), "Pending");
}

std::string Labels(const nlohmann::json& object) {
  std::string out;
  if (!object.contains(Ptr("/metadata/labels"))) return "<none>";
  for (const auto& [key, value] : object.at(Ptr("/metadata/labels")).items()) {
    out += (out.empty() ? "" : ",") + key + "=" + value.get<std::string>();
  }
  return out.empty() ? "<none>" : out;
}

std::vector<std::string> Header(const KindInfo& kind, bool wide, bool all_namespaces) {
  std::vector<std::string> row;
  if (kind.namespaced && all_namespaces) row.push_back("NAMESPACE");
  if (kind.kind == "Host") {
    row.insert(row.end(), {"NAME", "ADDRESS", "EXECUTOR", "DISABLED", "AGE"});
    if (wide) row.insert(row.end(), {"HOSTNAME", "WORKER", "DISPATCH", "LABELS"});
  } else if (kind.kind == "ServiceTemplate") {
    row.insert(row.end(), {"NAME", "SCENE", "BACKEND", "VERSION", "AGE"});
    if (wide) row.insert(row.end(), {"PREFIX", "LABELS"});
  } else {
    row.insert(row.end(), {"NAME", "TEMPLATE", "PHASE", "READY", "AGE"});
    if (wide) row.insert(row.end(), {"MODEL", "MASTER", "WORKERS", "ENDPOINT", "GENERATION"});
  }
  return row;
}

std::vector<std::string> Row(const KindInfo& kind, const nlohmann::json& o, bool wide,
                             bool all_namespaces) {
  std::vector<std::string> row;
  if (kind.namespaced && all_namespaces) row.push_back(Str(o, Ptr("/metadata/namespace")));
  const std::string age = FormatAge(Str(o, Ptr("/metadata/creationTimestamp")));
  row.push_back(Str(o, Ptr("/metadata/name")));
  if (kind.kind == "Host") {
    row.insert(row.end(), {Str(o, Ptr("/spec/address")), Str(o, Ptr("/spec/executor")),
                           Str(o, Ptr("/spec/disabled"), "false"), age});
    if (wide) {
      // Whether dispatch through PowerJob works, with the reason when not.
      std::string dispatch = "-";
      if (o.contains(Ptr("/status/dispatchReady"))) {
        dispatch = o.at(Ptr("/status/dispatchReady")).get<bool>()
                       ? "Ready"
                       : Str(o, Ptr("/status/reason"), "NotReady");
      }
      row.insert(row.end(),
                 {Str(o, Ptr("/spec/hostname"), "<none>"),
                  Str(o, Ptr("/spec/powerjob/workerAddress"), "<none>"), dispatch, Labels(o)});
    }
  } else if (kind.kind == "ServiceTemplate") {
    row.insert(row.end(), {Str(o, Ptr("/spec/sceneType"), "<none>"),
                           Str(o, Ptr("/spec/modelBackend"), "<none>"),
                           Str(o, Ptr("/spec/backendVersion"), "<none>"), age});
    if (wide) row.insert(row.end(), {Str(o, Ptr("/spec/fixedPrefix")), Labels(o)});
  } else {
    row.insert(row.end(), {Str(o, Ptr("/spec/templateRef")), Phase(o), ReadyCount(o), age});
    if (wide) {
      std::string workers;
      if (o.contains(Ptr("/spec/workers"))) {
        for (const auto& worker : o.at(Ptr("/spec/workers"))) {
          workers += (workers.empty() ? "" : ",") + worker.value("host", "");
        }
      }
      row.insert(row.end(),
                 {Str(o, Ptr("/spec/modelName")), Str(o, Ptr("/spec/master/host")),
                  workers.empty() ? "<none>" : workers, Str(o, Ptr("/status/endpoint"), "<none>"),
                  Str(o, Ptr("/metadata/generation"))});
    }
  }
  return row;
}

int PrintObjects(const KindInfo& kind, const std::vector<nlohmann::json>& items,
                 const GetFlags& flags, bool single, const std::string& ns) {
  if (flags.output == "json") {
    if (single) {
      std::cout << items.front().dump(2) << "\n";
    } else {
      nlohmann::json list = {{"apiVersion", "v1"}, {"kind", "List"}, {"items", items}};
      std::cout << list.dump(2) << "\n";
    }
    return 0;
  }
  if (flags.output == "yaml") {
    for (size_t i = 0; i < items.size(); ++i) {
      StatusOr<std::string> yaml = JsonObjectToYaml(items[i]);
      if (!yaml.ok()) return PrintError(yaml.status());
      if (i > 0) std::cout << "---\n";
      std::cout << *yaml;
    }
    return 0;
  }
  if (flags.output == "name") {
    for (const auto& item : items) {
      std::cout << kind.singular << "/" << Str(item, Ptr("/metadata/name")) << "\n";
    }
    return 0;
  }
  if (items.empty()) {
    const bool in_namespace = kind.namespaced && !flags.all_namespaces;
    std::cerr << "No resources found" << (in_namespace ? " in " + ns + " namespace" : "") << ".\n";
    return 0;
  }
  const bool wide = flags.output == "wide";
  std::vector<std::vector<std::string>> rows = {Header(kind, wide, flags.all_namespaces)};
  for (const auto& item : items) rows.push_back(Row(kind, item, wide, flags.all_namespaces));
  PrintTable(rows);
  return 0;
}

int RunGet(const GlobalOptions& global, GetFlags flags) {
  if (flags.output != "" && flags.output != "wide" && flags.output != "yaml" &&
      flags.output != "json" && flags.output != "name") {
    return PrintError(Status::InvalidArgument("invalid output format \"" + flags.output +
                                              "\": use wide, yaml, json or name"));
  }
  StatusOr<std::pair<KindInfo, std::string>> target = ResolveKindSlashName(flags.kind);
  if (!target.ok()) return PrintError(target.status());
  const KindInfo kind = target->first;
  if (!target->second.empty()) flags.name = target->second;
  const ApiClient client = MakeClient(global);
  const std::string ns = EffectiveNamespace(global);

  if (!flags.name.empty()) {
    StatusOr<nlohmann::json> object = CallJson(client, "GET", ObjectPath(kind, ns, flags.name));
    if (!object.ok()) return PrintError(object.status());
    return PrintObjects(kind, {*object}, flags, /*single=*/true, ns);
  }
  std::string path = CollectionPath(kind, flags.all_namespaces ? "" : ns);
  if (!flags.selector.empty()) path += "?labelSelector=" + UrlEncode(flags.selector);
  StatusOr<nlohmann::json> list = CallJson(client, "GET", path);
  if (!list.ok()) return PrintError(list.status());
  std::vector<nlohmann::json> items;
  for (const auto& item : (*list)["items"]) items.push_back(item);
  return PrintObjects(kind, items, flags, /*single=*/false, ns);
}

}  // namespace

void AddGetCommand(CLI::App& app, const GlobalOptions& global, CommandRegistry& registry) {
  auto flags = std::make_shared<GetFlags>();
  CLI::App* get = app.add_subcommand("get", "List objects or show one");
  get->add_option("kind", flags->kind, "hosts, servicetemplates (st) or servicedeploys (sd)")
      ->required();
  get->add_option("name", flags->name, "Name of one object");
  get->add_option("-o,--output", flags->output, "wide, yaml, json or name");
  get->add_flag("-A,--all-namespaces", flags->all_namespaces, "List across all namespaces");
  get->add_option("-l,--selector", flags->selector, "Label selector, such as team=perf,tier!=dev");
  registry.Add(get, [&global, flags] { return RunGet(global, *flags); });
}

}  // namespace svcd::ctl
