// Resource types of svcd.io/v1alpha1: Host, ServiceTemplate and ServiceDeploy.
//
// These are plain structs. The codec (api/codec.h) decodes them strictly from
// YAML or JSON and encodes them back; api/defaults.h fills the documented
// defaults. Fields that the user may omit and that have no default are
// std::optional, so "unset" and "set to the zero value" stay distinct.

#ifndef SVCD_API_TYPES_H_
#define SVCD_API_TYPES_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace svcd::api {

inline constexpr char kGroupVersion[] = "svcd.io/v1alpha1";
inline constexpr char kKindHost[] = "Host";
inline constexpr char kKindServiceTemplate[] = "ServiceTemplate";
inline constexpr char kKindServiceDeploy[] = "ServiceDeploy";
inline constexpr char kDefaultNamespace[] = "default";
// The finalizer that keeps a ServiceDeploy until its targets are stopped.
inline constexpr char kDeployFinalizer[] = "svcd.io/stop-targets";

struct ObjectMeta {
  std::string name;
  std::string namespace_;  // ServiceDeploy only; defaulted to "default"
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;

  // Set by the server; accepted on input so that `get -o yaml` output can be
  // applied again, and ignored there except for resource_version.
  std::string uid;
  int64_t generation = 0;
  std::string resource_version;
  std::string creation_timestamp;  // RFC 3339, UTC
  std::string deletion_timestamp;  // RFC 3339, UTC; empty unless deleting
  std::vector<std::string> finalizers;

  friend bool operator==(const ObjectMeta&, const ObjectMeta&) = default;
};

struct EnvVar {
  std::string name;   // ^[A-Za-z_][A-Za-z0-9_]*$, not SVCD_*
  std::string value;  // exactly the scalar's text; empty when omitted

  friend bool operator==(const EnvVar&, const EnvVar&) = default;
};

// One command-line argument. Exactly one shape is valid:
//   {name, value}      renders --name 'value'
//   {name, flag: true} renders --name
//   {name, flag: false} removes an inherited flag of that name
//   {value}            a positional argument, never merged
struct Arg {
  std::optional<std::string> name;  // ^-{0,2}[A-Za-z0-9][A-Za-z0-9._-]*$
  std::optional<std::string> value;
  std::optional<bool> flag;

  friend bool operator==(const Arg&, const Arg&) = default;
};

struct HttpHeader {
  std::string name;
  std::string value;

  friend bool operator==(const HttpHeader&, const HttpHeader&) = default;
};

struct HttpProbe {
  std::string method = "GET";  // GET | POST
  int port = 0;                // 1..65535, required
  std::string path = "/";
  std::vector<HttpHeader> headers;
  std::string body;
  std::optional<int> expect_status;  // unset: any 2xx
  std::string keyword;               // empty: no keyword check

  friend bool operator==(const HttpProbe&, const HttpProbe&) = default;
};

struct TcpProbe {
  int port = 0;  // 1..65535, required

  friend bool operator==(const TcpProbe&, const TcpProbe&) = default;
};

// Runs `command` (argv, no shell) on the target's host. Admin-written only.
struct ExecProbe {
  std::vector<std::string> command;

  friend bool operator==(const ExecProbe&, const ExecProbe&) = default;
};

// Exactly one of http, tcp and exec is set.
struct Probe {
  std::optional<HttpProbe> http;
  std::optional<TcpProbe> tcp;
  std::optional<ExecProbe> exec;
  int initial_delay_seconds = 0;
  int period_seconds = 10;
  int timeout_seconds = 5;
  int failure_threshold = 3;
  int success_threshold = 1;

  friend bool operator==(const Probe&, const Probe&) = default;
};

// ---------------------------------------------------------------------------
// Host (cluster-scoped)

struct HostPowerJob {
  std::string worker_address;  // host:port of the PowerJob worker

  friend bool operator==(const HostPowerJob&, const HostPowerJob&) = default;
};

struct HostSpec {
  std::string address;   // IPv4, IPv6 literal or DNS name; required
  std::string hostname;  // informational
  int ssh_port = 22;     // informational
  std::string executor;  // "local" | "powerjob"; defaulted from address
  std::optional<HostPowerJob> powerjob;
  bool disabled = false;

  friend bool operator==(const HostSpec&, const HostSpec&) = default;
};

struct HostStatus {
  std::string last_dispatch_time;  // RFC 3339; last successful dispatch
  std::string last_report_time;    // RFC 3339; last launcher report
  std::optional<bool> dispatch_ready;
  std::string reason;   // CamelCase, set when dispatch does not work
  std::string message;  // human-readable; no timestamps

  friend bool operator==(const HostStatus&, const HostStatus&) = default;
};

struct Host {
  ObjectMeta metadata;
  HostSpec spec;
  HostStatus status;

  friend bool operator==(const Host&, const Host&) = default;
};

// ---------------------------------------------------------------------------
// ServiceTemplate (cluster-scoped)

struct ServiceTemplateSpec {
  std::string scene_type;       // vllm | vllm_ascend | vllm_mindspore | other text
  std::string model_backend;
  std::string backend_version;
  std::string fixed_prefix;     // trusted shell text, admin-written; required
  std::vector<EnvVar> default_envs;
  std::vector<Arg> default_master_args;
  std::vector<Arg> default_worker_args;
  std::optional<Probe> probe;         // default master probe
  std::optional<Probe> worker_probe;  // default worker probe

  friend bool operator==(const ServiceTemplateSpec&, const ServiceTemplateSpec&) = default;
};

struct ServiceTemplate {
  ObjectMeta metadata;
  ServiceTemplateSpec spec;

  friend bool operator==(const ServiceTemplate&, const ServiceTemplate&) = default;
};

// ---------------------------------------------------------------------------
// ServiceDeploy (namespaced)

struct NodeSpec {
  std::string host;  // a Host name; required
  std::vector<EnvVar> envs;
  std::vector<Arg> args;

  friend bool operator==(const NodeSpec&, const NodeSpec&) = default;
};

inline constexpr char kScopeGroup[] = "Group";
inline constexpr char kScopeTarget[] = "Target";

struct RestartPolicy {
  std::string scope;  // Group | Target; defaulted: Group with workers, else Target
  int max_retries = 5;
  int backoff_seconds = 10;
  int max_backoff_seconds = 300;
  int reset_after_seconds = 600;

  friend bool operator==(const RestartPolicy&, const RestartPolicy&) = default;
};

inline constexpr char kStartupMasterStarted[] = "MasterStarted";
inline constexpr char kStartupMasterReady[] = "MasterReady";
inline constexpr char kStartupParallel[] = "Parallel";

struct ServiceDeploySpec {
  std::string template_ref;  // a ServiceTemplate name; required
  std::string model_name;    // required
  std::vector<EnvVar> envs;
  NodeSpec master;
  std::vector<NodeSpec> workers;  // targets worker-0, worker-1, ...
  std::optional<Probe> probe;         // replaces the template's probe
  std::optional<Probe> worker_probe;  // replaces the template's worker probe
  std::string startup_policy = kStartupMasterStarted;
  int worker_stagger_seconds = 5;
  int startup_timeout_seconds = 1200;
  int dispatch_timeout_seconds = 120;
  RestartPolicy restart_policy;
  bool suspend = false;

  friend bool operator==(const ServiceDeploySpec&, const ServiceDeploySpec&) = default;
};

struct Condition {
  std::string type;    // Ready | Progressing | Stalled | UpToDate
  std::string status;  // "True" | "False" | "Unknown"
  std::string reason;  // CamelCase
  std::string message;
  std::string last_transition_time;  // RFC 3339
  int64_t observed_generation = 0;

  friend bool operator==(const Condition&, const Condition&) = default;
};

struct TargetStatus {
  std::string name;   // master | worker-0 | ...
  std::string role;   // master | worker
  std::string host;
  std::string state;  // PENDING DISPATCHING RUNNING READY FAILED CANCELLED TIMEOUT
  int attempts = 0;   // restarts in this generation
  std::string next_retry_time;  // RFC 3339; empty when none is scheduled
  std::optional<int64_t> pid;
  std::optional<int> exit_code;
  std::string dispatch_id;
  std::optional<int64_t> powerjob_instance_id;
  std::string command_hash;  // "sha256:..."
  std::string message;

  friend bool operator==(const TargetStatus&, const TargetStatus&) = default;
};

struct ServiceDeployStatus {
  int64_t observed_generation = 0;
  std::string phase;  // Pending Progressing Ready Degraded Failed Terminating
  std::vector<Condition> conditions;
  std::string endpoint;
  std::vector<TargetStatus> targets;

  friend bool operator==(const ServiceDeployStatus&, const ServiceDeployStatus&) = default;
};

struct ServiceDeploy {
  ObjectMeta metadata;
  ServiceDeploySpec spec;
  ServiceDeployStatus status;

  friend bool operator==(const ServiceDeploy&, const ServiceDeploy&) = default;
};

// Any one object of the three kinds, as decoded from one document.
using Object = std::variant<Host, ServiceTemplate, ServiceDeploy>;

}  // namespace svcd::api

#endif  // SVCD_API_TYPES_H_
