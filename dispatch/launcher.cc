#include "dispatch/launcher.h"

#include <string>
#include <vector>

#include "dispatch/run_dir.h"
#include "render/shell.h"

namespace svcd::dispatch {
namespace internal {
// The fixed part of every launcher, from dispatch/launcher_body.sh.
extern const char kLauncherBody[];
}  // namespace internal

namespace {

class CauseList {
 public:
  void Add(std::string field, std::string message) {
    Cause cause;
    cause.field = std::move(field);
    cause.message = std::move(message);
    causes_.push_back(std::move(cause));
  }

  void CheckRange(const char* field, int64_t value, int64_t min, int64_t max) {
    if (value < min || value > max) {
      Add(field, std::to_string(value) + " is outside " + std::to_string(min) + ".." +
                     std::to_string(max));
    }
  }

  Status ToStatus() && {
    if (causes_.empty()) {
      return Status::Ok();
    }
    std::string message =
        "invalid launch spec: " + causes_.front().field + ": " + causes_.front().message;
    return Status::InvalidArgument(std::move(message), std::move(causes_));
  }

 private:
  std::vector<Cause> causes_;
};

bool HasControlCharacter(std::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return true;
    }
  }
  return false;
}

bool IsSecretCharacter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("._~+/=-").find(c) != std::string_view::npos;
}

void CheckScript(const std::string& script, CauseList& causes) {
  if (script.empty()) {
    causes.Add("script", "is required");
  } else if (script.size() > kMaxLauncherScriptBytes) {
    causes.Add("script", "has " + std::to_string(script.size()) + " bytes; the maximum is " +
                             std::to_string(kMaxLauncherScriptBytes));
  } else if (script.find('\0') != std::string::npos) {
    causes.Add("script", "contains a NUL byte, which a shell script cannot hold");
  }
}

void CheckReportUrl(const std::string& url, CauseList& causes) {
  const bool http = url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0;
  if (!http) {
    causes.Add("report_url", "must start with http:// or https://, such as http://10.0.0.5:7070");
    return;
  }
  for (char c : url) {
    if (HasControlCharacter(std::string_view(&c, 1)) || c == ' ' || c == '?' || c == '#' ||
        c == '\'' || c == '"' || c == '\\') {
      causes.Add("report_url", "must be a base URL without spaces, quotes, query or fragment");
      return;
    }
  }
}

void CheckSecret(const std::string& secret, CauseList& causes) {
  bool valid = secret.size() >= 16 && secret.size() <= 256;
  for (char c : secret) {
    valid = valid && IsSecretCharacter(c);
  }
  if (!valid) {
    // The value is left out of the message on purpose.
    causes.Add("secret", "must be 16 to 256 characters from [A-Za-z0-9._~+/=-]");
  }
}

void CheckProbe(const LaunchSpec& spec, CauseList& causes) {
  if (spec.probe_command.empty()) return;
  if (spec.probe_command.front().empty()) {
    causes.Add("probe_command[0]", "must name the program to run");
  }
  for (size_t i = 0; i < spec.probe_command.size(); ++i) {
    if (spec.probe_command[i].find('\0') != std::string::npos) {
      causes.Add("probe_command[" + std::to_string(i) + "]",
                 "contains a NUL byte, which an argument cannot hold");
    }
  }
  causes.CheckRange("probe_initial_delay_seconds", spec.probe_initial_delay_seconds, 0, 86400);
  causes.CheckRange("probe_period_seconds", spec.probe_period_seconds, 1, 86400);
  causes.CheckRange("probe_timeout_seconds", spec.probe_timeout_seconds, 1, 86400);
  causes.CheckRange("probe_max_output_bytes", spec.probe_max_output_bytes, 0, 64 * 1024);
}

// Returns the argv as shell words, each single-quoted, for `eval "set -- ..."`.
std::string ShellWords(const std::vector<std::string>& argv) {
  std::string words;
  for (const std::string& arg : argv) {
    if (!words.empty()) words += ' ';
    words += render::ShellQuote(arg);
  }
  return words;
}

std::string Assignment(const char* name, std::string_view value) {
  return std::string(name) + "=" + render::ShellQuote(value) + "\n";
}

std::string Assignment(const char* name, int64_t value) {
  return Assignment(name, std::to_string(value));
}

}  // namespace

Status ValidateLaunchSpec(const LaunchSpec& spec) {
  CauseList causes;
  CheckScript(spec.script, causes);
  if (spec.run_dir.empty() || spec.run_dir.front() != '/' || HasControlCharacter(spec.run_dir)) {
    causes.Add("run_dir", "must be an absolute path without control characters");
  }
  CheckReportUrl(spec.report_url, causes);
  if (Status status = ValidatePathSegment("dispatch_id", spec.dispatch_id); !status.ok()) {
    causes.Add("dispatch_id", status.causes().front().message);
  }
  CheckSecret(spec.secret, causes);
  if (spec.lease < 0) {
    causes.Add("lease", "must be >= 0");
  }
  if (HasControlCharacter(spec.description)) {
    causes.Add("description", "must be one line without control characters");
  }
  causes.CheckRange("heartbeat_seconds", spec.heartbeat_seconds, 1, 3600);
  causes.CheckRange("stop_grace_seconds", spec.stop_grace_seconds, 0, 3600);
  causes.CheckRange("final_report_seconds", spec.final_report_seconds, 0, 86400);
  causes.CheckRange("max_log_chunk_bytes", spec.max_log_chunk_bytes, 1, 16 * 1024 * 1024);
  causes.CheckRange("connect_timeout_seconds", spec.connect_timeout_seconds, 1, 60);
  causes.CheckRange("request_timeout_seconds", spec.request_timeout_seconds, 1, 300);
  CheckProbe(spec, causes);
  return std::move(causes).ToStatus();
}

std::string ReportUrl(std::string_view advertise_url, std::string_view dispatch_id) {
  while (!advertise_url.empty() && advertise_url.back() == '/') {
    advertise_url.remove_suffix(1);
  }
  return std::string(advertise_url) + kReportPathPrefix + std::string(dispatch_id);
}

StatusOr<std::string> RenderLauncher(const LaunchSpec& spec) {
  if (Status status = ValidateLaunchSpec(spec); !status.ok()) {
    return status;
  }
  std::string text = "#!/bin/sh\n# svcd launcher for dispatch " + spec.dispatch_id;
  if (!spec.description.empty()) {
    text += " (" + spec.description + ")";
  }
  text += "\n";
  text += Assignment("run_dir", spec.run_dir);
  text += Assignment("dispatch_id", spec.dispatch_id);
  text += Assignment("report_url", ReportUrl(spec.report_url, spec.dispatch_id));
  text += Assignment("lease", spec.lease);
  text += Assignment("secret", spec.secret);
  text += Assignment("heartbeat_seconds", spec.heartbeat_seconds);
  text += Assignment("stop_grace_seconds", spec.stop_grace_seconds);
  text += Assignment("final_report_seconds", spec.final_report_seconds);
  text += Assignment("max_log_chunk_bytes", spec.max_log_chunk_bytes);
  text += Assignment("connect_timeout_seconds", spec.connect_timeout_seconds);
  text += Assignment("request_timeout_seconds", spec.request_timeout_seconds);
  text += Assignment("probe_argv", ShellWords(spec.probe_command));
  text += Assignment("probe_initial_delay_seconds", spec.probe_initial_delay_seconds);
  text += Assignment("probe_period_seconds", spec.probe_period_seconds);
  text += Assignment("probe_timeout_seconds", spec.probe_timeout_seconds);
  text += Assignment("probe_max_output_bytes", spec.probe_max_output_bytes);
  // The script is one single-quoted word, so the launcher writes it back
  // byte for byte whatever it contains.
  text += Assignment("node_script", spec.script);
  text += "\n";
  text += internal::kLauncherBody;
  return text;
}

}  // namespace svcd::dispatch
