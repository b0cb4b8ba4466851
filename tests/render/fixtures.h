// Builders for the Host, ServiceTemplate and ServiceDeploy objects that the
// render tests construct in C++.

#ifndef SVCD_TESTS_RENDER_FIXTURES_H_
#define SVCD_TESTS_RENDER_FIXTURES_H_

#include <map>
#include <optional>
#include <string>

#include "api/types.h"

namespace svcd::testing {

inline api::Host MakeHost(const std::string& name, const std::string& address) {
  api::Host host;
  host.metadata.name = name;
  host.spec.address = address;
  return host;
}

inline api::ServiceTemplate MakeTemplate(const std::string& name, const std::string& prefix) {
  api::ServiceTemplate tmpl;
  tmpl.metadata.name = name;
  tmpl.spec.fixed_prefix = prefix;
  return tmpl;
}

// A deploy "eval/qwen" of template "vllm" with the master on gpu-01 and one
// worker per entry of `worker_hosts`.
inline api::ServiceDeploy MakeDeploy(const std::vector<std::string>& worker_hosts = {}) {
  api::ServiceDeploy deploy;
  deploy.metadata.name = "qwen";
  deploy.metadata.namespace_ = "eval";
  deploy.spec.template_ref = "vllm";
  deploy.spec.model_name = "qwen2-7b";
  deploy.spec.master.host = "gpu-01";
  for (const std::string& host : worker_hosts) {
    api::NodeSpec worker;
    worker.host = host;
    deploy.spec.workers.push_back(worker);
  }
  return deploy;
}

// Hosts gpu-01 .. gpu-04 at 10.0.0.1 .. 10.0.0.4.
inline std::map<std::string, api::Host> MakeHosts() {
  std::map<std::string, api::Host> hosts;
  for (int i = 1; i <= 4; ++i) {
    const std::string name = "gpu-0" + std::to_string(i);
    hosts[name] = MakeHost(name, "10.0.0." + std::to_string(i));
  }
  return hosts;
}

inline api::Arg Named(const std::string& name, const std::string& value) {
  return {name, value, std::nullopt};
}
inline api::Arg Flag(const std::string& name, bool on = true) { return {name, std::nullopt, on}; }
inline api::Arg Positional(const std::string& value) { return {std::nullopt, value, std::nullopt}; }

}  // namespace svcd::testing

#endif  // SVCD_TESTS_RENDER_FIXTURES_H_
