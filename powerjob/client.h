// Client: the PowerJob OpenAPI operations that svcd uses, for PowerJob 4.3.x
// servers (authentication with /openApi/assert, then appId on every call)
// and 5.1.x servers (/openApi/authApp with the MD5 of the password, then the
// X-POWERJOB-APP-ID and X-POWERJOB-ACCESS-TOKEN headers).
//
// Delivery rules:
//   - Several server URLs may be given. A call moves to the next URL only on
//     a network error: a connection that could not be made (nothing was
//     sent), or, for operations that are safe to repeat, a connection that
//     closed before any byte of the response. The URL that replied becomes
//     the first one tried next time. An HTTP error status never moves on.
//   - saveJob and runJob are never sent a second time once the request may
//     have reached a server: a timeout or a close before the response fails
//     the call with DeadlineExceeded and "the answer was lost; not re-sent",
//     because the server may have created the job or instance.
//   - A call that the server rejects with an authentication error code (-300,
//     -400 to -403, -1002) makes the client authenticate again, once, and
//     repeat that call. The X-POWERJOB-AUTH-PASSED response header is ignored:
//     5.1.0 servers leave it out even on success, and re-sending because of
//     it duplicated jobs and instances.
//
// Every error is a Status whose message names the operation, the server URL
// and the message and code that the server gave. The password, its MD5 and
// the token appear in no message and no log line.

#ifndef SVCD_POWERJOB_CLIENT_H_
#define SVCD_POWERJOB_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/status.h"
#include "powerjob/model.h"

namespace svcd::powerjob {

struct HttpAnswer;
struct HttpPost;
namespace wire {
struct Envelope;
}
namespace internal {
struct Operation;
}

// The authentication protocol of a server.
enum class Profile {
  kAuto,  // try /openApi/authApp; on HTTP 404 use /openApi/assert
  kV4,    // 4.3.x (also 5.0.x): /openApi/assert
  kV5,    // 5.1.x: /openApi/authApp and token headers
};

// Parses "auto", "4", "4.3", "5" or "5.1". Returns InvalidArgument naming
// `field` and the accepted values otherwise.
StatusOr<Profile> ParseProfile(std::string_view text, std::string_view field = "profile");
// Returns "auto", "4.3" or "5.1".
const char* ProfileName(Profile profile);

struct ClientOptions {
  // Server URLs, "http://host:port" or "host:port" (http is assumed), tried
  // in this order. At least one is required.
  std::vector<std::string> servers;
  std::string app_name;  // required
  std::string password;  // may be empty; a secret, never logged
  Profile profile = Profile::kAuto;
  // The limit for each HTTP request, from connect to the last byte of the
  // response.
  std::chrono::milliseconds timeout{10000};
  // Called once per operation when it ends, with the operation's name
  // ("runJob", ...) and "success", "rejected" (the server answered with a
  // failure), "timeout" (the answer was lost) or "unavailable" (nothing
  // reached a server). May be empty; must be fast and thread-safe.
  std::function<void(std::string_view operation, std::string_view result)> on_result;
};

// Thread-safety: every method may be called from several threads at once.
// Authentication happens on the first call and is shared by all threads.
class Client {
 public:
  // Checks the options: at least one URL, each http:// or https:// with a
  // host and no path, query or spaces, an app name, and a positive timeout.
  // Returns InvalidArgument with one cause per problem (field "servers[1]",
  // "app_name", "timeout").
  static StatusOr<std::unique_ptr<Client>> Create(ClientOptions options);

  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Creates a job (spec.id empty) or updates one, and returns its id.
  // Errors: see the file comment. A rejection maps to InvalidArgument,
  // NotFound and the like by the server's message (StatusFromServer in
  // client.cc).
  StatusOr<int64_t> SaveJob(const JobSpec& spec);
  StatusOr<JobInfo> FetchJob(int64_t job_id);
  // Starts an instance of the job with `instance_params` (left out when
  // empty) after `delay_ms`, and returns its id. With delay 0 the server
  // dispatches inside the call: the instance is then usually in status 2,
  // or already FAILED with "no worker available". InvalidArgument, with
  // nothing sent, when the form body would exceed 2 MiB, which PowerJob's
  // server drops silently.
  StatusOr<int64_t> RunJob(int64_t job_id, std::string_view instance_params, int64_t delay_ms = 0);
  // Marks the instance STOPPED and sends its worker a stop request. PowerJob's
  // shell processor does not kill the script's processes. FailedPrecondition
  // when the instance has finished already.
  Status StopInstance(int64_t instance_id);
  // Cancels an instance that waits for its trigger time or for dispatch.
  // FailedPrecondition when it runs already.
  Status CancelInstance(int64_t instance_id);
  // Dispatches a finished (failed, stopped or cancelled) instance again
  // under the same id.
  Status RetryInstance(int64_t instance_id);
  StatusOr<int> FetchInstanceStatus(int64_t instance_id);
  StatusOr<InstanceInfo> FetchInstanceInfo(int64_t instance_id);

  // Authenticates now unless a call has done so already, so that a wrong
  // app name or password shows at start. Returns Unauthenticated when
  // PowerJob rejects the credentials, and Unavailable or a similar code
  // when no server replies.
  Status CheckAccess();

  // The profile in use: the configured one, or, with kAuto, the detected one
  // once a call has authenticated (kAuto before that).
  Profile profile() const;
  // The URL that is tried first.
  std::string current_server() const;

 private:
  using Operation = internal::Operation;
  struct Auth {
    Profile profile = Profile::kAuto;
    int64_t app_id = 0;
    std::string token;  // 5.1 only
    uint64_t generation = 0;
  };
  using RequestBuilder = std::function<HttpPost(const Auth&)>;

  explicit Client(ClientOptions options);

  // Runs one operation: authentication when needed, delivery with failover,
  // the envelope check, and one repeat after an authentication error.
  // Returns the envelope's data on success.
  StatusOr<nlohmann::json> Call(const Operation& operation, const RequestBuilder& build);
  StatusOr<nlohmann::json> CallAuthenticated(const Operation& operation,
                                             const RequestBuilder& build);
  StatusOr<nlohmann::json> CallForm(const Operation& operation,
                                    std::vector<std::pair<std::string, std::string>> fields);
  // Authenticates unless a newer authentication than `stale_generation`
  // exists, and returns the current one.
  StatusOr<Auth> Authenticate(uint64_t stale_generation);
  StatusOr<Auth> AuthenticateWith(Profile profile);
  // Sends `post` to the servers in failover order. On success, `server` is
  // the URL that replied.
  StatusOr<HttpAnswer> Deliver(const Operation& operation, const HttpPost& post,
                               std::string& server);
  StatusOr<wire::Envelope> Exchange(const Operation& operation, const HttpPost& post,
                                    std::string& server);

  const ClientOptions options_;

  mutable std::mutex mu_;
  size_t current_ = 0;  // index into options_.servers; guarded by mu_
  Auth auth_;           // guarded by mu_; generation 0 means not authenticated
  std::mutex auth_mu_;  // held while authenticating, so one thread does it
};

}  // namespace svcd::powerjob

#endif  // SVCD_POWERJOB_CLIENT_H_
