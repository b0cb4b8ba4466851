#include "render/render.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "tests/render/fixtures.h"
#include "tests/render/subprocess.h"

namespace svcd::render {
namespace {

using svcd::testing::Flag;
using svcd::testing::MakeDeploy;
using svcd::testing::MakeHosts;
using svcd::testing::MakeTemplate;
using svcd::testing::Named;
using svcd::testing::Positional;
using svcd::testing::RunProcess;
using svcd::testing::TempDir;

const char kPrefix[] = "python3 -m vllm.entrypoints.openai.api_server";

std::vector<const NodeScript*> AllNodes(const RenderedDeploy& rendered) {
  std::vector<const NodeScript*> nodes = {&rendered.master};
  for (const NodeScript& worker : rendered.workers) nodes.push_back(&worker);
  return nodes;
}

const Cause* FindCause(const Status& status, const std::string& field) {
  for (const Cause& cause : status.causes()) {
    if (cause.field == field) return &cause;
  }
  return nullptr;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    lines.push_back(text.substr(start, end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return lines;
}

TEST(RenderDeployTest, WritesDocumentedScriptLayout) {
  auto tmpl = MakeTemplate("vllm", kPrefix);
  tmpl.spec.default_envs = {{"VLLM_USE_V1", "1"}};
  tmpl.spec.default_master_args = {Named("port", "8000")};
  auto deploy = MakeDeploy({"gpu-02"});
  deploy.spec.master.args = {Named("model", "/mnt/q"), Flag("enforce-eager")};

  const auto rendered = RenderDeploy(deploy, tmpl, MakeHosts());
  ASSERT_TRUE(rendered.ok()) << rendered.status().ToString();
  EXPECT_EQ(rendered->deploy, "eval/qwen");
  EXPECT_EQ(rendered->master.script,
            "#!/bin/sh\n"
            "# svcd: deploy eval/qwen, node master (rank 0 of 2), host gpu-01\n"
            "export SVCD_MASTER_ADDR='10.0.0.1'\n"
            "export SVCD_NODE_ADDR='10.0.0.1'\n"
            "export SVCD_NODE_RANK='0'\n"
            "export SVCD_NODE_COUNT='2'\n"
            "export SVCD_ROLE='master'\n"
            "export SVCD_DEPLOY='eval/qwen'\n"
            "export VLLM_USE_V1='1'\n"
            "python3 -m vllm.entrypoints.openai.api_server --port '8000' --model '/mnt/q' "
            "--enforce-eager\n");
  const NodeScript& worker = rendered->workers.at(0);
  EXPECT_EQ(worker.name, "worker-0");
  EXPECT_EQ(worker.role, "worker");
  EXPECT_EQ(worker.rank, 1);
  EXPECT_EQ(worker.host, "gpu-02");
  EXPECT_EQ(worker.address, "10.0.0.2");
  EXPECT_NE(worker.script.find("# svcd: deploy eval/qwen, node worker-0 (rank 1 of 2), host "
                               "gpu-02\n"),
            std::string::npos);
  EXPECT_NE(worker.script.find("export SVCD_ROLE='worker'\n"), std::string::npos);
}

TEST(RenderDeployTest, ExportsNodeVariablesFirst) {
  const auto rendered =
      RenderDeploy(MakeDeploy({"gpu-02", "gpu-03"}), MakeTemplate("vllm", kPrefix), MakeHosts());
  ASSERT_TRUE(rendered.ok());
  for (const NodeScript* node : AllNodes(*rendered)) {
    ASSERT_GE(node->envs.size(), 6u);
    const std::vector<std::string> names = {"SVCD_MASTER_ADDR", "SVCD_NODE_ADDR", "SVCD_NODE_RANK",
                                            "SVCD_NODE_COUNT",  "SVCD_ROLE",      "SVCD_DEPLOY"};
    for (size_t i = 0; i < names.size(); ++i) EXPECT_EQ(node->envs[i].name, names[i]);
    EXPECT_EQ(node->envs[2].value, std::to_string(node->rank));
    EXPECT_EQ(node->envs[3].value, "3");
    const std::vector<std::string> lines = Lines(node->script);
    EXPECT_EQ(lines.at(2), "export SVCD_MASTER_ADDR='10.0.0.1'");
  }
}

TEST(RenderDeployTest, DefaultsEmptyNamespace) {
  auto deploy = MakeDeploy();
  deploy.metadata.namespace_.clear();
  const auto rendered = RenderDeploy(deploy, MakeTemplate("vllm", kPrefix), MakeHosts());
  ASSERT_TRUE(rendered.ok());
  EXPECT_EQ(rendered->deploy, "default/qwen");
  EXPECT_NE(rendered->master.script.find("export SVCD_DEPLOY='default/qwen'\n"), std::string::npos);
}

TEST(RenderDeployTest, NeverBeginsWithUrlScheme) {
  for (const char* prefix : {"http://10.0.0.9/run.sh", "https://x/y", "ftp://x/y", "HTTP://x"}) {
    const auto rendered =
        RenderDeploy(MakeDeploy({"gpu-02"}), MakeTemplate("vllm", prefix), MakeHosts());
    ASSERT_TRUE(rendered.ok());
    for (const NodeScript* node : AllNodes(*rendered)) {
      EXPECT_TRUE(node->script.starts_with("#!/bin/sh\n")) << prefix;
      for (const char* scheme : {"http", "https", "ftp"}) {
        EXPECT_FALSE(node->script.starts_with(scheme)) << prefix;
      }
    }
  }
}

TEST(RenderDeployTest, HeaderCommentStaysOneLine) {
  auto deploy = MakeDeploy();
  deploy.metadata.name = "qwen\necho injected";
  auto hosts = MakeHosts();
  hosts["gpu\n01"] = svcd::testing::MakeHost("gpu\n01", "10.0.0.9");
  deploy.spec.master.host = "gpu\n01";
  const auto rendered = RenderDeploy(deploy, MakeTemplate("vllm", kPrefix), hosts);
  ASSERT_TRUE(rendered.ok());
  const std::vector<std::string> lines = Lines(rendered->master.script);
  EXPECT_EQ(lines.at(1),
            "# svcd: deploy eval/qwen?echo injected, node master (rank 0 of 1), "
            "host gpu?01");
  EXPECT_EQ(lines.at(2), "export SVCD_MASTER_ADDR='10.0.0.9'");
}

TEST(RenderDeployTest, EveryScriptPassesDashSyntaxCheck) {
  auto tmpl = MakeTemplate("vllm", kPrefix);
  tmpl.spec.default_envs = {{"Q", "it's \"x\" $(y) `z` \n"}};
  tmpl.spec.default_worker_args = {Positional("'; rm -rf / #"), Named("a", "\\"), Flag("b")};
  auto deploy = MakeDeploy({"gpu-02", "gpu-03", "gpu-04"});
  deploy.spec.master.args = {Named("json", "{\"a\": [1, 2]}"), Named("e", ""),
                             Positional("$(SVCD_ROLE)")};
  const auto rendered = RenderDeploy(deploy, tmpl, MakeHosts());
  ASSERT_TRUE(rendered.ok()) << rendered.status().ToString();

  TempDir dir;
  for (const NodeScript* node : AllNodes(*rendered)) {
    const auto path = dir.WriteFile(node->name + ".sh", node->script);
    const auto result = RunProcess("/bin/dash", {"dash", "-n", path.string()}, {});
    EXPECT_EQ(result.exit_code, 0) << node->name << ": " << result.err;
    EXPECT_EQ(result.err, "") << node->name;
  }
}

// The syntax check must be able to fail, or the test above proves nothing.
TEST(RenderDeployTest, DashSyntaxCheckRejectsBrokenScript) {
  TempDir dir;
  const auto path = dir.WriteFile("broken.sh", "echo 'unterminated\n");
  const auto result = RunProcess("/bin/dash", {"dash", "-n", path.string()}, {});
  EXPECT_NE(result.exit_code, 0);
}

TEST(RenderDeployTest, OversizeScriptNamesNode) {
  auto deploy = MakeDeploy({"gpu-02", "gpu-03"});
  deploy.spec.workers[1].args = {Named("big", std::string(70000, 'x'))};
  const auto tmpl = MakeTemplate("vllm", kPrefix);
  const auto unlimited = RenderDeploy(deploy, tmpl, MakeHosts(), {.max_script_bytes = 1 << 20});
  ASSERT_TRUE(unlimited.ok());
  const size_t size = unlimited->workers[1].script.size();

  const auto rendered = RenderDeploy(deploy, tmpl, MakeHosts());
  ASSERT_FALSE(rendered.ok());
  EXPECT_EQ(rendered.status().code(), Code::kInvalidArgument);
  ASSERT_EQ(rendered.status().causes().size(), 1u) << rendered.status().ToString();
  const Cause& cause = rendered.status().causes()[0];
  EXPECT_EQ(cause.field, "spec.workers[1]");
  EXPECT_NE(cause.message.find("worker-1 is " + std::to_string(size) + " bytes"), std::string::npos)
      << cause.message;
  EXPECT_NE(cause.message.find("limit of 65536 bytes"), std::string::npos) << cause.message;
}

TEST(RenderDeployTest, ScriptAtLimitIsAccepted) {
  auto deploy = MakeDeploy();
  deploy.spec.master.args = {Named("a", std::string(1000, 'y'))};
  const auto tmpl = MakeTemplate("vllm", kPrefix);
  const auto unlimited = RenderDeploy(deploy, tmpl, MakeHosts());
  ASSERT_TRUE(unlimited.ok());
  const size_t size = unlimited->master.script.size();

  const auto at_limit = RenderDeploy(deploy, tmpl, MakeHosts(), {.max_script_bytes = size});
  ASSERT_TRUE(at_limit.ok()) << at_limit.status().ToString();
  EXPECT_EQ(at_limit->master.script, unlimited->master.script);

  const auto over = RenderDeploy(deploy, tmpl, MakeHosts(), {.max_script_bytes = size - 1});
  ASSERT_FALSE(over.ok());
  const Cause* cause = FindCause(over.status(), "spec.master");
  ASSERT_NE(cause, nullptr) << over.status().ToString();
  EXPECT_NE(cause->message.find("master is " + std::to_string(size) + " bytes"), std::string::npos)
      << cause->message;
}

TEST(RenderDeployTest, HashesAreStableAndDifferPerNode) {
  const auto deploy = MakeDeploy({"gpu-02", "gpu-03"});
  const auto tmpl = MakeTemplate("vllm", kPrefix);
  const auto first = RenderDeploy(deploy, tmpl, MakeHosts());
  const auto second = RenderDeploy(deploy, tmpl, MakeHosts());
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*first, *second);

  std::set<std::string> hashes;
  for (const NodeScript* node : AllNodes(*first)) {
    EXPECT_TRUE(node->hash.starts_with("sha256:")) << node->hash;
    EXPECT_EQ(node->hash.size(), 7u + 64u);
    hashes.insert(node->hash);
  }
  EXPECT_EQ(hashes.size(), 3u);

  auto changed = deploy;
  changed.spec.workers[0].args = {Named("x", "1")};
  const auto third = RenderDeploy(changed, tmpl, MakeHosts());
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->master.hash, first->master.hash);
  EXPECT_NE(third->workers[0].hash, first->workers[0].hash);
  EXPECT_EQ(third->workers[1].hash, first->workers[1].hash);
}

// The hash must be the SHA-256 of the script bytes as sha256sum computes it.
TEST(RenderDeployTest, HashMatchesSha256sum) {
  auto deploy = MakeDeploy({"gpu-02"});
  deploy.spec.envs = {{"U", "模型 'q'\n"}};
  const auto rendered = RenderDeploy(deploy, MakeTemplate("vllm", kPrefix), MakeHosts());
  ASSERT_TRUE(rendered.ok());
  for (const NodeScript* node : AllNodes(*rendered)) {
    const auto result = RunProcess("/usr/bin/sha256sum", {"sha256sum"}, {}, node->script);
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ("sha256:" + result.out.substr(0, 64), node->hash) << node->name;
  }
}

TEST(RenderDeployTest, ReportsEveryMissingHost) {
  auto deploy = MakeDeploy({"gpu-02", "nowhere", ""});
  deploy.spec.master.host = "";
  auto hosts = MakeHosts();
  hosts["gpu-02"].spec.address = "";
  const auto rendered = RenderDeploy(deploy, MakeTemplate("vllm", kPrefix), hosts);
  ASSERT_FALSE(rendered.ok());
  const Status& status = rendered.status();
  EXPECT_EQ(status.code(), Code::kInvalidArgument);
  EXPECT_EQ(status.causes().size(), 4u) << status.ToString();
  EXPECT_NE(FindCause(status, "spec.master.host"), nullptr) << status.ToString();
  const Cause* no_address = FindCause(status, "spec.workers[0].host");
  ASSERT_NE(no_address, nullptr);
  EXPECT_NE(no_address->message.find("spec.address"), std::string::npos);
  const Cause* unknown = FindCause(status, "spec.workers[1].host");
  ASSERT_NE(unknown, nullptr);
  EXPECT_NE(unknown->message.find("\"nowhere\" not found"), std::string::npos);
  EXPECT_NE(FindCause(status, "spec.workers[2].host"), nullptr);
}

TEST(RenderDeployTest, RejectsWrongTemplateAndEmptyPrefix) {
  auto deploy = MakeDeploy();
  deploy.spec.template_ref = "other";
  const auto rendered = RenderDeploy(deploy, MakeTemplate("vllm", " \n\t"), MakeHosts());
  ASSERT_FALSE(rendered.ok());
  const Cause* ref = FindCause(rendered.status(), "spec.templateRef");
  ASSERT_NE(ref, nullptr) << rendered.status().ToString();
  EXPECT_NE(ref->message.find("\"other\""), std::string::npos);
  EXPECT_NE(FindCause(rendered.status(), "spec.fixedPrefix"), nullptr);
}

// A bad template env is one problem, not one per node.
TEST(RenderDeployTest, ReportsTemplateProblemOnce) {
  auto tmpl = MakeTemplate("vllm", kPrefix);
  tmpl.spec.default_envs = {{"SVCD_ROLE", "spoofed"}};
  auto deploy = MakeDeploy({"gpu-02", "gpu-03"});
  deploy.spec.workers[1].args = {Named("bad name", "1")};
  const auto rendered = RenderDeploy(deploy, tmpl, MakeHosts());
  ASSERT_FALSE(rendered.ok());
  const Status& status = rendered.status();
  ASSERT_EQ(status.causes().size(), 2u) << status.ToString();
  EXPECT_NE(FindCause(status, "spec.defaultEnvs[0].name"), nullptr);
  EXPECT_NE(status.causes()[0].message.find("ServiceTemplate \"vllm\""), std::string::npos);
  EXPECT_NE(FindCause(status, "spec.workers[1].args[0].name"), nullptr);
}

TEST(ToJsonTest, HasDocumentedShape) {
  const auto rendered =
      RenderDeploy(MakeDeploy({"gpu-02", "gpu-03"}), MakeTemplate("vllm", kPrefix), MakeHosts());
  ASSERT_TRUE(rendered.ok());
  const nlohmann::json json = ToJson(*rendered);
  ASSERT_EQ(json.size(), 3u) << json.dump();
  EXPECT_EQ(json.at("master"), rendered->master.script);
  ASSERT_EQ(json.at("workers").size(), 2u);
  EXPECT_EQ(json.at("workers")[1], rendered->workers[1].script);
  const nlohmann::json& hashes = json.at("hashes");
  EXPECT_EQ(hashes.size(), 3u);
  EXPECT_EQ(hashes.at("master"), rendered->master.hash);
  EXPECT_EQ(hashes.at("worker-0"), rendered->workers[0].hash);
  EXPECT_EQ(hashes.at("worker-1"), rendered->workers[1].hash);
}

TEST(ToJsonTest, MasterOnlyHasEmptyWorkers) {
  const auto rendered = RenderDeploy(MakeDeploy(), MakeTemplate("vllm", kPrefix), MakeHosts());
  ASSERT_TRUE(rendered.ok());
  const nlohmann::json json = ToJson(*rendered);
  EXPECT_TRUE(json.at("workers").is_array());
  EXPECT_TRUE(json.at("workers").empty());
  EXPECT_EQ(json.at("hashes").size(), 1u);
}

}  // namespace
}  // namespace svcd::render
