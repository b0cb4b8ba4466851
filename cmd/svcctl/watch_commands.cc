// svcctl wait, logs and events: follow what svcd does.

#include <strings.h>

#include <cctype>
#include <chrono>
#include <functional>
#include <iostream>
#include <map>
#include <thread>
#include <vector>

#include "api/document.h"
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
  std::string since;                     // --since: 10m or an RFC 3339 time
  std::string reconnect_timeout = "5m";  // --reconnect-timeout
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

// Returns the condition of `type` when it is True and was written for the
// deploy's current generation, else nullptr.
const nlohmann::json* TrueCondition(const nlohmann::json& deploy, const std::string& type) {
  if (!deploy.contains(Ptr("/status/conditions"))) return nullptr;
  if (deploy.value(Ptr("/status/observedGeneration"), 0) !=
      deploy.value(Ptr("/metadata/generation"), 0)) {
    return nullptr;
  }
  for (const auto& condition : deploy.at(Ptr("/status/conditions"))) {
    if (condition.value("type", "") == type && condition.value("status", "") == "True") {
      return &condition;
    }
  }
  return nullptr;
}

// The condition types svcd writes into a deploy's status.conditions.
const std::vector<std::string>& DeployConditionTypes() {
  static const std::vector<std::string> types = {"Ready", "Progressing", "Stalled", "UpToDate"};
  return types;
}

// Parses --for into a condition type, or "" for "delete". The type is
// matched without regard to case, as kubectl does. Fails with
// InvalidArgument listing the valid forms and types.
StatusOr<std::string> ParseWaitFor(const std::string& text) {
  if (text == "delete") return std::string();
  std::string valid;
  for (const std::string& type : DeployConditionTypes()) {
    valid += (valid.empty() ? "" : ", ") + std::string("condition=") + type;
  }
  valid += " or delete";
  if (text.rfind("condition=", 0) != 0) {
    return Status::InvalidArgument("invalid --for " + api::QuoteForMessage(text) + ": use " +
                                   valid);
  }
  std::string requested = text.substr(10);
  // kubectl's form condition=TYPE=True means the same as condition=TYPE.
  const size_t equals = requested.find('=');
  if (equals != std::string::npos) {
    const std::string value = requested.substr(equals + 1);
    if (strcasecmp(value.c_str(), "true") != 0) {
      return Status::InvalidArgument("--for " + api::QuoteForMessage(text) +
                                     ": only =True can follow the condition type; svcctl waits "
                                     "for a condition to become True");
    }
    requested.resize(equals);
  }
  for (const std::string& type : DeployConditionTypes()) {
    if (strcasecmp(requested.c_str(), type.c_str()) == 0) return type;
  }
  return Status::InvalidArgument("unknown condition type " + api::QuoteForMessage(requested) +
                                 " in --for: a deploy has the conditions " + valid);
}

// Prints a usage error and returns exit status 2, so scripts can distinguish
// it from a timeout (1).
int PrintUsageError(const Status& status) {
  PrintError(status);
  return 2;
}

// Returns the error that ends a wait on a deploy that is Stalled: svcd
// dispatches nothing more until its spec changes or the retry budget is
// reset, so no other condition can come. Ok when the deploy is not stalled.
Status StalledError(const nlohmann::json& deploy, const std::string& ref) {
  const nlohmann::json* stalled = TrueCondition(deploy, "Stalled");
  if (stalled == nullptr) return Status::Ok();
  const std::string phase = deploy.value(Ptr("/status/phase"), std::string("Failed"));
  std::string message = stalled->value("message", "");
  if (message.empty()) message = "run svcctl retry " + ref + " or change the spec";
  return Status::FailedPrecondition(ref + " is stalled (phase " + phase + ", reason " +
                                    stalled->value("reason", "") + "): " + message);
}

int RunWait(const GlobalOptions& global, const WaitFlags& flags) {
  StatusOr<std::pair<KindInfo, std::string>> target = ResolveKindSlashName(flags.target);
  if (!target.ok()) return PrintUsageError(target.status());
  if (target->second.empty()) {
    return PrintUsageError(Status::InvalidArgument("wait needs KIND/NAME, such as sd/NAME"));
  }
  StatusOr<int64_t> timeout_ms = ParseDurationMs(flags.timeout);
  if (!timeout_ms.ok()) return PrintUsageError(timeout_ms.status());
  StatusOr<std::string> condition = ParseWaitFor(flags.condition);
  if (!condition.ok()) return PrintUsageError(condition.status());
  const bool for_delete = condition->empty();
  if (!for_delete && target->first.kind != api::kKindServiceDeploy) {
    return PrintUsageError(Status::InvalidArgument("--for=condition=" + *condition +
                                                   " needs sd/NAME: only deploys have conditions"));
  }

  const ApiClient client = MakeClient(global);
  const std::string path = ObjectPath(target->first, EffectiveNamespace(global), target->second);
  const std::string ref = target->first.singular + "/" + target->second;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(*timeout_ms);
  std::string last_progress;
  std::string unreachable;  // the error of the last poll while svcd cannot be reached
  int stalled_polls = 0;
  while (true) {
    StatusOr<nlohmann::json> object = CallJson(client, "GET", path);
    if (for_delete && !object.ok() && object.status().code() == Code::kNotFound) {
      std::cout << ref << " deleted\n";
      return 0;
    }
    if (!object.ok() && object.status().code() != Code::kUnavailable) {
      return PrintError(object.status());
    }
    if (!object.ok() && unreachable.empty()) {
      std::cerr << "svcctl: " << object.status().message() << "; trying again until the timeout\n";
    }
    unreachable = object.ok() ? "" : object.status().message();
    if (object.ok() && !for_delete) {
      if (TrueCondition(*object, *condition) != nullptr) {
        std::cout << ref << " condition met: " << *condition << "\n";
        return 0;
      }
      // A Stalled condition must show on two polls in a row: right after
      // svcctl retry, the status still shows it until the controller's
      // next pass. NOTE: a pass slower than one poll interval can still
      // end such a wait early.
      Status stalled = StalledError(*object, ref);
      stalled_polls = stalled.ok() ? 0 : stalled_polls + 1;
      if (stalled_polls >= 2) return PrintError(stalled);
    }
    if (object.ok()) {
      const std::string progress = Progress(*object);
      if (progress != last_progress) {
        std::cerr << ref << ": " << progress << "\n";
        last_progress = progress;
      }
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      // A bare number means seconds.
      const bool bare = flags.timeout.find_first_not_of("0123456789") == std::string::npos;
      std::cerr << "error: timed out after " << flags.timeout << (bare ? "s" : "")
                << " waiting for " << ref
                << (for_delete ? " to be deleted" : " condition " + *condition);
      if (!unreachable.empty()) std::cerr << " (" << unreachable << ")";
      std::cerr << "\n";
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

// Prints the lines of one page and raises `last[target]` to the highest
// seq printed of each target.
void PrintLines(const nlohmann::json& page, bool prefix, std::map<std::string, int64_t>& last) {
  for (const auto& line : page["items"]) {
    const std::string target = line.value("target", "");
    if (prefix) std::cout << "[" << target << "] ";
    std::cout << line.value("content", "") << "\n";
    last[target] = std::max(last[target], line.value("seq", int64_t{0}));
  }
  std::cout.flush();
}

// Follow polls this often, and backs off from it up to the cap while svcd
// cannot be reached.
constexpr std::chrono::milliseconds kFollowPoll{500};
constexpr std::chrono::milliseconds kMaxReconnectPause{5000};

// Returns the query parameter for --since: sinceSeconds for a duration
// such as 10m, sinceTime for an RFC 3339 time; "" when unset.
StatusOr<std::string> SinceQuery(const std::string& since) {
  if (since.empty()) return std::string();
  StatusOr<int64_t> ms = ParseDurationMs(since);
  if (ms.ok()) {
    if (*ms < 1) return Status::InvalidArgument("invalid --since \"0\": use a positive duration");
    return "&sinceSeconds=" + std::to_string((*ms + 999) / 1000);
  }
  if (since.size() >= 20 && since[4] == '-' && (since[10] == 'T' || since[10] == 't')) {
    return "&sinceTime=" + UrlEncode(since);
  }
  return Status::InvalidArgument("invalid --since \"" + since +
                                 "\": use a duration such as 10m or 2h, or an RFC 3339 time such "
                                 "as 2024-05-01T12:00:00Z");
}

// Whether a failed request is worth repeating: svcd away, restarting or
// overloaded. Errors about the request itself end the command.
bool Retryable(const Status& status) {
  return status.code() == Code::kUnavailable || status.code() == Code::kDeadlineExceeded ||
         status.code() == Code::kInternal;
}

// Follows the log: polls every target from the last seq printed, so an
// svcd restart or a dropped connection loses and repeats nothing. Lines
// keep coming across restarts of the target, because seqs never reset.
class LogFollower {
 public:
  // `uid` is the deploy's metadata.uid, named when the deploy is deleted.
  LogFollower(const ApiClient& client, std::string base, bool prefix,
              std::chrono::milliseconds give_up_after, std::string uid)
      : client_(client),
        base_(std::move(base)),
        prefix_(prefix),
        give_up_after_(give_up_after),
        uid_(std::move(uid)) {}

  // Polls until the deploy is deleted (exit status 0), svcd reports an
  // error that is not worth retrying, or svcd cannot be reached for
  // `give_up_after`. Returns the exit status.
  int Run(std::map<std::string, int64_t>& last) {
    auto pause = kFollowPoll;
    auto failing_since = std::chrono::steady_clock::time_point();
    while (true) {
      std::this_thread::sleep_for(pause);
      bool drained = true;
      Status failed = PollOnce(last, drained);
      if (failed.code() == Code::kNotFound && DeployGone()) {
        std::cerr << "svcctl: the deploy was deleted; lines it wrote after the last one shown "
                     "are in its archive: svcctl archive --uid "
                  << (uid_.empty() ? "UID" : uid_) << "\n";
        return 0;
      }
      if (failed.ok()) {
        if (failing_since != std::chrono::steady_clock::time_point()) {
          std::cerr << "svcctl: reconnected to svcd; resuming the log\n";
        }
        failing_since = {};
        pause = drained ? kFollowPoll : std::chrono::milliseconds(0);
        continue;
      }
      if (!Retryable(failed)) return PrintError(failed);
      const auto now = std::chrono::steady_clock::now();
      if (failing_since == std::chrono::steady_clock::time_point()) {
        failing_since = now;
        pause = kFollowPoll;
      } else {
        pause = std::min(pause * 2, kMaxReconnectPause);
      }
      if (now - failing_since >= give_up_after_) {
        return PrintError(Status::Unavailable(
            "gave up following the log: svcd was unreachable for " +
            std::to_string(give_up_after_.count() / 1000) + " s (" + failed.message() + ")"));
      }
      std::cerr << "svcctl: lost the connection to svcd (" << failed.message()
                << "); reconnecting in " << pause.count() << " ms and resuming after "
                << Cursors(last) << "\n";
    }
  }

 private:
  // Asks for the new lines of every known target once. Clears `drained`
  // when a page came back full, so the caller asks again at once.
  Status PollOnce(std::map<std::string, int64_t>& last, bool& drained) {
    const std::map<std::string, int64_t> cursors = last;
    for (const auto& [target, seq] : cursors) {
      StatusOr<nlohmann::json> page =
          CallJson(client_, "GET",
                   base_ + "?afterSeq=" + std::to_string(seq) + "&target=" + UrlEncode(target));
      if (!page.ok() && page.status().code() == Code::kNotFound && prefix_) {
        // A target removed by a scale-down is dropped while its deploy lives.
        StatusOr<nlohmann::json> deploy = CallJson(client_, "GET", base_ + "?tail=0");
        if (!deploy.ok()) return deploy.status();
        last.erase(target);
        continue;
      }
      if (!page.ok()) return page.status();
      PrintLines(*page, prefix_, last);
      if (page->value("more", false)) drained = false;
      // Targets added since (more workers) are followed from their start.
      if (prefix_ && page->contains("targets")) {
        for (const auto& name : (*page)["targets"]) last.emplace(name.get<std::string>(), 0);
      }
    }
    return Status::Ok();
  }

  // Whether the deploy itself is gone, not only one of its targets.
  bool DeployGone() const {
    StatusOr<nlohmann::json> deploy = CallJson(client_, "GET", base_ + "?tail=0");
    return !deploy.ok() && deploy.status().code() == Code::kNotFound;
  }

  static std::string Cursors(const std::map<std::string, int64_t>& last) {
    std::string text;
    for (const auto& [target, seq] : last) {
      text +=
          (text.empty() ? "" : ", ") + std::string("seq ") + std::to_string(seq) + " of " + target;
    }
    return text;
  }

  const ApiClient& client_;
  const std::string base_;
  const bool prefix_;
  const std::chrono::milliseconds give_up_after_;
  const std::string uid_;
};

Status ValidateLogFlags(const LogFlags& flags) {
  if (flags.previous && flags.node.empty()) {
    return Status::InvalidArgument("--previous needs --target NAME: attempts are per target");
  }
  if (flags.previous && flags.follow) {
    return Status::InvalidArgument(
        "--previous shows an attempt that has ended, so it cannot be followed; drop -f");
  }
  if (flags.tail < -1) {
    return Status::InvalidArgument("invalid --tail " + std::to_string(flags.tail) +
                                   ": use 0 or more lines");
  }
  if (flags.since_seq < 0) {
    return Status::InvalidArgument("invalid --since-seq " + std::to_string(flags.since_seq) +
                                   ": use 0 or more");
  }
  return Status::Ok();
}

// Returns the query of one log request: lines after `after_seq`, of
// `target` (every target when empty), with --tail when `with_tail`.
std::string LogQuery(const LogFlags& flags, const std::string& since, int64_t after_seq,
                     const std::string& target, bool with_tail) {
  std::string query = "?afterSeq=" + std::to_string(after_seq) + since;
  if (!target.empty()) query += "&target=" + UrlEncode(target);
  if (with_tail && flags.tail >= 0) query += "&tail=" + std::to_string(flags.tail);
  if (flags.previous) query += "&previous=true";
  return query;
}

// Prints one target's selected lines, requesting page after page until
// svcd reports that none are left.
Status PrintTargetLog(const ApiClient& client, const std::string& base, const LogFlags& flags,
                      const std::string& since, const std::string& target,
                      std::map<std::string, int64_t>& last) {
  int64_t after = flags.since_seq;
  for (bool first = true;; first = false) {
    StatusOr<nlohmann::json> page =
        CallJson(client, "GET", base + LogQuery(flags, since, after, target, first));
    if (!page.ok()) return page.status();
    PrintLines(*page, flags.node.empty(), last);
    if (!page->value("more", false) || (*page)["items"].empty()) return Status::Ok();
    after = (*page)["items"].back().value("seq", after);
  }
}

int RunLogs(const GlobalOptions& global, const LogFlags& flags) {
  StatusOr<std::pair<KindInfo, std::string>> target = ResolveKindSlashName(flags.target);
  if (!target.ok()) return PrintError(target.status());
  if (target->first.kind != api::kKindServiceDeploy || target->second.empty()) {
    return PrintError(Status::InvalidArgument("logs needs sd/NAME"));
  }
  if (Status valid = ValidateLogFlags(flags); !valid.ok()) return PrintError(valid);
  StatusOr<std::string> since = SinceQuery(flags.since);
  if (!since.ok()) return PrintError(since.status());
  StatusOr<int64_t> give_up = ParseDurationMs(flags.reconnect_timeout);
  if (!give_up.ok()) return PrintError(give_up.status());

  const ApiClient client = MakeClient(global);
  const std::string base =
      ObjectPath(target->first, EffectiveNamespace(global), target->second) + "/log";
  const bool prefix = flags.node.empty();
  StatusOr<nlohmann::json> page =
      CallJson(client, "GET", base + LogQuery(flags, *since, flags.since_seq, flags.node, true));
  if (!page.ok()) return PrintError(page.status());
  std::vector<std::string> targets;
  if (!prefix) {
    targets.push_back(flags.node);
  } else if (page->contains("targets")) {
    for (const auto& name : (*page)["targets"]) targets.push_back(name.get<std::string>());
  }
  std::map<std::string, int64_t> last;  // per target: the highest seq printed
  if (!page->value("more", false)) {
    PrintLines(*page, prefix, last);
  } else {
    // The page was cut: read the targets one at a time, page by page, so
    // each line is printed once and in order. NOTE: this reads live
    // targets only; a removed target's lines are left out here.
    for (const std::string& name : targets) {
      Status read = PrintTargetLog(client, base, flags, *since, name, last);
      if (!read.ok()) return PrintError(read);
    }
  }
  if (!flags.follow) return 0;

  // Follow each target from the last line printed. When --tail, --since or
  // --since-seq hid lines, a target without printed lines starts after its
  // newest stored line, so hidden lines stay hidden.
  for (const std::string& name : targets) {
    if (last.count(name) > 0) continue;
    StatusOr<nlohmann::json> newest =
        CallJson(client, "GET", base + "?afterSeq=0&tail=1&target=" + UrlEncode(name));
    if (!newest.ok()) return PrintError(newest.status());
    const bool hidden = flags.tail >= 0 || !flags.since.empty() || flags.since_seq > 0;
    last[name] = flags.since_seq;
    if (hidden && !(*newest)["items"].empty()) {
      last[name] = std::max(flags.since_seq, (*newest)["items"].back().value("seq", int64_t{0}));
    }
  }
  // The uid lets svcctl name the deploy's archive once the deploy is gone.
  StatusOr<nlohmann::json> deploy = CallJson(
      client, "GET", ObjectPath(target->first, EffectiveNamespace(global), target->second));
  const std::string uid =
      deploy.ok() ? deploy->value(Ptr("/metadata/uid"), std::string()) : std::string();
  return LogFollower(client, base, flags.node.empty(), std::chrono::milliseconds(*give_up), uid)
      .Run(last);
}

// Lists the events of one deploy, or without `object` the newest events of
// the namespace (of every namespace with `all_namespaces`) with their object.
int RunEvents(const GlobalOptions& global, const std::string& object, bool all_namespaces) {
  const ApiClient client = MakeClient(global);
  const std::string ns = EffectiveNamespace(global);
  std::string path = "/apis/svcd.io/v1alpha1/";
  if (!object.empty()) {
    if (all_namespaces) {
      return PrintError(Status::InvalidArgument("-A lists every namespace; leave out sd/NAME"));
    }
    StatusOr<std::pair<KindInfo, std::string>> target = ResolveKindSlashName(object);
    if (!target.ok()) return PrintError(target.status());
    if (target->first.kind != api::kKindServiceDeploy || target->second.empty()) {
      return PrintError(
          Status::InvalidArgument("events takes sd/NAME, or nothing for the "
                                  "events of the whole namespace"));
    }
    path += "namespaces/" + UrlEncode(ns) + "/events?name=" + UrlEncode(target->second);
  } else {
    path += all_namespaces ? "events" : "namespaces/" + UrlEncode(ns) + "/events";
  }
  StatusOr<nlohmann::json> events = CallJson(client, "GET", path);
  if (!events.ok()) return PrintError(events.status());
  std::vector<std::vector<std::string>> rows;
  if (object.empty()) {
    rows.push_back({"AGE", "TYPE", "REASON", "OBJECT", "MESSAGE"});
  } else {
    rows.push_back({"AGE", "TYPE", "REASON", "MESSAGE"});
  }
  for (const auto& e : (*events)["items"]) {
    std::vector<std::string> row = {EventAge(e), e.value("type", ""), e.value("reason", "")};
    if (object.empty()) {
      const nlohmann::json& about = e.value("object", nlohmann::json::object());
      std::string kind = about.value("kind", "");
      for (char& c : kind) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string name = kind + "/" + about.value("name", "");
      if (all_namespaces && !about.value("namespace", "").empty()) {
        name = about.value("namespace", "") + "/" + name;
      }
      row.push_back(name);
    }
    row.push_back(e.value("message", ""));
    rows.push_back(std::move(row));
  }
  PrintTable(rows);
  return 0;
}

// POSTs to a sub-resource of sd/NAME (retry, restart) and prints
// "servicedeploy/NAME " followed by what `describe` makes of the reply.
int RunDeployAction(const GlobalOptions& global, const std::string& object,
                    const std::string& action, const std::string& query,
                    const std::function<std::string(const nlohmann::json&)>& describe) {
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
  std::cout << "servicedeploy/" << target->second << " " << describe(*reply) << "\n";
  return 0;
}

// Describes a retry reply: the targets whose budget was reset, if any.
std::string DescribeRetry(const nlohmann::json& reply) {
  std::string names;
  if (reply.contains("targets") && reply["targets"].is_array()) {
    for (const auto& name : reply["targets"]) {
      names += (names.empty() ? "" : ", ") + name.get<std::string>();
    }
  }
  if (names.empty()) return "unchanged: no target had failed or used any of its retry budget";
  return "retry budget reset for " + names;
}

// Words of the positional object: "sd/NAME", or the two words "sd NAME"
// that describe and delete also take.
using ObjectWords = std::shared_ptr<std::vector<std::string>>;

CLI::Option* AddObject(CLI::App* command, const ObjectWords& words, const std::string& help) {
  return command->add_option("object", *words, help + "; also the two words sd NAME")
      ->expected(1, 2);
}

std::string JoinObject(const std::vector<std::string>& words) {
  if (words.size() == 2) return words[0] + "/" + words[1];
  return words.empty() ? "" : words[0];
}

}  // namespace

void AddWatchCommands(CLI::App& app, const GlobalOptions& global, CommandRegistry& registry) {
  auto wait_flags = std::make_shared<WaitFlags>();
  CLI::App* wait = app.add_subcommand(
      "wait",
      "Wait until a deploy meets a condition or is deleted (exit 1 on timeout or when the deploy "
      "is Stalled, 2 on a usage error)");
  auto wait_object = std::make_shared<std::vector<std::string>>();
  AddObject(wait, wait_object, "sd/NAME")->required();
  wait->add_option("--for", wait_flags->condition,
                   "condition=Ready, condition=Progressing, condition=Stalled, "
                   "condition=UpToDate, or delete")
      ->capture_default_str();
  wait->add_option("--timeout", wait_flags->timeout, "How long to wait, such as 30s or 10m")
      ->capture_default_str();
  registry.Add(wait, [&global, wait_flags, wait_object] {
    wait_flags->target = JoinObject(*wait_object);
    return RunWait(global, *wait_flags);
  });

  auto log_flags = std::make_shared<LogFlags>();
  CLI::App* logs = app.add_subcommand("logs", "Print the log lines of a deploy's targets");
  auto log_object = std::make_shared<std::vector<std::string>>();
  AddObject(logs, log_object, "sd/NAME")->required();
  logs->add_option("--target", log_flags->node, "One target: master, worker-0, ...");
  logs->add_flag("-f,--follow", log_flags->follow, "Keep printing new lines, across restarts");
  logs->add_option("--tail", log_flags->tail, "Print only the last N lines first");
  logs->add_option("--since-seq", log_flags->since_seq, "Print lines after sequence number N");
  logs->add_flag("--previous", log_flags->previous,
                 "Lines of the attempt before the latest one (needs --target)");
  logs->add_option("--since", log_flags->since,
                   "Only lines stored since then: a duration such as 10m, or an RFC 3339 time "
                   "such as 2024-05-01T12:00:00Z");
  logs->add_option("--reconnect-timeout", log_flags->reconnect_timeout,
                   "With -f, how long to keep reconnecting to an unreachable svcd, such as 5m")
      ->capture_default_str();
  registry.Add(logs, [&global, log_flags, log_object] {
    log_flags->target = JoinObject(*log_object);
    return RunLogs(global, *log_flags);
  });

  auto event_object = std::make_shared<std::vector<std::string>>();
  auto event_all = std::make_shared<bool>(false);
  CLI::App* events = app.add_subcommand(
      "events", "List the events of a deploy, or the newest events of the namespace");
  AddObject(events, event_object, "sd/NAME; without it, the whole namespace");
  events->add_flag("-A,--all-namespaces", *event_all, "List the events of every namespace");
  registry.Add(events, [&global, event_object, event_all] {
    return RunEvents(global, JoinObject(*event_object), *event_all);
  });

  auto retry_object = std::make_shared<std::vector<std::string>>();
  auto retry_target = std::make_shared<std::string>();
  CLI::App* retry = app.add_subcommand(
      "retry", "Reset the spent retry budget of a deploy so its failed targets start again");
  AddObject(retry, retry_object, "sd/NAME")->required();
  CLI::Option* retry_only = retry->add_option("--target", *retry_target, "Only this target");
  registry.Add(retry, [&global, retry_object, retry_target, retry_only] {
    if (retry_only->count() > 0 && retry_target->empty()) {
      return PrintError(Status::InvalidArgument(
          "--target is empty; name a target such as master or worker-0, or leave --target out "
          "to reset every target"));
    }
    const std::string query = retry_target->empty() ? "" : "?target=" + UrlEncode(*retry_target);
    return RunDeployAction(global, JoinObject(*retry_object), "retry", query, DescribeRetry);
  });

  CLI::App* rollout = app.add_subcommand("rollout", "Manage the rollout of a deploy");
  auto restart_object = std::make_shared<std::vector<std::string>>();
  CLI::App* restart = rollout->add_subcommand(
      "restart", "Restart every target in startup order, picking up template and Host changes");
  AddObject(restart, restart_object, "sd/NAME")->required();
  registry.Add(restart, [&global, restart_object] {
    return RunDeployAction(global, JoinObject(*restart_object), "restart", "",
                           [](const nlohmann::json&) { return std::string("restarting"); });
  });

  auto status_flags = std::make_shared<WaitFlags>();
  status_flags->timeout = "10m";
  auto status_object = std::make_shared<std::vector<std::string>>();
  CLI::App* status = rollout->add_subcommand(
      "status",
      "Wait until the deploy is Ready, printing its progress (wait --for=condition=Ready)");
  AddObject(status, status_object, "sd/NAME")->required();
  status->add_option("--timeout", status_flags->timeout, "Give up after this long, such as 10m")
      ->capture_default_str();
  registry.Add(status, [&global, status_flags, status_object] {
    status_flags->target = JoinObject(*status_object);
    return RunWait(global, *status_flags);
  });

  // Registered last, so it runs only when no rollout subcommand was parsed.
  // svcctl's main names an unknown word after "rollout" before this runs.
  registry.Add(rollout, [] {
    return PrintError(Status::InvalidArgument(
        "missing rollout subcommand: use svcctl rollout restart sd/NAME or svcctl rollout "
        "status sd/NAME"));
  });
}

}  // namespace svcd::ctl
