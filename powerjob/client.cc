#include "powerjob/client.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "powerjob/http_transport.h"
#include "powerjob/wire.h"

namespace svcd::powerjob {

namespace internal {

// One OpenAPI operation and whether a request of it may go to a second
// server after the first one took the connection and closed it unanswered.
struct Operation {
  const char* name;
  bool resend_safe;
};

}  // namespace internal

namespace {

using nlohmann::json;

constexpr char kFormType[] = "application/x-www-form-urlencoded";
constexpr char kJsonType[] = "application/json; charset=utf-8";
constexpr char kAppIdHeader[] = "X-POWERJOB-APP-ID";
constexpr char kTokenHeader[] = "X-POWERJOB-ACCESS-TOKEN";
// Spring Boot's default server.tomcat.max-http-form-post-size (2 MB).
constexpr size_t kMaxFormBytes = 2 * 1024 * 1024;

// saveJob and runJob create a job or an instance each time the server gets
// them, so they are never sent twice. retryInstance dispatches again, and a
// second copy would fail and hide that the first one worked.
constexpr internal::Operation kAssert{"assert", true};
constexpr internal::Operation kAuthApp{"authApp", true};
constexpr internal::Operation kSaveJob{"saveJob", false};
constexpr internal::Operation kFetchJob{"fetchJob", true};
constexpr internal::Operation kRunJob{"runJob", false};
constexpr internal::Operation kStopInstance{"stopInstance", true};
constexpr internal::Operation kCancelInstance{"cancelInstance", true};
constexpr internal::Operation kRetryInstance{"retryInstance", false};
constexpr internal::Operation kFetchInstanceStatus{"fetchInstanceStatus", true};
constexpr internal::Operation kFetchInstanceInfo{"fetchInstanceInfo", true};

bool Contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

// Picks the canonical code for a failure envelope from its code and message
// (PowerJob's texts for 4.3.9 to 5.1.1).
Code CodeForServerFailure(const wire::Envelope& envelope) {
  const std::string& message = envelope.message;
  if (wire::IsAuthErrorCode(envelope.code)) return Code::kUnauthenticated;
  if (Contains(message, "can't find") || Contains(message, "invalid instanceId") ||
      Contains(message, "invalid jobId")) {
    return Code::kNotFound;
  }
  if (Contains(message, "not belong to the app")) return Code::kPermissionDenied;
  if (Contains(message, "can't stop finished instance") ||
      Contains(message, "already up and running") ||
      Contains(message, "Only stopped instance can be retry") ||
      Contains(message, "do not support retry")) {
    return Code::kFailedPrecondition;
  }
  if (Contains(message, "remote process failed")) return Code::kUnavailable;
  return Code::kInternal;
}

Status StatusFromServer(const internal::Operation& operation, const std::string& server,
                        const wire::Envelope& envelope) {
  std::string message = "PowerJob " + std::string(operation.name) + " at " + server +
                        " failed: " + (envelope.message.empty() ? "no message" : envelope.message);
  if (!envelope.code.empty()) message += " (code " + envelope.code + ")";
  return Status(CodeForServerFailure(envelope), std::move(message));
}

// Returns the body start for an error message: one line, at most 200 bytes.
std::string BodyStart(const std::string& body) {
  std::string text = body.substr(0, 200);
  for (char& c : text) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  return text;
}

Status CheckServerUrl(const std::string& url) {
  const size_t scheme_end = url.find("://");
  const std::string scheme = scheme_end == std::string::npos ? "" : url.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https") {
    return Status::InvalidArgument("must start with http:// or https://");
  }
  const std::string rest = url.substr(scheme_end + 3);
  if (rest.empty() || rest.front() == ':' || rest.front() == '/') {
    return Status::InvalidArgument("has no host");
  }
  for (char c : rest) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == '/' || c == '?' || c == '#' ||
        c == '@' || c == '\\') {
      return Status::InvalidArgument(
          "must be only scheme, host and port, such as http://10.0.0.5:7700, without path, "
          "query, user or spaces");
    }
  }
  return Status::Ok();
}

// Adds http:// when no scheme is given and drops trailing slashes.
std::string NormalizeServerUrl(std::string url) {
  if (url.find("://") == std::string::npos) url = "http://" + url;
  while (url.size() > 1 && url.back() == '/') url.pop_back();
  return url;
}

HttpPost FormPost(const char* name, const wire::FormFields& fields) {
  HttpPost post;
  post.path = std::string("/openApi/") + name;
  post.content_type = kFormType;
  post.body = wire::EncodeForm(fields);
  return post;
}

}  // namespace

StatusOr<Profile> ParseProfile(std::string_view text, std::string_view field) {
  if (text == "auto") return Profile::kAuto;
  if (text == "4" || text == "4.3") return Profile::kV4;
  if (text == "5" || text == "5.1") return Profile::kV5;
  Cause cause;
  cause.field = std::string(field);
  cause.message = "is \"" + std::string(text) + "\"; use auto, 4.3 or 5.1";
  return Status::InvalidArgument("invalid PowerJob profile: " + cause.message, {cause});
}

const char* ProfileName(Profile profile) {
  switch (profile) {
    case Profile::kV4:
      return "4.3";
    case Profile::kV5:
      return "5.1";
    case Profile::kAuto:
      break;
  }
  return "auto";
}

StatusOr<std::unique_ptr<Client>> Client::Create(ClientOptions options) {
  std::vector<Cause> causes;
  auto add = [&causes](std::string field, std::string message) {
    Cause cause;
    cause.field = std::move(field);
    cause.message = std::move(message);
    causes.push_back(std::move(cause));
  };
  if (options.servers.empty()) {
    add("servers", "is empty; give at least one PowerJob server URL, such as http://10.0.0.5:7700");
  }
  for (size_t i = 0; i < options.servers.size(); ++i) {
    options.servers[i] = NormalizeServerUrl(options.servers[i]);
    if (Status status = CheckServerUrl(options.servers[i]); !status.ok()) {
      add("servers[" + std::to_string(i) + "]",
          "\"" + options.servers[i] + "\" " + status.message());
    }
  }
  if (options.app_name.empty()) add("app_name", "is required: the PowerJob app of the workers");
  if (options.timeout.count() <= 0) add("timeout", "must be positive");
  if (!causes.empty()) {
    std::string message =
        "invalid PowerJob client options: " + causes.front().field + " " + causes.front().message;
    return Status::InvalidArgument(std::move(message), std::move(causes));
  }
  return std::unique_ptr<Client>(new Client(std::move(options)));
}

Client::Client(ClientOptions options) : options_(std::move(options)) {}

Client::~Client() = default;

Profile Client::profile() const {
  std::lock_guard<std::mutex> lock(mu_);
  return auth_.profile != Profile::kAuto ? auth_.profile : options_.profile;
}

std::string Client::current_server() const {
  std::lock_guard<std::mutex> lock(mu_);
  return options_.servers[current_];
}

StatusOr<HttpAnswer> Client::Deliver(const Operation& operation, const HttpPost& post,
                                     std::string& server) {
  std::vector<size_t> order;
  {
    std::lock_guard<std::mutex> lock(mu_);
    order.push_back(current_);
  }
  for (size_t i = 0; i < options_.servers.size(); ++i) {
    if (i != order.front()) order.push_back(i);
  }

  std::string failures;
  HttpPost attempt = post;
  attempt.timeout = options_.timeout;
  for (size_t index : order) {
    const std::string& url = options_.servers[index];
    attempt.base_url = url;
    HttpAnswer answer = Post(attempt);
    if (answer.outcome == PostOutcome::kAnswered) {
      std::lock_guard<std::mutex> lock(mu_);
      current_ = index;
      server = url;
      return answer;
    }
    const bool next = answer.outcome == PostOutcome::kNotSent ||
                      (answer.outcome == PostOutcome::kNoAnswer && operation.resend_safe);
    if (!next) {
      std::string message =
          "PowerJob " + std::string(operation.name) + " at " + url + ": " + answer.error;
      if (!operation.resend_safe) {
        message += "; the answer was lost, and the call is not repeated automatically";
      }
      return Status::DeadlineExceeded(std::move(message));
    }
    spdlog::warn("PowerJob {}: server {} failed: {}", operation.name, url, answer.error);
    failures += (failures.empty() ? "" : "; ") + url + ": " + answer.error;
  }
  return Status::Unavailable("PowerJob " + std::string(operation.name) +
                             ": no server could be reached (" + failures + ")");
}

StatusOr<wire::Envelope> Client::Exchange(const Operation& operation, const HttpPost& post,
                                          std::string& server) {
  StatusOr<HttpAnswer> answer = Deliver(operation, post, server);
  if (!answer.ok()) return answer.status();
  const std::string where = "PowerJob " + std::string(operation.name) + " at " + server;
  StatusOr<wire::Envelope> envelope = wire::ParseEnvelope(answer->body);

  if (answer->status != 200) {
    // A 5.x server replies to an unexpected interceptor error with HTTP 500
    // and an envelope. Anything else is an error page or a proxy's response.
    if (envelope.ok() && !envelope->success) return StatusFromServer(operation, server, *envelope);
    const std::string text =
        where + ": HTTP " + std::to_string(answer->status) + ": " + BodyStart(answer->body);
    if (answer->status == 404) return Status::NotFound(text);
    if (answer->status >= 502 && answer->status <= 504) return Status::Unavailable(text);
    return Status::Internal(text);
  }
  if (!envelope.ok()) return Status::Internal(where + ": " + envelope.status().message());
  return envelope;
}

StatusOr<Client::Auth> Client::AuthenticateWith(Profile profile) {
  const Operation& operation = profile == Profile::kV5 ? kAuthApp : kAssert;
  HttpPost post;
  if (profile == Profile::kV5) {
    json body = {{"appName", options_.app_name},
                 {"encryptedPassword", wire::Md5Hex(options_.password)},
                 {"encryptType", "md5"}};
    post.path = "/openApi/authApp";
    post.content_type = kJsonType;
    post.body = body.dump();
  } else {
    wire::FormFields fields = {{"appName", options_.app_name}};
    if (!options_.password.empty()) fields.emplace_back("password", options_.password);
    post = FormPost("assert", fields);
  }

  std::string server;
  StatusOr<wire::Envelope> envelope = Exchange(operation, post, server);
  if (!envelope.ok()) return envelope.status();
  if (!envelope->success) {
    Status status = StatusFromServer(operation, server, *envelope);
    return Status::Unauthenticated(status.message() + "; check the app name \"" +
                                   options_.app_name + "\" and its password");
  }
  Auth auth;
  auth.profile = profile;
  if (profile == Profile::kV5) {
    StatusOr<wire::AppAuth> app = wire::ParseAppAuth(envelope->data);
    if (!app.ok()) {
      return Status::Internal("PowerJob authApp at " + server + ": " + app.status().message());
    }
    auth.app_id = app->app_id;
    auth.token = app->token;
  } else {
    StatusOr<int64_t> app_id = wire::ReadInt64(envelope->data, "data");
    if (!app_id.ok()) {
      return Status::Internal("PowerJob assert at " + server + ": " + app_id.status().message());
    }
    auth.app_id = *app_id;
  }
  spdlog::info("PowerJob app {} authenticated at {} (profile {}, appId {})", options_.app_name,
               server, ProfileName(profile), auth.app_id);
  return auth;
}

StatusOr<Client::Auth> Client::Authenticate(uint64_t stale_generation) {
  std::lock_guard<std::mutex> auth_lock(auth_mu_);
  Profile profile = options_.profile;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auth_.generation != 0 && auth_.generation != stale_generation) return auth_;
    if (auth_.profile != Profile::kAuto) profile = auth_.profile;
  }

  StatusOr<Auth> auth = Status::Internal("no authentication tried");
  if (profile == Profile::kAuto) {
    // A server before 5.1 has no /openApi/authApp and replies 404.
    auth = AuthenticateWith(Profile::kV5);
    if (!auth.ok() && auth.status().code() == Code::kNotFound) {
      spdlog::info("PowerJob has no authApp ({}); using assert", auth.status().message());
      auth = AuthenticateWith(Profile::kV4);
    }
  } else {
    auth = AuthenticateWith(profile);
  }
  if (!auth.ok()) return auth.status();

  std::lock_guard<std::mutex> lock(mu_);
  auth->generation = auth_.generation + 1;
  auth_ = *auth;
  return auth_;
}

Status Client::CheckAccess() { return Authenticate(0).status(); }

StatusOr<json> Client::Call(const Operation& operation, const RequestBuilder& build) {
  StatusOr<json> result = CallAuthenticated(operation, build);
  if (options_.on_result) {
    const Code code = result.ok() ? Code::kOk : result.status().code();
    options_.on_result(operation.name, code == Code::kOk                 ? "success"
                                       : code == Code::kDeadlineExceeded ? "timeout"
                                       : code == Code::kUnavailable      ? "unavailable"
                                                                         : "rejected");
  }
  return result;
}

StatusOr<json> Client::CallAuthenticated(const Operation& operation, const RequestBuilder& build) {
  StatusOr<Auth> auth = Authenticate(0);
  for (int round = 0;; ++round) {
    if (!auth.ok()) {
      // Nothing of this operation was sent, whatever happened to the
      // authentication call.
      const Status& status = auth.status();
      const Code code =
          status.code() == Code::kDeadlineExceeded ? Code::kUnavailable : status.code();
      return Status(code, "PowerJob " + std::string(operation.name) +
                              " not sent: authentication failed: " + status.message());
    }
    HttpPost post = build(*auth);
    if (auth->profile == Profile::kV5) {
      post.headers.emplace_back(kAppIdHeader, std::to_string(auth->app_id));
      post.headers.emplace_back(kTokenHeader, auth->token);
    }
    std::string server;
    StatusOr<wire::Envelope> envelope = Exchange(operation, post, server);
    if (!envelope.ok()) return envelope.status();
    if (envelope->success) return std::move(envelope->data);
    if (round > 0 || !wire::IsAuthErrorCode(envelope->code)) {
      return StatusFromServer(operation, server, *envelope);
    }
    spdlog::warn("PowerJob {} at {} was rejected with code {} ({}); authenticating again",
                 operation.name, server, envelope->code, envelope->message);
    auth = Authenticate(auth->generation);
  }
}

StatusOr<json> Client::CallForm(const Operation& operation, wire::FormFields fields) {
  return Call(operation, [&](const Auth& auth) {
    wire::FormFields all = fields;
    all.emplace_back("appId", std::to_string(auth.app_id));
    return FormPost(operation.name, all);
  });
}

StatusOr<int64_t> Client::SaveJob(const JobSpec& spec) {
  StatusOr<json> data = Call(kSaveJob, [&](const Auth& auth) {
    HttpPost post;
    post.path = "/openApi/saveJob";
    post.content_type = kJsonType;
    post.body = wire::EncodeJobSpec(spec, auth.app_id).dump();
    return post;
  });
  if (!data.ok()) return data.status();
  StatusOr<int64_t> id = wire::ReadInt64(*data, "data");
  if (!id.ok()) return Status::Internal("PowerJob saveJob: " + id.status().message());
  return id;
}

StatusOr<JobInfo> Client::FetchJob(int64_t job_id) {
  StatusOr<json> data = CallForm(kFetchJob, {{"jobId", std::to_string(job_id)}});
  if (!data.ok()) return data.status();
  StatusOr<JobInfo> job = wire::ParseJobInfo(*data);
  if (!job.ok()) return Status::Internal("PowerJob fetchJob: " + job.status().message());
  return job;
}

StatusOr<int64_t> Client::RunJob(int64_t job_id, std::string_view instance_params,
                                 int64_t delay_ms) {
  wire::FormFields fields = {{"jobId", std::to_string(job_id)}};
  if (!instance_params.empty()) fields.emplace_back("instanceParams", std::string(instance_params));
  fields.emplace_back("delay", std::to_string(delay_ms));
  // PowerJob's Spring Boot server drops a larger form body without an error
  // and then runs the job's own parameters instead.
  const size_t encoded = wire::EncodeForm(fields).size() + 64;
  if (encoded > kMaxFormBytes) {
    return Status::InvalidArgument("PowerJob runJob not sent: instanceParams of " +
                                   std::to_string(instance_params.size()) +
                                   " bytes encode to about " + std::to_string(encoded) +
                                   " bytes, above the " + std::to_string(kMaxFormBytes) +
                                   "-byte form limit of PowerJob's server; shorten the script");
  }
  StatusOr<json> data = CallForm(kRunJob, std::move(fields));
  if (!data.ok()) return data.status();
  StatusOr<int64_t> id = wire::ReadInt64(*data, "data");
  if (!id.ok()) {
    // The server replied, so an instance may exist, but its id is unreadable.
    return Status::Internal("PowerJob runJob: " + id.status().message());
  }
  return id;
}

Status Client::StopInstance(int64_t instance_id) {
  return CallForm(kStopInstance, {{"instanceId", std::to_string(instance_id)}}).status();
}

Status Client::CancelInstance(int64_t instance_id) {
  return CallForm(kCancelInstance, {{"instanceId", std::to_string(instance_id)}}).status();
}

Status Client::RetryInstance(int64_t instance_id) {
  return CallForm(kRetryInstance, {{"instanceId", std::to_string(instance_id)}}).status();
}

StatusOr<int> Client::FetchInstanceStatus(int64_t instance_id) {
  StatusOr<json> data =
      CallForm(kFetchInstanceStatus, {{"instanceId", std::to_string(instance_id)}});
  if (!data.ok()) return data.status();
  StatusOr<int64_t> status = wire::ReadInt64(*data, "data");
  if (!status.ok() || *status < 0 || *status > 1000) {
    return Status::Internal("PowerJob fetchInstanceStatus: invalid reply: data is " + data->dump() +
                            ", not a status code");
  }
  return static_cast<int>(*status);
}

StatusOr<InstanceInfo> Client::FetchInstanceInfo(int64_t instance_id) {
  StatusOr<json> data = CallForm(kFetchInstanceInfo, {{"instanceId", std::to_string(instance_id)}});
  if (!data.ok()) return data.status();
  StatusOr<InstanceInfo> info = wire::ParseInstanceInfo(*data);
  if (!info.ok()) return Status::Internal("PowerJob fetchInstanceInfo: " + info.status().message());
  return info;
}

}  // namespace svcd::powerjob
