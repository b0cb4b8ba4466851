#include "powerjob/wire.h"

#include <openssl/evp.h>

#include <charconv>
#include <limits>
#include <map>

namespace svcd::powerjob {

const char* InstanceStatusName(int status) {
  switch (status) {
    case kWaitingDispatch:
      return "WAITING_DISPATCH";
    case kWaitingWorkerReceive:
      return "WAITING_WORKER_RECEIVE";
    case kRunning:
      return "RUNNING";
    case kFailed:
      return "FAILED";
    case kSucceed:
      return "SUCCEED";
    case kCanceled:
      return "CANCELED";
    case kStopped:
      return "STOPPED";
    default:
      return "UNKNOWN";
  }
}

bool IsWaiting(int status) { return status == kWaitingDispatch || status == kWaitingWorkerReceive; }

bool IsGeneralizedRunning(int status) { return IsWaiting(status) || status == kRunning; }

bool IsFinished(int status) {
  return status == kFailed || status == kSucceed || status == kCanceled || status == kStopped;
}

namespace wire {
namespace {

using nlohmann::json;

Status BadField(std::string_view field, const std::string& problem) {
  return Status::Internal("invalid reply: " + std::string(field) + " " + problem);
}

// Describes a JSON value for an error message, cut to 40 characters.
std::string Shown(const json& value) {
  std::string text = value.dump();
  if (text.size() > 40) text = text.substr(0, 40) + "...";
  return text;
}

StatusOr<int64_t> ParseDecimal(std::string_view text, std::string_view field) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, error] = std::from_chars(text.data(), end, value);
  if (text.empty() || error != std::errc() || ptr != end) {
    return BadField(field, "is \"" + std::string(text.substr(0, 40)) + "\", not an int64");
  }
  return value;
}

// Reads an int within int's range; see ReadInt64 for the accepted forms.
StatusOr<int> ReadInt(const json& value, std::string_view field) {
  StatusOr<int64_t> wide = ReadInt64(value, field);
  if (!wide.ok()) return wide.status();
  if (*wide < std::numeric_limits<int>::min() || *wide > std::numeric_limits<int>::max()) {
    return BadField(field, "is " + std::to_string(*wide) + ", outside the range of int");
  }
  return static_cast<int>(*wide);
}

// Reads an optional string member: absent or null gives "".
StatusOr<std::string> ReadString(const json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::string();
  if (!it->is_string()) return BadField(key, "is " + Shown(*it) + ", not a string");
  return it->get<std::string>();
}

// Reads an optional integer member into `out`; absent or null leaves it.
template <typename T>
Status ReadOptional(const json& object, const char* key, T& out) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return Status::Ok();
  if constexpr (std::is_same_v<T, int>) {
    StatusOr<int> value = ReadInt(*it, key);
    if (!value.ok()) return value.status();
    out = *value;
  } else {
    StatusOr<int64_t> value = ReadInt64(*it, key);
    if (!value.ok()) return value.status();
    out = *value;
  }
  return Status::Ok();
}

Status ReadNullableInt64(const json& object, const char* key, std::optional<int64_t>& out) {
  int64_t value = 0;
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return Status::Ok();
  if (Status status = ReadOptional(object, key, value); !status.ok()) return status;
  out = value;
  return Status::Ok();
}

// Reads an enum field that a reply carries as an integer code, or, from a
// server that sends names, as one of `names`.
Status ReadEnum(const json& object, const char* key, const std::map<std::string, int>& names,
                int& out) {
  auto it = object.find(key);
  if (it != object.end() && it->is_string()) {
    auto name = names.find(it->get<std::string>());
    if (name == names.end()) {
      return BadField(key, "is " + Shown(*it) + ", not a known name or code");
    }
    out = name->second;
    return Status::Ok();
  }
  return ReadOptional(object, key, out);
}

bool IsUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '*' ||
         c == '-' || c == '.' || c == '_';
}

void AppendFormEncoded(std::string_view text, std::string& out) {
  static const char kHex[] = "0123456789ABCDEF";
  for (unsigned char c : text) {
    if (IsUnreserved(c)) {
      out += static_cast<char>(c);
    } else if (c == ' ') {
      out += '+';
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
}

}  // namespace

std::string EncodeForm(const FormFields& fields) {
  std::string out;
  for (const auto& [name, value] : fields) {
    if (!out.empty()) out += '&';
    AppendFormEncoded(name, out);
    out += '=';
    AppendFormEncoded(value, out);
  }
  return out;
}

StatusOr<Envelope> ParseEnvelope(std::string_view body) {
  json document = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded() || !document.is_object()) {
    std::string start(body.substr(0, 80));
    return Status::Internal("invalid reply: not a JSON object: \"" + start + "\"");
  }
  Envelope envelope;
  auto success = document.find("success");
  if (success == document.end() || !success->is_boolean()) {
    return Status::Internal("invalid reply: \"success\" is missing or not a boolean");
  }
  envelope.success = success->get<bool>();
  if (auto data = document.find("data"); data != document.end()) envelope.data = *data;
  if (auto message = document.find("message"); message != document.end() && !message->is_null()) {
    envelope.message = message->is_string() ? message->get<std::string>() : message->dump();
  }
  if (auto code = document.find("code"); code != document.end() && !code->is_null()) {
    envelope.code = code->is_string() ? code->get<std::string>() : code->dump();
  }
  return envelope;
}

StatusOr<int64_t> ReadInt64(const nlohmann::json& value, std::string_view field) {
  if (value.is_number_integer() && !value.is_number_unsigned()) {
    return value.get<int64_t>();
  }
  if (value.is_number_unsigned()) {
    const uint64_t wide = value.get<uint64_t>();
    if (wide > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return BadField(field, "is " + std::to_string(wide) + ", above the int64 maximum");
    }
    return static_cast<int64_t>(wide);
  }
  if (value.is_string()) {
    return ParseDecimal(value.get<std::string>(), field);
  }
  // nlohmann keeps a number with a fraction, an exponent or more than 64 bits
  // as a double, which would round a snowflake id.
  return BadField(field, "is " + Shown(value) + ", not an int64");
}

nlohmann::json EncodeJobSpec(const JobSpec& spec, int64_t app_id) {
  json body = {
      {"jobName", spec.name},
      {"jobDescription", spec.description},
      {"appId", app_id},
      {"jobParams", spec.params},
      {"timeExpressionType", spec.time_expression_type},
      {"executeType", spec.execute_type},
      {"processorType", spec.processor_type},
      {"processorInfo", spec.processor_info},
      {"maxInstanceNum", spec.max_instance_num},
      {"concurrency", spec.concurrency},
      {"instanceTimeLimit", spec.instance_time_limit_ms},
      {"instanceRetryNum", spec.instance_retry_num},
      {"taskRetryNum", spec.task_retry_num},
      {"minCpuCores", 0},
      {"minMemorySpace", 0},
      {"minDiskSpace", 0},
      {"enable", spec.enable},
      {"designatedWorkers", spec.designated_workers},
      {"maxWorkerCount", spec.max_worker_count},
  };
  if (spec.id.has_value()) body["id"] = *spec.id;
  if (!spec.extra.empty()) body["extra"] = spec.extra;
  if (!spec.tag.empty()) body["tag"] = spec.tag;
  return body;
}

StatusOr<JobInfo> ParseJobInfo(const nlohmann::json& data) {
  if (!data.is_object()) return BadField("data", "is " + Shown(data) + ", not a job object");
  JobInfo job;
  auto id = data.find("id");
  if (id == data.end()) return BadField("data.id", "is missing");
  StatusOr<int64_t> job_id = ReadInt64(*id, "data.id");
  if (!job_id.ok()) return job_id.status();
  job.id = *job_id;

  static const std::map<std::string, int> kTimeTypes = {
      {"API", 1}, {"CRON", 2}, {"FIXED_RATE", 3}, {"FIXED_DELAY", 4}, {"WORKFLOW", 5}};
  static const std::map<std::string, int> kExecuteTypes = {
      {"STANDALONE", 1}, {"BROADCAST", 2}, {"MAP_REDUCE", 3}, {"MAP", 4}};
  static const std::map<std::string, int> kProcessorTypes = {
      {"BUILT_IN", 1}, {"SHELL", 2}, {"PYTHON", 3}, {"EXTERNAL", 4}};
  static const std::map<std::string, int> kJobStatuses = {
      {"ENABLE", 1}, {"DISABLE", 2}, {"DELETED", 99}};
  for (Status status : {
           ReadOptional(data, "appId", job.app_id),
           ReadEnum(data, "timeExpressionType", kTimeTypes, job.time_expression_type),
           ReadEnum(data, "executeType", kExecuteTypes, job.execute_type),
           ReadEnum(data, "processorType", kProcessorTypes, job.processor_type),
           ReadEnum(data, "status", kJobStatuses, job.status),
           ReadOptional(data, "maxInstanceNum", job.max_instance_num),
           ReadOptional(data, "instanceTimeLimit", job.instance_time_limit_ms),
           ReadOptional(data, "instanceRetryNum", job.instance_retry_num),
           ReadOptional(data, "taskRetryNum", job.task_retry_num),
       }) {
    if (!status.ok()) return status;
  }
  for (auto [key, out] :
       {std::pair{"jobName", &job.name}, std::pair{"jobDescription", &job.description},
        std::pair{"jobParams", &job.params}, std::pair{"processorInfo", &job.processor_info},
        std::pair{"designatedWorkers", &job.designated_workers}}) {
    StatusOr<std::string> text = ReadString(data, key);
    if (!text.ok()) return text.status();
    *out = *text;
  }
  return job;
}

StatusOr<InstanceInfo> ParseInstanceInfo(const nlohmann::json& data) {
  if (!data.is_object()) {
    return BadField("data", "is " + Shown(data) + ", not an instance object");
  }
  InstanceInfo info;
  for (const char* required : {"instanceId", "status"}) {
    if (!data.contains(required) || data[required].is_null()) {
      return BadField(std::string("data.") + required, "is missing");
    }
  }
  for (Status status : {
           ReadOptional(data, "instanceId", info.instance_id),
           ReadOptional(data, "status", info.status),
           ReadOptional(data, "jobId", info.job_id),
           ReadOptional(data, "appId", info.app_id),
           ReadOptional(data, "runningTimes", info.running_times),
           ReadNullableInt64(data, "wfInstanceId", info.wf_instance_id),
           ReadNullableInt64(data, "expectedTriggerTime", info.expected_trigger_time_ms),
           ReadNullableInt64(data, "actualTriggerTime", info.actual_trigger_time_ms),
           ReadNullableInt64(data, "finishedTime", info.finished_time_ms),
       }) {
    if (!status.ok()) return status;
  }
  for (auto [key, out] :
       {std::pair{"result", &info.result}, std::pair{"jobParams", &info.job_params},
        std::pair{"instanceParams", &info.instance_params},
        std::pair{"taskTrackerAddress", &info.task_tracker_address}}) {
    StatusOr<std::string> text = ReadString(data, key);
    if (!text.ok()) return text.status();
    *out = *text;
  }
  return info;
}

StatusOr<AppAuth> ParseAppAuth(const nlohmann::json& data) {
  if (!data.is_object()) return BadField("data", "is " + Shown(data) + ", not an object");
  auto app_id = data.find("appId");
  if (app_id == data.end()) return BadField("data.appId", "is missing");
  StatusOr<int64_t> id = ReadInt64(*app_id, "data.appId");
  if (!id.ok()) return id.status();
  StatusOr<std::string> token = ReadString(data, "token");
  if (!token.ok()) return token.status();
  if (token->empty()) return BadField("data.token", "is missing or empty");
  for (unsigned char c : *token) {
    // The value is left out of the message: the token is a secret.
    if (c < 0x20 || c == 0x7f) return BadField("data.token", "contains a control character");
  }
  return AppAuth{*id, *token};
}

std::string Md5Hex(std::string_view text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(text.data(), text.size(), digest, &size, EVP_md5(), nullptr);
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < size; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 15];
  }
  return out;
}

bool IsAuthErrorCode(std::string_view code) {
  return code == "-300" || code == "-400" || code == "-401" || code == "-402" || code == "-403" ||
         code == "-1002";
}

std::string ShellResultOutput(std::string_view result) {
  constexpr std::string_view kInput = "[INPUT]: ";
  constexpr std::string_view kError = ";[ERROR]: ";
  if (result.substr(0, kInput.size()) != kInput) return std::string(result);
  result.remove_prefix(kInput.size());
  return std::string(result.substr(0, result.find(kError)));
}

}  // namespace wire
}  // namespace svcd::powerjob
