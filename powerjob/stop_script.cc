#include "powerjob/stop_script.h"

#include <charconv>
#include <cstdio>
#include <map>
#include <optional>
#include <vector>

#include "dispatch/run_dir.h"
#include "render/shell.h"

namespace svcd::powerjob {
namespace internal {
// The fixed part of every stop script, from powerjob/stop_body.sh.
extern const char kStopBody[];
}  // namespace internal

namespace {

using std::chrono::milliseconds;

constexpr milliseconds kMaxDuration = std::chrono::hours(1);

int64_t Polls(milliseconds duration, milliseconds poll) {
  return (duration.count() + poll.count() - 1) / poll.count();
}

std::string Assignment(const char* name, std::string_view value) {
  return std::string(name) + "=" + render::ShellQuote(value) + "\n";
}

void CheckDuration(const char* field, milliseconds value, milliseconds min,
                   std::vector<Cause>& causes) {
  if (value < min || value > kMaxDuration) {
    Cause cause;
    cause.field = field;
    cause.message = std::to_string(value.count()) + " ms is outside " +
                    std::to_string(min.count()) + " ms to 1 h";
    causes.push_back(std::move(cause));
  }
}

// Returns the key=value words of the last line in `output` that starts with
// `prefix`; the first word (without '=') is kept under the key "". Returns
// std::nullopt when no such line exists.
std::optional<std::multimap<std::string, std::string>> FindLine(std::string_view output,
                                                                std::string_view prefix) {
  size_t at = std::string_view::npos;
  for (size_t pos = output.find(prefix); pos != std::string_view::npos;
       pos = output.find(prefix, pos + 1)) {
    if (pos == 0 || output[pos - 1] == '\n' || output[pos - 1] == ' ') at = pos;
  }
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view line = output.substr(at + prefix.size());
  line = line.substr(0, line.find_first_of("\n;"));

  std::multimap<std::string, std::string> words;
  while (!line.empty()) {
    const size_t start = line.find_first_not_of(' ');
    if (start == std::string_view::npos) break;
    line.remove_prefix(start);
    std::string_view word = line.substr(0, line.find(' '));
    line.remove_prefix(word.size());
    const size_t equals = word.find('=');
    if (equals == std::string_view::npos) {
      words.emplace("", std::string(word));
    } else {
      words.emplace(std::string(word.substr(0, equals)), std::string(word.substr(equals + 1)));
    }
  }
  return words;
}

std::string Get(const std::multimap<std::string, std::string>& words, const std::string& key) {
  auto it = words.find(key);
  return it == words.end() ? "" : it->second;
}

std::optional<int64_t> ToInt(std::string_view text) {
  int64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

Status MissingLine(std::string_view output, std::string_view prefix) {
  std::string start(output.substr(0, 200));
  return Status::Internal("the script printed no \"" + std::string(prefix) + "\" line; output: \"" +
                          start + "\"");
}

Status ErrorLine(const std::multimap<std::string, std::string>& words) {
  return Status::Internal("the script on the host failed: " + Get(words, "reason"));
}

dispatch::AttemptState StateOf(const dispatch::AttemptInfo& info) {
  using dispatch::AttemptState;
  if (info.exit_status.has_value()) return AttemptState::kExited;
  if (info.pid.has_value()) {
    return info.alive || info.launcher_alive ? AttemptState::kRunning : AttemptState::kLost;
  }
  if (!info.stop_reason.empty() || !info.launcher_alive) return AttemptState::kCancelled;
  return AttemptState::kStarting;
}

}  // namespace

milliseconds StopScriptDuration(const StopScriptSpec& spec) {
  // Every poll also reads the process table, which takes time of its own.
  // The tenth of a second per poll is an estimate, not a measurement.
  const int64_t polls = Polls(spec.grace, spec.poll) + Polls(spec.launcher_exit, spec.poll) +
                        4 * Polls(spec.kill, spec.poll) + 8;
  return spec.grace + spec.launcher_exit + 4 * spec.kill + milliseconds(100) * polls;
}

StatusOr<std::string> RenderStopScript(const StopScriptSpec& spec) {
  std::vector<Cause> causes;
  if (spec.run_dir.empty() || spec.run_dir.front() != '/' ||
      spec.run_dir.find_first_of("\n\r") != std::string::npos) {
    Cause cause;
    cause.field = "run_dir";
    cause.message = "must be an absolute path on one line";
    causes.push_back(std::move(cause));
  }
  if (Status status = dispatch::ValidatePathSegment("dispatch_id", spec.dispatch_id);
      !status.ok()) {
    causes.insert(causes.end(), status.causes().begin(), status.causes().end());
  }
  CheckDuration("grace", spec.grace, milliseconds(0), causes);
  CheckDuration("launcher_exit", spec.launcher_exit, milliseconds(0), causes);
  CheckDuration("kill", spec.kill, milliseconds(0), causes);
  if (spec.poll < milliseconds(10) || spec.poll > milliseconds(10000)) {
    Cause cause;
    cause.field = "poll";
    cause.message = std::to_string(spec.poll.count()) + " ms is outside 10 ms to 10 s";
    causes.push_back(std::move(cause));
  }
  if (!causes.empty()) {
    std::string message =
        "invalid stop script spec: " + causes.front().field + " " + causes.front().message;
    return Status::InvalidArgument(std::move(message), std::move(causes));
  }

  const bool stop = spec.mode == StopScriptSpec::Mode::kStop;
  char poll_seconds[32];
  std::snprintf(poll_seconds, sizeof(poll_seconds), "%.3f", spec.poll.count() / 1000.0);
  std::string text = "#!/bin/sh\n# svcd " + std::string(stop ? "stop" : "inspect") +
                     " script for dispatch " + spec.dispatch_id + "\n";
  text += Assignment("mode", stop ? "stop" : "inspect");
  text += Assignment("run_dir", spec.run_dir);
  text += Assignment("dispatch_id", spec.dispatch_id);
  text += Assignment("poll_seconds", poll_seconds);
  text += Assignment("grace_polls", std::to_string(Polls(spec.grace, spec.poll)));
  text += Assignment("launcher_exit_polls", std::to_string(Polls(spec.launcher_exit, spec.poll)));
  text += Assignment("kill_polls", std::to_string(Polls(spec.kill, spec.poll)));
  text += "\n";
  text += internal::kStopBody;
  return text;
}

StatusOr<StopOutput> ParseStopOutput(std::string_view output) {
  std::optional<std::multimap<std::string, std::string>> words = FindLine(output, "svcd-stop: ");
  if (!words.has_value()) return MissingLine(output, "svcd-stop:");
  const std::string outcome = Get(*words, "");
  if (outcome == "error") return ErrorLine(*words);
  if (outcome != "gone" && outcome != "survivors") {
    return Status::Internal("the stop script printed an unknown outcome \"" + outcome + "\"");
  }

  dispatch::StopResult result;
  result.signalled = static_cast<int>(ToInt(Get(*words, "signalled")).value_or(0));
  if (std::optional<int64_t> code = ToInt(Get(*words, "exit")); code.has_value()) {
    result.exit_status = static_cast<int>(*code);
  }
  auto [first, last] = words->equal_range("survivor");
  for (auto it = first; it != last; ++it) {
    // PID:ROLE:COMMAND, where COMMAND has no ':' (the script replaces it).
    const std::string& text = it->second;
    const size_t a = text.find(':');
    const size_t b = a == std::string::npos ? a : text.find(':', a + 1);
    dispatch::Survivor survivor;
    survivor.pid = ToInt(std::string_view(text).substr(0, a)).value_or(0);
    if (b != std::string::npos) {
      survivor.role = text.substr(a + 1, b - a - 1);
      survivor.command = text.substr(b + 1);
    }
    result.survivors.push_back(std::move(survivor));
  }
  // "gone" without survivors is the script's evidence; anything else is not.
  result.stopped = outcome == "gone" && result.survivors.empty();
  if (outcome == "survivors" && result.survivors.empty()) {
    return Status::Internal("the stop script reported survivors but listed none");
  }
  return StopOutput{std::move(result), Get(*words, "claimed") == "1"};
}

StatusOr<dispatch::AttemptInfo> ParseInspectOutput(std::string_view output,
                                                   const std::string& attempt_dir) {
  std::optional<std::multimap<std::string, std::string>> words = FindLine(output, "svcd-inspect: ");
  if (!words.has_value()) return MissingLine(output, "svcd-inspect:");
  if (Get(*words, "") == "error") return ErrorLine(*words);

  dispatch::AttemptInfo info;
  info.attempt_dir = attempt_dir;
  if (Get(*words, "claimed") != "1") return info;
  info.pid = ToInt(Get(*words, "pid"));
  info.alive = Get(*words, "alive") == "1";
  info.launcher_pid = ToInt(Get(*words, "launcher_pid"));
  info.launcher_alive = Get(*words, "launcher_alive") == "1";
  if (std::optional<int64_t> code = ToInt(Get(*words, "exit")); code.has_value()) {
    info.exit_status = static_cast<int>(*code);
  }
  const std::string reason = Get(*words, "stop_reason");
  info.stop_reason = reason == "none" ? "" : reason;
  info.log_bytes = ToInt(Get(*words, "log_bytes")).value_or(0);
  info.log_bytes_reported = ToInt(Get(*words, "log_offset")).value_or(0);
  info.state = StateOf(info);
  return info;
}

}  // namespace svcd::powerjob
