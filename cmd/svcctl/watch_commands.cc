// svcctl wait, logs and events: follow what svcd does.

#include <chrono>
#include <iostream>
#include <thread>

#include "cmd/svcctl/commands.h"
#include "cmd/svcctl/resources.h"

namespace svcd::ctl {
namespace {

using Ptr = nlohmann::json::json_pointer;

struct WaitFlags {
  std::string target;  // sd/NAME
  std::string condition = "condition=Ready";
  std::string timeout = "30s";
};

struct LogFlags {
  std::string target;  // sd/NAME
  std::string node;    // --target
  bool follow = false;
  int tail = -1;
  int64_t since_seq = 0;
  bool previous = false;
};

// Returns "Phase, N/M targets ready" for a progress line.
std::string Progress(const nlohmann::json& deploy) {
  std::string phase = deploy.value(Ptr("/status/phase"), std::string("Pending"));
  if (deploy.contains(Ptr("/metadata/deletionTimestamp"))) phase = "Terminating";
  size_t ready = 0;
  size_t total = 0;
  if (deploy.contains(Ptr("/status/targets"))) {
    for (const auto& target : deploy.at(Ptr("/status/targets"))) {
      ++total;
      ready += target.value("state", "") == "READY";
    }
  }
  return phase + ", " + std::to_string(ready) + "/" + std::to_string(total) + " targets ready";
}

bool ConditionTrue(const nlohmann::json& deploy, const std::string& type) {
  if (!deploy.contains(Ptr("/status/conditions"))) return false;
  for (const auto& condition : deploy.at(Ptr("/status/conditions"))) {
    if (condition.value("type", "") == type && condition.value("status", "") == "True") {
      return deploy.value(Ptr("/status/observedGeneration"), 0) ==
             deploy.value(Ptr("/metadata/generation"), 0);
    }
  }
  return false;
}

int RunWait(const GlobalOptions& global, const WaitFlags& flags) {
  StatusOr<std::pair<KindInfo, std::string>> target = ResolveKindSlashName(flags.target);
  if (!target.ok()) return PrintError(target.status());
  if (target->second.empty()) return PrintError(Status::InvalidArgument("wait needs KIND/NAME"));
  StatusOr<int64_t> timeout_ms = ParseDurationMs(flags.timeout);
  if (!timeout_ms.ok()) return PrintError(timeout_ms.status());
  const bool for_delete = flags.condition == "delete";
  std::string condition;
  if (!for_delete) {
    if (flags.condition.rfind("condition=", 0) != 0) {
      return PrintError(Status::InvalidArgument(
          "invalid --for \"" + flags.condition + "\": use condition=Ready (or another condition) "
          "or delete"));
    }
    condition = flags.condition.substr(10);
  }
  const ApiClient client = MakeClient(global);
  const std::string path = ObjectPath(target->first, EffectiveNamespace(global), target->second);
  const std::string ref = target->first.singular + "/" + target->second;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(*timeout_ms);
  std::string last_progress;
  while (true) {
    StatusOr<nlohmann::json> object = CallJson(client, "GET", path);
    if (for_delete && !object.ok() && object.status().code() == Code::kNotFound) {
      std::cout << ref << " deleted\n";
      return 0;
    }
    if (!object.ok() && object.status().code() != Code::kUnavailable) {
      return PrintError(object.status());
    }
    if (object.ok()) {
      if (!for_delete && ConditionTrue(*object, condition)) {
        std::cout << ref << " condition met: " << condition << "\n";
        return 0;
      }
      const std::string progress = Progress(*object);
      if (progress != last_progress) {
        std::cerr << ref << ": " << progress << "\n";
        last_progress = progress;
      }
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      std::cerr << "error: timed out after " << flags.timeout << " waiting for " << ref
                << (for_delete ? " to be deleted" : " condition " + condition) << "\n";
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

// Prints the lines of one page; returns the highest seq seen per target.
void PrintLines(const nlohmann::json& page, bool prefix, std::map<std::string, int64_t>& last) {
  for (const auto& line : page["items"]) {
    const std::string target = line.value("target", "");
    if (prefix) std::cout << "[" << target << "] ";
    std::cout << line.value("content", "") << "\n";
    last[target] = std::max(last[target], line.value("seq", int64_t{0}));
  }
  std::cout.flush();
}

int RunLogs(const GlobalOptions& global, const LogFlags& flags) {
  StatusOr<std::pair<KindInfo, std::string>> target = ResolveKindSlashName(flags.target);
  if (!target.ok()) return PrintError(target.status());
  if (target->first.kind != api::kKindServiceDeploy || target->second.empty()) {
    return PrintError(Status::InvalidArgument("logs needs sd/NAME"));
  }
  const ApiClient client = MakeClient(global);
  const std::string base =
      ObjectPath(target->first, EffectiveNamespace(global), target->second) + "/log";
  std::map<std::string, int64_t> last;  // per target: the highest seq printed
  auto query = [&](int64_t after_seq, bool first) {
    std::string q = "?afterSeq=" + std::to_string(after_seq);
    if (!flags.node.empty()) q += "&target=" + UrlEncode(flags.node);
    if (first && flags.tail >= 0) q += "&tail=" + std::to_string(flags.tail);
    if (flags.previous) q += "&previous=true";
    return base + q;
  };
  StatusOr<nlohmann::json> page = CallJson(client, "GET", query(flags.since_seq, true));
  if (!page.ok()) return PrintError(page.status());
  PrintLines(*page, flags.node.empty(), last);
  if (!flags.follow) return 0;
  // Follow: poll from the last seq, so a dropped connection or an svcd
  // restart loses and repeats nothing.
  auto pause = std::chrono::milliseconds(500);
  while (true) {
    std::this_thread::sleep_for(pause);
    int64_t after = flags.since_seq;
    if (!flags.node.empty() && last.count(flags.node) > 0) after = last[flags.node];
    if (flags.node.empty() && !last.empty()) {
      // Several targets have independent seqs: ask for each one.
      bool failed = false;
      for (auto& [name, seq] : last) {
        StatusOr<nlohmann::json> more = CallJson(
            client, "GET",
            base + "?afterSeq=" + std::to_string(seq) + "&target=" + UrlEncode(name) +
                (flags.previous ? "&previous=true" : ""));
        if (!more.ok()) {
          failed = true;
          break;
        }
        PrintLines(*more, true, last);
      }
      StatusOr<nlohmann::json> all = CallJson(client, "GET", base + "?afterSeq=0&tail=0");
      if (all.ok() && all->contains("targets")) {
        for (const auto& name : (*all)["targets"]) last.emplace(name.get<std::string>(), 0);
      }
      pause = failed ? std::min(pause * 2, std::chrono::milliseconds(5000))
                     : std::chrono::milliseconds(500);
      continue;
    }
    StatusOr<nlohmann::json> more = CallJson(client, "GET", query(after, false));
    if (!more.ok()) {
      if (more.status().code() == Code::kNotFound) return PrintError(more.status());
      pause = std::min(pause * 2, std::chrono::milliseconds(5000));  // svcd away: back off
      continue;
    }
    pause = std::chrono::milliseconds(500);
    PrintLines(*more, flags.node.empty(), last);
  }
}

int RunEvents(const GlobalOptions& global, const std::string& object) {
  const ApiClient client = MakeClient(global);
  const std::string ns = EffectiveNamespace(global);
  std::string path;
  if (object.empty()) {
    return PrintError(Status::InvalidArgument("events needs sd/NAME"));
  }
  StatusOr<std::pair<KindInfo, std::string>> target = ResolveKindSlashName(object);
  if (!target.ok()) return PrintError(target.status());
  path = "/apis/svcd.io/v1alpha1/namespaces/" + UrlEncode(ns) + "/events?name=" +
         UrlEncode(target->second);
  StatusOr<nlohmann::json> events = CallJson(client, "GET", path);
  if (!events.ok()) return PrintError(events.status());
  std::vector<std::vector<std::string>> rows = {{"AGE", "TYPE", "REASON", "MESSAGE"}};
  for (const auto& e : (*events)["items"]) {
    rows.push_back({FormatAge(e.value("time", "")), e.value("type", ""), e.value("reason", ""),
                    e.value("message", "")});
  }
  PrintTable(rows);
  return 0;
}

// POSTs to a sub-resource of sd/NAME (retry, restart) and prints `done`.
int RunDeployAction(const GlobalOptions& global, const std::string& object,
                    const std::string& action, const std::string& query, const std::string& done) {
  StatusOr<std::pair<KindInfo, std::string>> target = ResolveKindSlashName(object);
  if (!target.ok()) return PrintError(target.status());
  if (target->first.kind != api::kKindServiceDeploy || target->second.empty()) {
    return PrintError(Status::InvalidArgument(action + " needs sd/NAME"));
  }
  const ApiClient client = MakeClient(global);
  StatusOr<nlohmann::json> reply = CallJson(
      client, "POST",
      ObjectPath(target->first, EffectiveNamespace(global), target->second) + "/" + action + query);
  if (!reply.ok()) return PrintError(reply.status());
  std::cout << "servicedeploy/" << target->second << " " << done << "\n";
  return 0;
}

}  // namespace

void AddWatchCommands(CLI::App& app, const GlobalOptions& global, CommandRegistry& registry) {
  auto wait_flags = std::make_shared<WaitFlags>();
  CLI::App* wait = app.add_subcommand(
      "wait", "Wait until a deploy meets a condition or is deleted (exit 1 on timeout)");
  wait->add_option("object", wait_flags->target, "sd/NAME")->required();
  wait->add_option("--for", wait_flags->condition, "condition=Ready (or another condition), or delete")
      ->capture_default_str();
  wait->add_option("--timeout", wait_flags->timeout, "How long to wait, such as 30s or 10m")
      ->capture_default_str();
  registry.Add(wait, [&global, wait_flags] { return RunWait(global, *wait_flags); });

  auto log_flags = std::make_shared<LogFlags>();
  CLI::App* logs = app.add_subcommand("logs", "Print the log lines of a deploy's targets");
  logs->add_option("object", log_flags->target, "sd/NAME")->required();
  logs->add_option("--target", log_flags->node, "One target: master, worker-0, ...");
  logs->add_flag("-f,--follow", log_flags->follow, "Keep printing new lines, across restarts");
  logs->add_option("--tail", log_flags->tail, "Print only the last N lines first");
  logs->add_option("--since-seq", log_flags->since_seq, "Print lines after sequence number N");
  logs->add_flag("--previous", log_flags->previous, "Lines of the attempt before the latest one");
  registry.Add(logs, [&global, log_flags] { return RunLogs(global, *log_flags); });

  auto event_object = std::make_shared<std::string>();
  CLI::App* events = app.add_subcommand("events", "List the events of a deploy");
  events->add_option("object", *event_object, "sd/NAME")->required();
  registry.Add(events, [&global, event_object] { return RunEvents(global, *event_object); });

  auto retry_object = std::make_shared<std::string>();
  auto retry_target = std::make_shared<std::string>();
  CLI::App* retry = app.add_subcommand(
      "retry", "Reset the spent retry budget of a deploy so its failed targets start again");
  retry->add_option("object", *retry_object, "sd/NAME")->required();
  retry->add_option("--target", *retry_target, "Only this target");
  registry.Add(retry, [&global, retry_object, retry_target] {
    const std::string query = retry_target->empty() ? "" : "?target=" + UrlEncode(*retry_target);
    return RunDeployAction(global, *retry_object, "retry", query, "retry budget reset");
  });

  CLI::App* rollout = app.add_subcommand("rollout", "Manage the rollout of a deploy");
  rollout->require_subcommand(1);
  auto restart_object = std::make_shared<std::string>();
  CLI::App* restart = rollout->add_subcommand(
      "restart", "Restart every target in startup order, picking up template and Host changes");
  restart->add_option("object", *restart_object, "sd/NAME")->required();
  registry.Add(restart, [&global, restart_object] {
    return RunDeployAction(global, *restart_object, "restart", "", "restarting");
  });
}

}  // namespace svcd::ctl
