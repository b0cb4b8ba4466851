#include "api/defaults.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <string>
#include <variant>

namespace svcd::api {
namespace {

void DefaultProbe(std::optional<Probe>& probe) {
  if (!probe || !probe->http) return;
  if (probe->http->method.empty()) probe->http->method = "GET";
  if (probe->http->path.empty()) probe->http->path = "/";
}

void Default(Host& host) {
  HostSpec& spec = host.spec;
  if (spec.executor.empty()) spec.executor = IsLoopbackAddress(spec.address) ? "local" : "powerjob";
  if (spec.executor != "powerjob") return;
  if (!spec.powerjob) spec.powerjob.emplace();
  if (spec.powerjob->worker_address.empty()) {
    bool ipv6 = spec.address.find(':') != std::string::npos;
    std::string host_part = ipv6 ? "[" + spec.address + "]" : spec.address;
    spec.powerjob->worker_address = host_part + ":" + std::to_string(kDefaultPowerJobWorkerPort);
  }
}

void Default(ServiceTemplate& tmpl) {
  DefaultProbe(tmpl.spec.probe);
  DefaultProbe(tmpl.spec.worker_probe);
}

void Default(ServiceDeploy& deploy) {
  ServiceDeploySpec& spec = deploy.spec;
  if (deploy.metadata.namespace_.empty()) deploy.metadata.namespace_ = kDefaultNamespace;
  DefaultProbe(spec.probe);
  DefaultProbe(spec.worker_probe);
  if (spec.startup_policy.empty()) spec.startup_policy = kStartupMasterStarted;
  if (spec.restart_policy.scope.empty()) {
    spec.restart_policy.scope = spec.workers.empty() ? kScopeTarget : kScopeGroup;
  }
}

void SortEnvs(std::vector<EnvVar>& envs) {
  std::stable_sort(envs.begin(), envs.end(),
                   [](const EnvVar& a, const EnvVar& b) { return a.name < b.name; });
}

// Puts every env list in name order so that equality ignores their order.
void Normalize(Object& object) {
  if (auto* tmpl = std::get_if<ServiceTemplate>(&object)) SortEnvs(tmpl->spec.default_envs);
  if (auto* deploy = std::get_if<ServiceDeploy>(&object)) {
    SortEnvs(deploy->spec.envs);
    SortEnvs(deploy->spec.master.envs);
    for (NodeSpec& worker : deploy->spec.workers) SortEnvs(worker.envs);
  }
}

}  // namespace

bool IsLoopbackAddress(std::string_view address) {
  std::string lower;
  for (char c : address) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "localhost" || lower == "localhost.") return true;
  unsigned char v4[4];
  if (inet_pton(AF_INET, lower.c_str(), v4) == 1) return v4[0] == 127;
  unsigned char v6[16];
  if (inet_pton(AF_INET6, lower.c_str(), v6) != 1) return false;
  static constexpr unsigned char kLoopback[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  static constexpr unsigned char kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(v6, kLoopback, 16) == 0) return true;
  return std::memcmp(v6, kMappedPrefix, 12) == 0 && v6[12] == 127;
}

void ApplyDefaults(Object& object) {
  std::visit([](auto& typed) { Default(typed); }, object);
}

bool SpecEquivalent(const Object& a, const Object& b) {
  if (a.index() != b.index()) return false;
  Object left = a;
  Object right = b;
  ApplyDefaults(left);
  ApplyDefaults(right);
  Normalize(left);
  Normalize(right);
  return std::visit(
      [&right](const auto& typed) {
        using T = std::decay_t<decltype(typed)>;
        return typed.spec == std::get<T>(right).spec;
      },
      left);
}

}  // namespace svcd::api
