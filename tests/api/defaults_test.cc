// Defaulting and SpecEquivalent, on objects decoded from real manifests.

#include "api/defaults.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "api/codec.h"
#include "tests/api/test_util.h"

namespace svcd::api {
namespace {

using testing::kDeployHead;
using testing::kHostHead;
using testing::kTemplateHead;
using testing::ObjectsOf;

Object DecodeOne(const std::string& text) {
  std::vector<Object> objects = ObjectsOf(text);
  EXPECT_EQ(objects.size(), 1u) << text;
  return objects.empty() ? Object{} : objects[0];
}

ServiceDeploy DefaultedDeploy(const std::string& spec_lines) {
  Object object = DecodeOne(kDeployHead + spec_lines);
  ApplyDefaults(object);
  return std::get<ServiceDeploy>(object);
}

Host DefaultedHost(const std::string& spec_lines) {
  Object object = DecodeOne(kHostHead + spec_lines);
  ApplyDefaults(object);
  return std::get<Host>(object);
}

TEST(DefaultsTest, MinimalDeployGetsDocumentedDefaults) {
  ServiceDeploy deploy = DefaultedDeploy("  probe:\n    http: {port: 8000}\n");
  EXPECT_EQ(deploy.metadata.namespace_, "default");
  const ServiceDeploySpec& spec = deploy.spec;
  EXPECT_EQ(spec.startup_policy, "MasterStarted");
  EXPECT_EQ(spec.worker_stagger_seconds, 5);
  EXPECT_EQ(spec.startup_timeout_seconds, 1200);
  EXPECT_EQ(spec.dispatch_timeout_seconds, 120);
  EXPECT_FALSE(spec.suspend);
  EXPECT_EQ(spec.restart_policy.scope, "Target");
  EXPECT_EQ(spec.restart_policy.max_retries, 5);
  EXPECT_EQ(spec.restart_policy.backoff_seconds, 10);
  EXPECT_EQ(spec.restart_policy.max_backoff_seconds, 300);
  EXPECT_EQ(spec.restart_policy.reset_after_seconds, 600);
  ASSERT_TRUE(spec.probe.has_value());
  ASSERT_TRUE(spec.probe->http.has_value());
  EXPECT_EQ(spec.probe->http->method, "GET");
  EXPECT_EQ(spec.probe->http->path, "/");
  EXPECT_EQ(spec.probe->initial_delay_seconds, 0);
  EXPECT_EQ(spec.probe->period_seconds, 10);
  EXPECT_EQ(spec.probe->timeout_seconds, 5);
  EXPECT_EQ(spec.probe->failure_threshold, 3);
  EXPECT_EQ(spec.probe->success_threshold, 1);
  EXPECT_FALSE(spec.worker_probe.has_value());
}

TEST(DefaultsTest, RestartScopeDependsOnWorkersUnlessSet) {
  EXPECT_EQ(DefaultedDeploy("").spec.restart_policy.scope, "Target");
  EXPECT_EQ(DefaultedDeploy("  workers: [{host: gpu-02}]\n").spec.restart_policy.scope, "Group");
  EXPECT_EQ(DefaultedDeploy("  workers: [{host: gpu-02}]\n  restartPolicy: {scope: Target}\n")
                .spec.restart_policy.scope,
            "Target");
  EXPECT_EQ(DefaultedDeploy("  restartPolicy: {scope: Group}\n").spec.restart_policy.scope,
            "Group");
  // Other restart fields keep their defaults when only the scope is set.
  EXPECT_EQ(DefaultedDeploy("  restartPolicy: {scope: Group}\n").spec.restart_policy.max_retries,
            5);
}

TEST(DefaultsTest, ExplicitZeroIsKept) {
  ServiceDeploy deploy = DefaultedDeploy(
      "  workerStaggerSeconds: 0\n  restartPolicy: {maxRetries: 0}\n"
      "  probe:\n    tcp: {port: 1}\n    initialDelaySeconds: 0\n");
  EXPECT_EQ(deploy.spec.worker_stagger_seconds, 0);
  EXPECT_EQ(deploy.spec.restart_policy.max_retries, 0);
}

TEST(DefaultsTest, ExplicitValuesAreKept) {
  std::string text = kDeployHead;
  text.replace(text.find("  name: qwen\n"), 13, "  name: qwen\n  namespace: eval\n");
  Object object = DecodeOne(text +
                            "  startupPolicy: Parallel\n  probe:\n"
                            "    http: {port: 80, method: POST, path: /v1}\n");
  ApplyDefaults(object);
  const ServiceDeploy& deploy = std::get<ServiceDeploy>(object);
  EXPECT_EQ(deploy.metadata.namespace_, "eval");
  EXPECT_EQ(deploy.spec.startup_policy, "Parallel");
  EXPECT_EQ(deploy.spec.probe->http->method, "POST");
  EXPECT_EQ(deploy.spec.probe->http->path, "/v1");
}

TEST(DefaultsTest, TemplateProbesGetDefaults) {
  Object object = DecodeOne(std::string(kTemplateHead) +
                            "  workerProbe:\n    http: {port: 8001}\n    periodSeconds: 30\n");
  ApplyDefaults(object);
  const ServiceTemplate& tmpl = std::get<ServiceTemplate>(object);
  ASSERT_TRUE(tmpl.spec.worker_probe.has_value());
  EXPECT_EQ(tmpl.spec.worker_probe->http->method, "GET");
  EXPECT_EQ(tmpl.spec.worker_probe->http->path, "/");
  EXPECT_EQ(tmpl.spec.worker_probe->period_seconds, 30);
  EXPECT_EQ(MetaOf(object).namespace_, "");
}

TEST(DefaultsTest, HostExecutorFollowsAddress) {
  struct Case {
    std::string address;
    std::string executor;
    std::string worker_address;  // empty: no powerjob block
  };
  for (const Case& c : std::vector<Case>{
           {"127.0.0.1", "local", ""},
           {"127.1.2.3", "local", ""},
           {"::1", "local", ""},
           {"::ffff:127.0.0.1", "local", ""},
           {"localhost", "local", ""},
           {"LocalHost", "local", ""},
           {"10.0.0.12", "powerjob", "10.0.0.12:27777"},
           {"128.0.0.1", "powerjob", "128.0.0.1:27777"},
           {"fd00::12", "powerjob", "[fd00::12]:27777"},
           {"gpu-02.lab", "powerjob", "gpu-02.lab:27777"},
           {"localhost.lab", "powerjob", "localhost.lab:27777"},
       }) {
    SCOPED_TRACE(c.address);
    Host host = DefaultedHost("  address: \"" + c.address + "\"\n");
    EXPECT_EQ(host.spec.executor, c.executor);
    EXPECT_EQ(host.spec.ssh_port, 22);
    if (c.worker_address.empty()) {
      EXPECT_FALSE(host.spec.powerjob.has_value());
    } else {
      ASSERT_TRUE(host.spec.powerjob.has_value());
      EXPECT_EQ(host.spec.powerjob->worker_address, c.worker_address);
    }
  }
}

TEST(DefaultsTest, HostExplicitSettingsAreKept) {
  Host local = DefaultedHost("  address: 10.0.0.12\n  executor: local\n");
  EXPECT_EQ(local.spec.executor, "local");
  EXPECT_FALSE(local.spec.powerjob.has_value());

  Host pinned = DefaultedHost("  address: 10.0.0.12\n  powerjob: {workerAddress: gpu-02:1234}\n");
  EXPECT_EQ(pinned.spec.powerjob->worker_address, "gpu-02:1234");

  Host loopback_powerjob = DefaultedHost("  address: 127.0.0.1\n  executor: powerjob\n");
  EXPECT_EQ(loopback_powerjob.spec.powerjob->worker_address, "127.0.0.1:27777");
}

TEST(DefaultsTest, ApplyDefaultsIsIdempotent) {
  for (const std::string& text : {std::string(kDeployHead) + "  workers: [{host: gpu-02}]\n",
                                  std::string(kHostHead) + "  address: fd00::1\n",
                                  std::string(kTemplateHead) + "  probe:\n    http: {port: 1}\n"}) {
    Object once = DecodeOne(text);
    ApplyDefaults(once);
    Object twice = once;
    ApplyDefaults(twice);
    EXPECT_TRUE(once == twice) << text;
  }
}

TEST(SpecEquivalentTest, ReorderedEnvsAreEquivalent) {
  std::string base = kDeployHead;
  Object a = DecodeOne(base +
                       "    envs: [{name: X}, {name: Y}]\n"
                       "  envs:\n    - {name: A, value: '1'}\n    - {name: B, value: '2'}\n");
  Object b = DecodeOne(base +
                       "    envs: [{name: Y}, {name: X}]\n"
                       "  envs:\n    - {name: B, value: '2'}\n    - {name: A, value: '1'}\n");
  EXPECT_TRUE(SpecEquivalent(a, b));
  EXPECT_FALSE(a == b);

  Object changed = DecodeOne(base +
                             "    envs: [{name: X}, {name: Y}]\n"
                             "  envs:\n    - {name: A, value: '9'}\n"
                             "    - {name: B, value: '2'}\n");
  EXPECT_FALSE(SpecEquivalent(a, changed));
}

TEST(SpecEquivalentTest, ArgOrderMatters) {
  std::string base = kDeployHead;
  Object a = DecodeOne(base + "    args: [{value: a}, {value: b}]\n");
  Object b = DecodeOne(base + "    args: [{value: b}, {value: a}]\n");
  EXPECT_FALSE(SpecEquivalent(a, b));
}

TEST(SpecEquivalentTest, ComparesAfterDefaulting) {
  std::string base = std::string(kDeployHead) + "  workers: [{host: gpu-02}]\n";
  Object omitted = DecodeOne(base);
  Object group = DecodeOne(base +
                           "  restartPolicy: {scope: Group, maxRetries: 5}\n"
                           "  startupPolicy: MasterStarted\n");
  Object target = DecodeOne(base + "  restartPolicy: {scope: Target}\n");
  EXPECT_TRUE(SpecEquivalent(omitted, group));
  EXPECT_FALSE(SpecEquivalent(omitted, target));

  Object host_a = DecodeOne(std::string(kHostHead) + "  address: 10.0.0.1\n");
  Object host_b = DecodeOne(std::string(kHostHead) +
                            "  address: 10.0.0.1\n  executor: powerjob\n"
                            "  powerjob: {workerAddress: \"10.0.0.1:27777\"}\n");
  EXPECT_TRUE(SpecEquivalent(host_a, host_b));
}

TEST(SpecEquivalentTest, IgnoresMetadataAndKindMustMatch) {
  std::string base = kDeployHead;
  Object a = DecodeOne(base);
  Object relabelled = a;
  MetaOf(relabelled).labels["team"] = "perf";
  EXPECT_TRUE(SpecEquivalent(a, relabelled));
  Object host = DecodeOne(std::string(kHostHead) + "  address: 10.0.0.1\n");
  EXPECT_FALSE(SpecEquivalent(a, host));
}

}  // namespace
}  // namespace svcd::api
