// Every strict rule of the decoder: each bad input must produce a cause at
// the exact field path and line, with a message that tells the user what to do.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "api/codec.h"
#include "tests/api/test_util.h"

namespace svcd::api {
namespace {

using testing::CausesOf;
using testing::FindCause;
using testing::Join;
using testing::kDeployHead;
using testing::kHostHead;
using testing::kTemplateHead;
using testing::ObjectsOf;

struct BadCase {
  std::string name;
  std::string text;
  std::string field;    // exact Cause.field
  int line;             // exact Cause.line; 0 for a missing field
  std::string message;  // must occur in Cause.message
};

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << "test bug: " << from << " not in\n" << text;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

void ExpectCauses(const std::vector<BadCase>& cases) {
  for (const BadCase& c : cases) {
    SCOPED_TRACE(c.name);
    std::vector<Cause> causes = CausesOf(c.text);
    const Cause* cause = FindCause(causes, c.field);
    if (cause == nullptr) {
      ADD_FAILURE() << "no cause at " << c.field << "; got:\n" << Join(causes);
      continue;
    }
    EXPECT_EQ(cause->line, c.line) << Join(causes);
    EXPECT_NE(cause->message.find(c.message), std::string::npos)
        << "message: " << cause->message << "\nexpected to contain: " << c.message;
  }
}

const std::string kDeploy = kDeployHead;
const std::string kHost = kHostHead;
const std::string kTemplate = kTemplateHead;

TEST(DecodeRulesTest, StructureErrors) {
  ExpectCauses({
      {"wrong apiVersion", Replace(kDeploy, "svcd.io/v1alpha1", "v1"), "apiVersion", 1,
       "invalid apiVersion \"v1\"; set apiVersion: svcd.io/v1alpha1"},
      {"missing apiVersion", Replace(kDeploy, "apiVersion: svcd.io/v1alpha1\n", ""), "apiVersion",
       0, "missing required field"},
      {"unknown kind", Replace(kDeploy, "kind: ServiceDeploy", "kind: Deployment"), "kind", 2,
       "unknown kind \"Deployment\": must be one of Host, ServiceTemplate, ServiceDeploy"},
      {"missing kind", Replace(kDeploy, "kind: ServiceDeploy\n", ""), "kind", 0,
       "missing required field; set one of Host, ServiceTemplate, ServiceDeploy"},
      {"namespace on a Host",
       Replace(kHost, "  name: gpu-01\n", "  name: gpu-01\n  namespace: eval\n") +
           "  address: 10.0.0.1\n",
       "metadata.namespace", 5, "cluster-scoped"},
      {"namespace on a ServiceTemplate",
       Replace(kTemplate, "  name: vllm\n", "  name: vllm\n  namespace: eval\n"),
       "metadata.namespace", 5, "cluster-scoped"},
      {"unknown spec field", kDeploy + "  replicas: 2\n", "spec.replicas", 10,
       "unknown field \"replicas\""},
      {"typo with suggestion", kDeploy + "  modelNme: x\n", "spec.modelNme", 10,
       "did you mean \"modelName\"?"},
      {"unknown top-level field", kDeploy + "extra: 1\n", "extra", 10, "unknown field"},
      {"mis-indented block", kDeploy + "  args:\n    - {name: model, value: /m}\n", "spec.args", 10,
       "\"args\" belongs under spec.master or spec.workers[]: check the indentation"},
      {"mis-indented probe field", kDeploy + "  probe:\n    tcp: {port: 80}\n  periodSeconds: 5\n",
       "spec.periodSeconds", 12, "belongs under spec.probe"},
      {"duplicate key at depth", kDeploy + "    host: gpu-02\n", "spec.master.host", 10,
       "duplicate key \"host\""},
      {"duplicate key in a list item",
       kDeploy + "  envs:\n    - name: A\n      value: x\n      value: y\n", "spec.envs[0].value",
       13, "duplicate key \"value\""},
      {"duplicate top-level key", kDeploy + "metadata:\n  name: x\n", "metadata", 10,
       "duplicate key"},
      {"duplicate label key",
       Replace(kDeploy, "  name: qwen\n", "  name: qwen\n  labels:\n    a: x\n    a: y\n"),
       "metadata.labels.a", 7, "duplicate key \"a\""},
  });
}

TEST(DecodeRulesTest, WrongTypes) {
  ExpectCauses({
      {"object for a list", kDeploy + "  envs: {a: b}\n", "spec.envs", 10,
       "expected list, got object"},
      {"string for a list", kDeploy + "  workers: gpu-02\n", "spec.workers", 10,
       "expected list, got string \"gpu-02\""},
      {"string for an object",
       Replace(kDeploy, "  master:\n    host: gpu-01\n", "  master: gpu-01\n"), "spec.master", 8,
       "expected object, got string \"gpu-01\""},
      {"object for a string", kDeploy + "  envs:\n    - {name: A, value: {x: 1}}\n",
       "spec.envs[0].value", 11, "expected string, got object"},
      {"list for a string", Replace(kDeploy, "modelName: qwen2-7b", "modelName: [a, b]"),
       "spec.modelName", 7, "expected string, got list"},
      {"string for a list item object", kDeploy + "    args:\n      - model\n",
       "spec.master.args[0]", 11, "expected object, got string \"model\""},
      {"object for a boolean", kDeploy + "  suspend: {}\n", "spec.suspend", 10,
       "expected boolean, got object"},
      {"list for an integer", kDeploy + "  workerStaggerSeconds: [1]\n",
       "spec.workerStaggerSeconds", 10, "expected integer, got list"},
      {"string for a label map",
       Replace(kDeploy, "  name: qwen\n", "  name: qwen\n  labels: team\n"), "metadata.labels", 5,
       "expected object, got string"},
      {"object for a label value",
       Replace(kDeploy, "  name: qwen\n", "  name: qwen\n  labels: {team: {a: b}}\n"),
       "metadata.labels.team", 5, "expected string, got object"},
  });
}

TEST(DecodeRulesTest, IntegersArePlainDecimalOnly) {
  const std::string field = "spec.workerStaggerSeconds";
  auto with = [](const std::string& value) {
    return kDeploy + "  workerStaggerSeconds: " + value + "\n";
  };
  ExpectCauses({
      {"leading zero", with("010"), field, 10, "invalid integer \"010\": leading zeros"},
      {"quoted number", with("\"8\""), field, 10,
       "expected integer, got string \"8\"; remove the quotes"},
      {"single-quoted number", with("'8'"), field, 10, "remove the quotes"},
      {"exponent", with("1e3"), field, 10, "expected integer, got \"1e3\"; write a plain decimal"},
      {"hexadecimal", with("0x10"), field, 10, "write a plain decimal number"},
      {"fraction", with("1.5"), field, 10, "write a plain decimal number"},
      {"plus sign", with("+5"), field, 10, "write a plain decimal number"},
      {"underscore", with("1_000"), field, 10, "write a plain decimal number"},
      {"overflow of 64 bits", with("99999999999999999999"), field, 10,
       "integer \"99999999999999999999\" is out of range"},
      {"overflow of 32 bits", with("3000000000"), field, 10, "is out of range"},
      {"below minimum", with("-1"), field, 10,
       "value -1 is out of range: must be between 0 and 3600"},
      {"above maximum", with("3601"), field, 10, "must be between 0 and 3600"},
      {"boolean word", with("true"), field, 10, "expected integer, got \"true\""},
  });
}

TEST(DecodeRulesTest, BooleansAreTrueOrFalseOnly) {
  std::vector<BadCase> cases;
  for (const char* word : {"yes", "no", "on", "off", "True", "FALSE", "y", "1", "0"}) {
    cases.push_back({std::string("boolean ") + word, kDeploy + "  suspend: " + word + "\n",
                     "spec.suspend", 10,
                     std::string("expected boolean true or false, got \"") + word + "\""});
  }
  cases.push_back({"quoted true", kDeploy + "  suspend: \"true\"\n", "spec.suspend", 10,
                   "expected boolean, got string \"true\"; remove the quotes"});
  cases.push_back({"arg flag yes", kDeploy + "    args:\n      - {name: eager, flag: yes}\n",
                   "spec.master.args[0].flag", 11, "expected boolean true or false"});
  ExpectCauses(cases);
}

TEST(DecodeRulesTest, MissingRequiredFields) {
  ExpectCauses({
      {"metadata.name", Replace(kDeploy, "  name: qwen\n", "  labels: {a: b}\n"), "metadata.name",
       0, "missing required field"},
      {"metadata", Replace(kDeploy, "metadata:\n  name: qwen\n", ""), "metadata", 0,
       "missing required field"},
      {"null metadata", Replace(kDeploy, "metadata:\n  name: qwen\n", "metadata:\n"), "metadata", 0,
       "missing required field"},
      {"spec.templateRef", Replace(kDeploy, "  templateRef: vllm\n", ""), "spec.templateRef", 0,
       "missing required field"},
      {"null templateRef", Replace(kDeploy, "templateRef: vllm", "templateRef: ~"),
       "spec.templateRef", 0, "missing required field"},
      {"empty modelName", Replace(kDeploy, "modelName: qwen2-7b", "modelName: \"\""),
       "spec.modelName", 7, "must not be empty"},
      {"spec.master", Replace(kDeploy, "  master:\n    host: gpu-01\n", ""), "spec.master", 0,
       "missing required field"},
      {"spec.master.host", Replace(kDeploy, "    host: gpu-01\n", "    envs: []\n"),
       "spec.master.host", 0, "missing required field"},
      {"workers[].host", kDeploy + "  workers:\n    - host: gpu-02\n    - args: []\n",
       "spec.workers[1].host", 0, "missing required field"},
      {"http probe port", kDeploy + "  probe:\n    http: {path: /health}\n", "spec.probe.http.port",
       0, "missing required field"},
      {"tcp probe port", kDeploy + "  workerProbe:\n    tcp: {}\n", "spec.workerProbe.tcp.port", 0,
       "missing required field"},
      {"Host spec.address", kHost + "  hostname: gpu-01\n", "spec.address", 0,
       "missing required field"},
      {"Host spec", Replace(kHost, "spec:\n", ""), "spec", 0, "missing required field"},
      {"template fixedPrefix", Replace(kTemplate, "  fixedPrefix:", "  sceneType:"),
       "spec.fixedPrefix", 0, "missing required field"},
      {"env name", kDeploy + "  envs:\n    - {value: x}\n", "spec.envs[0].name", 0,
       "missing required field"},
      {"exec command", kTemplate + "  probe:\n    exec: {command: []}\n", "spec.probe.exec.command",
       8, "must not be empty"},
      {"exec program", kTemplate + "  workerProbe:\n    exec: {command: ['', x]}\n",
       "spec.workerProbe.exec.command[0]", 8, "must name the program"},
  });
}

TEST(DecodeRulesTest, NamesAndLabels) {
  auto with_meta = [](const std::string& lines) {
    return Replace(kDeploy, "  name: qwen\n", lines);
  };
  ExpectCauses({
      {"uppercase name", with_meta("  name: Qwen_1\n"), "metadata.name", 4,
       "invalid name \"Qwen_1\": must match ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
      {"name ending in dash", with_meta("  name: qwen-\n"), "metadata.name", 4, "must match"},
      {"name of 64 characters", with_meta("  name: " + std::string(64, 'a') + "\n"),
       "metadata.name", 4, "must be at most 63 characters, not 64"},
      {"bad namespace", with_meta("  name: qwen\n  namespace: Eval\n"), "metadata.namespace", 5,
       "invalid namespace \"Eval\""},
      {"label key with a space", with_meta("  name: qwen\n  labels: {bad key: x}\n"),
       "metadata.labels.bad key", 5, "invalid label key \"bad key\""},
      {"label key with a bad prefix", with_meta("  name: qwen\n  labels: {Svcd.io/team: x}\n"),
       "metadata.labels.Svcd.io/team", 5, "the prefix before '/'"},
      {"label value with a space", with_meta("  name: qwen\n  labels: {team: a b}\n"),
       "metadata.labels.team", 5, "invalid label value \"a b\""},
      {"label value too long",
       with_meta("  name: qwen\n  labels: {team: " + std::string(64, 'a') + "}\n"),
       "metadata.labels.team", 5, "must be empty or 1 to 63"},
      {"annotation key", with_meta("  name: qwen\n  annotations: {\"-x\": y}\n"),
       "metadata.annotations.-x", 5, "invalid annotation key"},
      {"templateRef", Replace(kDeploy, "templateRef: vllm", "templateRef: vLLM"),
       "spec.templateRef", 6, "invalid ServiceTemplate name \"vLLM\""},
      {"master host name", Replace(kDeploy, "host: gpu-01", "host: 10.0.0.1:22"),
       "spec.master.host", 9, "invalid Host name"},
  });
}

TEST(DecodeRulesTest, HostAddresses) {
  std::vector<BadCase> cases;
  for (const char* address : {"http://10.0.0.1", "10.0.0.1:22", "gpu 01", "10.0.0.300", "[fd00::1]",
                              "fd00::1%eth0", "gpu_01.lab", "-gpu.lab", "10.0.0.1/24"}) {
    cases.push_back({std::string("address ") + address, kHost + "  address: \"" + address + "\"\n",
                     "spec.address", 6, "must be an IPv4 address, an IPv6 literal or a DNS name"});
  }
  for (const char* worker : {"10.0.0.1", "10.0.0.1:0", "10.0.0.1:70000", "fd00::1:27777",
                             "http://x:1", "10.0.0.1:080", ":27777"}) {
    cases.push_back(
        {std::string("worker address ") + worker,
         kHost + "  address: 10.0.0.1\n  powerjob: {workerAddress: \"" + worker + "\"}\n",
         "spec.powerjob.workerAddress", 7, "must be host:port"});
  }
  cases.push_back({"executor", kHost + "  address: 10.0.0.1\n  executor: ssh\n", "spec.executor", 7,
                   "invalid executor \"ssh\": must be one of local, powerjob"});
  cases.push_back({"ssh port", kHost + "  address: 10.0.0.1\n  sshPort: 0\n", "spec.sshPort", 7,
                   "port 0 is out of range: must be between 1 and 65535"});
  ExpectCauses(cases);

  for (const char* address : {"10.0.0.12", "fd00::1", "::1", "gpu-02", "gpu-02.lab.example",
                              "GPU-02.Lab", "localhost", "127.0.0.1"}) {
    SCOPED_TRACE(address);
    ObjectsOf(kHost + "  address: \"" + address + "\"\n");
  }
  ObjectsOf(kHost + "  address: fd00::1\n  powerjob: {workerAddress: \"[fd00::1]:27777\"}\n");
  ObjectsOf(kHost + "  address: gpu-02\n  powerjob: {workerAddress: gpu-02.lab:1}\n");
}

TEST(DecodeRulesTest, PortsAndProbes) {
  auto probe = [](const std::string& lines) { return kDeploy + "  probe:\n" + lines; };
  ExpectCauses({
      {"tcp port too large", probe("    tcp: {port: 70000}\n"), "spec.probe.tcp.port", 11,
       "port 70000 is out of range: must be between 1 and 65535"},
      {"http port zero", probe("    http: {port: 0}\n"), "spec.probe.http.port", 11,
       "must be between 1 and 65535"},
      {"no handler", probe("    periodSeconds: 5\n"), "spec.probe", 11,
       "set exactly one of http, tcp and exec"},
      {"two handlers", probe("    http: {port: 80}\n    tcp: {port: 80}\n"), "spec.probe", 11,
       "set exactly one of http, tcp and exec"},
      {"exec in a deploy", probe("    exec: {command: [true]}\n"), "spec.probe.exec", 11,
       "exec probes are only allowed in a ServiceTemplate"},
      {"method", probe("    http: {port: 80, method: PUT}\n"), "spec.probe.http.method", 11,
       "invalid method \"PUT\": must be one of GET, POST"},
      {"path without slash", probe("    http: {port: 80, path: health}\n"), "spec.probe.http.path",
       11, "invalid path \"health\""},
      {"expectStatus", probe("    http: {port: 80, expectStatus: 99}\n"),
       "spec.probe.http.expectStatus", 11, "must be between 100 and 599"},
      {"header injection",
       probe("    http:\n      port: 80\n      headers: [{name: X-A, value: \"a\\r\\nX-B: 1\"}]\n"),
       "spec.probe.http.headers[0].value", 13, "must not contain CR, LF"},
      {"header name", probe("    http: {port: 80, headers: [{name: \"X A\", value: b}]}\n"),
       "spec.probe.http.headers[0].name", 11, "invalid header name \"X A\""},
      {"periodSeconds", probe("    tcp: {port: 80}\n    periodSeconds: 0\n"),
       "spec.probe.periodSeconds", 12, "must be between 1 and 3600"},
      {"timeoutSeconds", probe("    tcp: {port: 80}\n    timeoutSeconds: 0\n"),
       "spec.probe.timeoutSeconds", 12, "must be between 1 and 3600"},
      {"failureThreshold", probe("    tcp: {port: 80}\n    failureThreshold: 0\n"),
       "spec.probe.failureThreshold", 12, "must be between 1 and 100"},
      {"successThreshold", probe("    tcp: {port: 80}\n    successThreshold: 101\n"),
       "spec.probe.successThreshold", 12, "must be between 1 and 100"},
      {"initialDelaySeconds", probe("    tcp: {port: 80}\n    initialDelaySeconds: -1\n"),
       "spec.probe.initialDelaySeconds", 12, "must be between 0 and 3600"},
  });
  ObjectsOf(kTemplate + "  probe:\n    exec: {command: [curl, -sf, http://127.0.0.1/]}\n");
}

TEST(DecodeRulesTest, EnvsAndArgs) {
  auto envs = [](const std::string& lines) { return kDeploy + "  envs:\n" + lines; };
  auto args = [](const std::string& lines) { return kDeploy + "    args:\n" + lines; };
  ExpectCauses({
      {"env name with dash", envs("    - {name: BAD-NAME, value: x}\n"), "spec.envs[0].name", 11,
       "invalid env name \"BAD-NAME\": must match ^[A-Za-z_][A-Za-z0-9_]*$"},
      {"env name with digit first", envs("    - {name: 1ABC}\n"), "spec.envs[0].name", 11,
       "must match"},
      {"reserved env name", envs("    - {name: SVCD_NODE_RANK, value: '1'}\n"), "spec.envs[0].name",
       11, "names starting with SVCD_ are reserved"},
      {"duplicate env",
       envs("    - {name: A, value: x}\n    - {name: B}\n    - {name: A, value: y}\n"),
       "spec.envs[2].name", 13, "duplicate env name \"A\" (also at index 0)"},
      {"duplicate node env", kDeploy + "    envs: [{name: A}, {name: A}]\n",
       "spec.master.envs[1].name", 10, "duplicate env name \"A\""},
      {"bad arg name in a worker",
       kDeploy + "  workers:\n    - host: gpu-02\n      args:\n        - {name: model, value: x}\n"
                 "        - {name: --bad name, value: x}\n",
       "spec.workers[0].args[1].name", 14,
       "invalid arg name \"--bad name\": must match ^-{0,2}[A-Za-z0-9][A-Za-z0-9._-]*$"},
      {"three dashes", args("      - {name: ---x, value: y}\n"), "spec.master.args[0].name", 11,
       "invalid arg name"},
      {"duplicate arg by rendered name",
       args("      - {name: port, value: '1'}\n      - {name: --port, value: '2'}\n"),
       "spec.master.args[1].name", 12, "duplicate arg name \"--port\" (also at index 0)"},
      {"name only", args("      - {name: model}\n"), "spec.master.args[0]", 11,
       "arg \"model\" needs a value or flag: true"},
      {"flag without name", args("      - {flag: true}\n"), "spec.master.args[0].flag", 11,
       "flag needs a name"},
      {"value and flag", args("      - {name: x, value: y, flag: true}\n"), "spec.master.args[0]",
       11, "set either value or flag for arg \"x\", not both"},
      {"empty arg", args("      - {}\n"), "spec.master.args[0]", 11,
       "an arg needs {name, value}, {name, flag} or {value}"},
      {"template duplicate arg",
       kTemplate + "  defaultMasterArgs: [{name: port, value: '1'}, {name: port, value: '2'}]\n",
       "spec.defaultMasterArgs[1].name", 7, "duplicate arg name"},
  });
  // Positional args may repeat, and flag: false removes an inherited flag.
  ObjectsOf(
      args("      - {value: serve}\n      - {value: serve}\n      - {name: x, flag: false}\n"));
}

TEST(DecodeRulesTest, PoliciesAndLimits) {
  std::string workers = "  workers:\n";
  for (int i = 0; i < 257; ++i) workers += "    - host: gpu-02\n";
  ExpectCauses({
      {"startupPolicy", kDeploy + "  startupPolicy: Eventually\n", "spec.startupPolicy", 10,
       "invalid startup policy \"Eventually\": must be one of MasterStarted, MasterReady, "
       "Parallel"},
      {"restart scope", kDeploy + "  restartPolicy: {scope: All}\n", "spec.restartPolicy.scope", 10,
       "invalid scope \"All\": must be one of Group, Target"},
      {"backoff order",
       kDeploy + "  restartPolicy:\n    backoffSeconds: 10\n    maxBackoffSeconds: 5\n",
       "spec.restartPolicy.maxBackoffSeconds", 12,
       "maxBackoffSeconds (5) must be at least backoffSeconds (10)"},
      {"maxRetries", kDeploy + "  restartPolicy: {maxRetries: -1}\n",
       "spec.restartPolicy.maxRetries", 10, "must be between 0 and 1000"},
      {"startupTimeoutSeconds", kDeploy + "  startupTimeoutSeconds: 0\n",
       "spec.startupTimeoutSeconds", 10, "must be between 1 and 86400"},
      {"too many workers", kDeploy + workers, "spec.workers", 11,
       "has 257 items; at most 256 are allowed"},
  });
}

TEST(DecodeRulesTest, ReportsEveryProblemNotOnlyTheFirst) {
  std::string text = Replace(kDeploy, "  name: qwen\n", "  name: Bad_Name\n") +
                     "  suspend: yes\n"
                     "  workerStaggerSeconds: 010\n"
                     "  envs:\n"
                     "    - {name: SVCD_X}\n"
                     "  bogus: 1\n";
  std::vector<Cause> causes = CausesOf(text);
  EXPECT_EQ(causes.size(), 5u) << Join(causes);
  for (const char* field : {"metadata.name", "spec.suspend", "spec.workerStaggerSeconds",
                            "spec.envs[0].name", "spec.bogus"}) {
    EXPECT_NE(FindCause(causes, field), nullptr) << field << "\n" << Join(causes);
  }
}

TEST(DecodeRulesTest, AcceptsStatusAndServerFields) {
  std::string text =
      Replace(kDeploy, "  name: qwen\n",
              "  name: qwen\n  uid: 1f0c\n  generation: 3\n  resourceVersion: \"17\"\n"
              "  finalizers: [svcd.io/stop-targets]\n") +
      "status:\n"
      "  observedGeneration: 3\n"
      "  phase: Ready\n"
      "  conditions: [{type: Ready, status: \"True\", observedGeneration: 3}]\n"
      "  targets: [{name: master, state: READY, pid: 4242, exitCode: -9}]\n";
  std::vector<Object> objects = ObjectsOf(text);
  ASSERT_EQ(objects.size(), 1u);
  const ServiceDeploy& deploy = std::get<ServiceDeploy>(objects[0]);
  EXPECT_EQ(deploy.metadata.generation, 3);
  EXPECT_EQ(deploy.metadata.resource_version, "17");
  EXPECT_EQ(deploy.status.conditions.at(0).status, "True");
  EXPECT_EQ(deploy.status.targets.at(0).pid, 4242);
  EXPECT_EQ(deploy.status.targets.at(0).exit_code, -9);
}

}  // namespace
}  // namespace svcd::api
