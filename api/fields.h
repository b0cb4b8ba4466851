// The one description of every field of every resource.
//
// Each VisitFields overload walks the fields of one type in the order they
// are written out, calling the visitor once per field with its wire name, a
// reference to the member and its Rules. Three visitors drive it:
// Decoder (document tree -> struct, api/decoder.h), Encoder (struct -> JSON,
// api/encoder.h) and SchemaRecorder (field list, api/schema.cc). A visitor
// provides:
//
//   Constant(name, value)               apiVersion and kind
//   String(name, std::string& | std::optional<std::string>&, rules)
//   Int(name, int& | int64_t& | std::optional<...>&, rules)
//   Bool(name, bool& | std::optional<bool>&, rules)
//   StringMap(name, std::map<std::string, std::string>&, rules)
//   StringList(name, std::vector<std::string>&, rules)
//   Object(name, T& | std::optional<T>&, rules, extra...)  calls VisitFields(v, t, extra...)
//   List(name, std::vector<T>&, rules, extra...)            same, for each item
//   Forbidden(name, message)            a field this kind rejects
//   Check(callback)                     cross-field rule: callback(Reporter&)
//
// Only the decoder runs Check callbacks and enforces Forbidden.

#ifndef SVCD_API_FIELDS_H_
#define SVCD_API_FIELDS_H_

#include "api/document.h"
#include "api/rules.h"
#include "api/types.h"

// GCC 12 warns about every field a designated initializer leaves out, which
// is the point of using them for Rules.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace svcd::api {

inline constexpr int64_t kMaxNameLength = 63;
inline constexpr int64_t kMaxTextLength = 253;
inline constexpr int64_t kMaxValueLength = 64 * 1024;
inline constexpr int64_t kMaxListItems = 256;

template <class V>
void VisitFields(V& v, ObjectMeta& m, Scope scope) {
  const Rules dns_label = {
      .what = "name", .max_length = kMaxNameLength, .pattern = kDns1123LabelPattern};
  Rules name = dns_label;
  name.required = true;
  v.String("name", m.name, name);
  if (scope == Scope::kNamespaced) {
    Rules ns = dns_label;
    ns.what = "namespace";
    v.String("namespace", m.namespace_, ns);
  } else {
    v.Forbidden("namespace", "this kind is cluster-scoped; remove metadata.namespace");
  }
  v.StringMap("labels", m.labels,
              {.what = "label", .check = CheckLabelValue, .key_check = CheckLabelKey});
  v.StringMap("annotations", m.annotations,
              {.what = "annotation", .max_length = kMaxValueLength, .key_check = CheckLabelKey});
  v.String("uid", m.uid, {.max_length = kMaxTextLength});
  v.Int("generation", m.generation, {.minimum = 0});
  v.String("resourceVersion", m.resource_version, {.max_length = kMaxTextLength});
  v.String("creationTimestamp", m.creation_timestamp, {.max_length = kMaxNameLength});
  v.String("deletionTimestamp", m.deletion_timestamp, {.max_length = kMaxNameLength});
  v.StringList("finalizers", m.finalizers, {.max_length = kMaxTextLength, .max_items = 32});
}

template <class V>
void VisitFields(V& v, EnvVar& e) {
  v.String("name", e.name,
           {.required = true,
            .what = "env name",
            .max_length = kMaxTextLength,
            .pattern = kEnvNamePattern,
            .check = CheckEnvNameNotReserved});
  v.String("value", e.value, {.max_length = kMaxValueLength});
}

template <class V>
void VisitFields(V& v, Arg& a) {
  v.String("name", a.name,
           {.what = "arg name", .max_length = kMaxTextLength, .pattern = kArgNamePattern});
  v.String("value", a.value, {.max_length = kMaxValueLength});
  v.Bool("flag", a.flag, {});
  v.Check([&a](Reporter& r) {
    bool named = a.name.has_value();
    if (named && a.value && a.flag) {
      r.Error("", "set either value or flag for arg " + QuoteForMessage(*a.name) + ", not both");
    } else if (named && !a.value && !a.flag) {
      r.Error("", "arg " + QuoteForMessage(*a.name) + " needs a value or flag: true");
    } else if (!named && a.flag) {
      r.Error("flag", "flag needs a name; add name: or remove flag");
    } else if (!named && !a.value) {
      r.Error("", "an arg needs {name, value}, {name, flag} or {value}");
    }
  });
}

template <class V>
void VisitFields(V& v, HttpHeader& h) {
  v.String("name", h.name,
           {.required = true,
            .what = "header name",
            .max_length = kMaxTextLength,
            .pattern = kHeaderNamePattern});
  v.String("value", h.value,
           {.what = "header value", .max_length = 8192, .check = CheckHeaderValue});
}

template <class V>
void VisitFields(V& v, HttpProbe& h) {
  v.String("method", h.method, {.what = "method", .enum_values = {"GET", "POST"}});
  v.Int("port", h.port, {.required = true, .what = "port", .minimum = 1, .maximum = 65535});
  v.String("path", h.path, {.what = "path", .max_length = 2048, .pattern = kHttpPathPattern});
  v.List("headers", h.headers, {.max_items = 32});
  v.String("body", h.body, {.max_length = kMaxValueLength});
  v.Int("expectStatus", h.expect_status, {.minimum = 100, .maximum = 599});
  v.String("keyword", h.keyword, {.max_length = 4096});
}

template <class V>
void VisitFields(V& v, TcpProbe& t) {
  v.Int("port", t.port, {.required = true, .what = "port", .minimum = 1, .maximum = 65535});
}

template <class V>
void VisitFields(V& v, ExecProbe& e) {
  v.StringList("command", e.command,
               {.required = true, .max_length = kMaxValueLength, .max_items = kMaxListItems});
  v.Check([&e](Reporter& r) {
    if (!e.command.empty() && e.command.front().empty()) {
      r.Error("command[0]", "is empty; it must name the program to run, such as curl or sh");
    }
  });
}

template <class V>
void VisitFields(V& v, Probe& p, ProbeOwner owner) {
  v.Object("http", p.http, {});
  v.Object("tcp", p.tcp, {});
  if (owner == ProbeOwner::kTemplate) {
    v.Object("exec", p.exec, {});
  } else {
    v.Forbidden("exec", "exec probes are only allowed in a ServiceTemplate; use http or tcp");
  }
  v.Int("initialDelaySeconds", p.initial_delay_seconds, {.minimum = 0, .maximum = 3600});
  v.Int("periodSeconds", p.period_seconds, {.minimum = 1, .maximum = 3600});
  v.Int("timeoutSeconds", p.timeout_seconds, {.minimum = 1, .maximum = 3600});
  v.Int("failureThreshold", p.failure_threshold, {.minimum = 1, .maximum = 100});
  v.Int("successThreshold", p.success_threshold, {.minimum = 1, .maximum = 100});
  v.Check([&p](Reporter& r) {
    int set = p.http.has_value() + p.tcp.has_value() + p.exec.has_value();
    if (set != 1) r.Error("", "set exactly one of http, tcp and exec");
  });
}

// ---------------------------------------------------------------------------
// Host

template <class V>
void VisitFields(V& v, HostPowerJob& p) {
  v.String("workerAddress", p.worker_address,
           {.what = "worker address", .max_length = kMaxTextLength, .check = CheckWorkerAddress});
}

template <class V>
void VisitFields(V& v, HostSpec& s) {
  v.String("address", s.address,
           {.required = true,
            .what = "address",
            .max_length = kMaxTextLength,
            .check = CheckHostAddress});
  v.String("hostname", s.hostname, {.max_length = kMaxTextLength});
  v.Int("sshPort", s.ssh_port, {.what = "port", .minimum = 1, .maximum = 65535});
  v.String("executor", s.executor, {.what = "executor", .enum_values = {"local", "powerjob"}});
  v.Object("powerjob", s.powerjob, {});
  v.Bool("disabled", s.disabled, {});
}

template <class V>
void VisitFields(V& v, HostStatus& s) {
  v.String("lastDispatchTime", s.last_dispatch_time, {.max_length = kMaxNameLength});
  v.String("lastReportTime", s.last_report_time, {.max_length = kMaxNameLength});
  v.Bool("dispatchReady", s.dispatch_ready, {});
  v.String("reason", s.reason, {.max_length = kMaxTextLength});
  v.String("message", s.message, {.max_length = kMaxValueLength});
}

template <class V>
void VisitFields(V& v, Host& h) {
  v.Constant("apiVersion", kGroupVersion);
  v.Constant("kind", kKindHost);
  v.Object("metadata", h.metadata, {.required = true}, Scope::kCluster);
  v.Object("spec", h.spec, {.required = true});
  v.Object("status", h.status, {});
}

// ---------------------------------------------------------------------------
// ServiceTemplate

template <class V>
void VisitFields(V& v, ServiceTemplateSpec& s) {
  v.String("sceneType", s.scene_type, {.max_length = kMaxTextLength});
  v.String("modelBackend", s.model_backend, {.max_length = kMaxTextLength});
  v.String("backendVersion", s.backend_version, {.max_length = kMaxTextLength});
  v.String("fixedPrefix", s.fixed_prefix, {.required = true, .max_length = kMaxValueLength});
  v.List("defaultEnvs", s.default_envs, {.max_items = kMaxListItems});
  v.List("defaultMasterArgs", s.default_master_args, {.max_items = kMaxListItems});
  v.List("defaultWorkerArgs", s.default_worker_args, {.max_items = kMaxListItems});
  v.Object("probe", s.probe, {}, ProbeOwner::kTemplate);
  v.Object("workerProbe", s.worker_probe, {}, ProbeOwner::kTemplate);
  v.Check([&s](Reporter& r) {
    CheckUniqueEnvNames(r, "defaultEnvs", s.default_envs);
    CheckUniqueArgNames(r, "defaultMasterArgs", s.default_master_args);
    CheckUniqueArgNames(r, "defaultWorkerArgs", s.default_worker_args);
  });
}

template <class V>
void VisitFields(V& v, ServiceTemplate& t) {
  v.Constant("apiVersion", kGroupVersion);
  v.Constant("kind", kKindServiceTemplate);
  v.Object("metadata", t.metadata, {.required = true}, Scope::kCluster);
  v.Object("spec", t.spec, {.required = true});
}

// ---------------------------------------------------------------------------
// ServiceDeploy

template <class V>
void VisitFields(V& v, NodeSpec& n) {
  v.String("host", n.host,
           {.required = true,
            .what = "Host name",
            .max_length = kMaxNameLength,
            .pattern = kDns1123LabelPattern});
  v.List("envs", n.envs, {.max_items = kMaxListItems});
  v.List("args", n.args, {.max_items = kMaxListItems});
  v.Check([&n](Reporter& r) {
    CheckUniqueEnvNames(r, "envs", n.envs);
    CheckUniqueArgNames(r, "args", n.args);
  });
}

template <class V>
void VisitFields(V& v, RestartPolicy& p) {
  v.String("scope", p.scope, {.what = "scope", .enum_values = {kScopeGroup, kScopeTarget}});
  v.Int("maxRetries", p.max_retries, {.minimum = 0, .maximum = 1000});
  v.Int("backoffSeconds", p.backoff_seconds, {.minimum = 1, .maximum = 3600});
  v.Int("maxBackoffSeconds", p.max_backoff_seconds, {.minimum = 1, .maximum = 86400});
  v.Int("resetAfterSeconds", p.reset_after_seconds, {.minimum = 1, .maximum = 604800});
  v.Check([&p](Reporter& r) {
    if (p.max_backoff_seconds < p.backoff_seconds) {
      r.Error("maxBackoffSeconds", "maxBackoffSeconds (" + std::to_string(p.max_backoff_seconds) +
                                       ") must be at least backoffSeconds (" +
                                       std::to_string(p.backoff_seconds) + ")");
    }
  });
}

template <class V>
void VisitFields(V& v, ServiceDeploySpec& s) {
  v.String("templateRef", s.template_ref,
           {.required = true,
            .what = "ServiceTemplate name",
            .max_length = kMaxNameLength,
            .pattern = kDns1123LabelPattern});
  v.String("modelName", s.model_name, {.required = true, .max_length = kMaxTextLength});
  v.List("envs", s.envs, {.max_items = kMaxListItems});
  v.Object("master", s.master, {.required = true});
  v.List("workers", s.workers, {.max_items = kMaxWorkers});
  v.Object("probe", s.probe, {}, ProbeOwner::kDeploy);
  v.Object("workerProbe", s.worker_probe, {}, ProbeOwner::kDeploy);
  v.String("startupPolicy", s.startup_policy,
           {.what = "startup policy",
            .enum_values = {kStartupMasterStarted, kStartupMasterReady, kStartupParallel}});
  v.Int("workerStaggerSeconds", s.worker_stagger_seconds, {.minimum = 0, .maximum = 3600});
  v.Int("startupTimeoutSeconds", s.startup_timeout_seconds, {.minimum = 1, .maximum = 86400});
  v.Int("dispatchTimeoutSeconds", s.dispatch_timeout_seconds, {.minimum = 1, .maximum = 3600});
  v.Object("restartPolicy", s.restart_policy, {});
  v.Bool("suspend", s.suspend, {});
  v.Check([&s](Reporter& r) { CheckUniqueEnvNames(r, "envs", s.envs); });
}

template <class V>
void VisitFields(V& v, Condition& c) {
  v.String("type", c.type, {.max_length = kMaxNameLength});
  v.String("status", c.status, {.max_length = kMaxNameLength});
  v.String("reason", c.reason, {.max_length = kMaxTextLength});
  v.String("message", c.message, {.max_length = kMaxValueLength});
  v.String("lastTransitionTime", c.last_transition_time, {.max_length = kMaxNameLength});
  v.Int("observedGeneration", c.observed_generation, {.minimum = 0});
}

template <class V>
void VisitFields(V& v, TargetStatus& t) {
  v.String("name", t.name, {.max_length = kMaxNameLength});
  v.String("role", t.role, {.max_length = kMaxNameLength});
  v.String("host", t.host, {.max_length = kMaxTextLength});
  v.String("state", t.state, {.max_length = kMaxNameLength});
  v.Int("attempts", t.attempts, {.minimum = 0});
  v.String("nextRetryTime", t.next_retry_time, {.max_length = kMaxNameLength});
  v.Int("pid", t.pid, {.minimum = 0});
  v.Int("exitCode", t.exit_code, {});
  v.String("dispatchId", t.dispatch_id, {.max_length = kMaxTextLength});
  v.Int("powerjobInstanceId", t.powerjob_instance_id, {});
  v.String("commandHash", t.command_hash, {.max_length = kMaxTextLength});
  v.String("message", t.message, {.max_length = kMaxValueLength});
}

template <class V>
void VisitFields(V& v, ServiceDeployStatus& s) {
  v.Int("observedGeneration", s.observed_generation, {.minimum = 0});
  v.String("phase", s.phase, {.max_length = kMaxNameLength});
  v.List("conditions", s.conditions, {.max_items = 16});
  v.String("endpoint", s.endpoint, {.max_length = kMaxValueLength});
  v.List("targets", s.targets, {.max_items = kMaxWorkers + 1});
}

template <class V>
void VisitFields(V& v, ServiceDeploy& d) {
  v.Constant("apiVersion", kGroupVersion);
  v.Constant("kind", kKindServiceDeploy);
  v.Object("metadata", d.metadata, {.required = true}, Scope::kNamespaced);
  v.Object("spec", d.spec, {.required = true});
  v.Object("status", d.status, {});
}

}  // namespace svcd::api

#pragma GCC diagnostic pop

#endif  // SVCD_API_FIELDS_H_
