// Runs `svcctl render` as a process on manifest files and checks its output,
// its exit status and the scripts it prints, which run under dash and under
// bash started as `sh`.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tests/render/subprocess.h"

namespace svcd {
namespace {

using svcd::testing::ParseArgvDump;
using svcd::testing::ProcessResult;
using svcd::testing::RunProcess;
using svcd::testing::RunScript;
using svcd::testing::TempDir;
using svcd::testing::TestShells;

const std::string kTestdata = SVCD_RENDER_TESTDATA;

std::string ReadFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

// A template whose fixed prefix is argv_dump, so the scripts can be run.
std::string TemplateYaml() {
  return "apiVersion: svcd.io/v1alpha1\n"
         "kind: ServiceTemplate\n"
         "metadata: {name: argv-dump}\n"
         "spec:\n"
         "  sceneType: other\n"
         "  fixedPrefix: " SVCD_ARGV_DUMP
         "\n"
         "  defaultEnvs: [{name: VLLM_USE_V1, value: \"1\"}]\n"
         "  defaultMasterArgs: [{name: port, value: \"8000\"}]\n"
         "  defaultWorkerArgs: [{value: worker}, {name: ray, flag: true}]\n";
}

ProcessResult RunSvcctl(const std::vector<std::string>& args, std::string_view input = {}) {
  std::vector<std::string> argv = {"svcctl"};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProcess(SVCD_SVCCTL, argv, {"PATH=/usr/bin:/bin"}, input);
}

class SvcctlRenderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    template_path_ = dir_.WriteFile("template.yaml", TemplateYaml()).string();
  }

  // Runs a script under both shells and checks the delivered argv and env.
  void ExpectDelivered(const std::string& label, const std::string& script,
                       const std::vector<std::string>& args,
                       const std::map<std::string, std::string>& env) {
    const auto path = dir_.WriteFile(label + ".sh", script);
    for (const auto& shell : TestShells(dir_)) {
      SCOPED_TRACE(shell.label + ", " + label);
      const auto result = RunScript(shell, path);
      ASSERT_EQ(result.exit_code, 0) << result.err;
      const auto dump = ParseArgvDump(result.out);
      ASSERT_TRUE(dump.ok);
      EXPECT_EQ(dump.args, args);
      for (const auto& [name, value] : env) {
        auto it = dump.env.find(name);
        ASSERT_NE(it, dump.env.end()) << name << " is not set";
        EXPECT_EQ(it->second, value) << name;
      }
    }
  }

  TempDir dir_;
  std::string template_path_;
  const std::string three_nodes_ = kTestdata + "/three-nodes.yaml";
};

TEST_F(SvcctlRenderTest, PrintsJsonForThreeNodes) {
  const auto result = RunSvcctl({"render", "-f", three_nodes_, "-f", template_path_, "-o", "json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.err, "");
  const auto json = nlohmann::json::parse(result.out);
  ASSERT_EQ(json.size(), 3u) << result.out;
  ASSERT_EQ(json.at("workers").size(), 2u);
  ASSERT_EQ(json.at("hashes").size(), 3u);

  const std::vector<std::pair<std::string, std::string>> nodes = {
      {"master", json.at("master")},
      {"worker-0", json.at("workers")[0]},
      {"worker-1", json.at("workers")[1]}};
  for (const auto& [name, script] : nodes) {
    EXPECT_TRUE(script.starts_with("#!/bin/sh\n")) << name;
    const auto sum = RunProcess("/usr/bin/sha256sum", {"sha256sum"}, {}, script);
    ASSERT_EQ(sum.exit_code, 0);
    EXPECT_EQ(json.at("hashes").at(name), "sha256:" + sum.out.substr(0, 64)) << name;
  }

  const std::map<std::string, std::string> shared_env = {{"VLLM_USE_V1", "1"},
                                                         {"NCCL_IB_HCA", "=mlx5_0,mlx5_1"},
                                                         {"SAMPLING", "{\"temperature\":0.5}"},
                                                         {"EMPTY", ""},
                                                         {"SVCD_MASTER_ADDR", "10.0.0.11"},
                                                         {"SVCD_NODE_COUNT", "3"},
                                                         {"SVCD_DEPLOY", "eval/qwen-tp2"}};
  auto master_env = shared_env;
  master_env.insert({{"CUDA_VISIBLE_DEVICES", "0,1"},
                     {"SVCD_NODE_ADDR", "10.0.0.11"},
                     {"SVCD_NODE_RANK", "0"},
                     {"SVCD_ROLE", "master"}});
  ExpectDelivered("master", nodes[0].second,
                  {"--port", "8000", "--model", "/mnt/models/qwen2-7b", "--tensor-parallel-size",
                   "2", "--enforce-eager", "--prompt", "it's master at 10.0.0.11; cost $(X)"},
                  master_env);

  auto worker0_env = shared_env;
  worker0_env.insert({{"CUDA_VISIBLE_DEVICES", "0,1"},
                      {"SVCD_NODE_ADDR", "10.0.0.12"},
                      {"SVCD_NODE_RANK", "1"},
                      {"SVCD_ROLE", "worker"}});
  ExpectDelivered("worker-0", nodes[1].second,
                  {"worker", "--ray", "--model", "/mnt/models/qwen2-7b"}, worker0_env);

  auto worker1_env = shared_env;
  worker1_env.insert({{"CUDA_VISIBLE_DEVICES", "2,3"},
                      {"SVCD_NODE_ADDR", "fd00::13"},
                      {"SVCD_NODE_RANK", "2"},
                      {"SVCD_ROLE", "worker"}});
  ExpectDelivered("worker-1", nodes[2].second, {"worker", "--model", "/mnt/models/qwen2-7b"},
                  worker1_env);
}

TEST_F(SvcctlRenderTest, TextOutputHoldsEveryScript) {
  const auto json_run =
      RunSvcctl({"render", "-f", three_nodes_, "-f", template_path_, "-o", "json"});
  ASSERT_EQ(json_run.exit_code, 0) << json_run.err;
  const auto json = nlohmann::json::parse(json_run.out);

  const auto result = RunSvcctl({"render", "-f", three_nodes_, "-f", template_path_});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const std::vector<std::pair<std::string, std::string>> nodes = {
      {"master", json.at("master")},
      {"worker-0", json.at("workers")[0]},
      {"worker-1", json.at("workers")[1]}};
  for (const auto& [name, script] : nodes) {
    const std::string header = "# ==== eval/qwen-tp2 " + name + " (host ";
    const size_t at = result.out.find(header);
    ASSERT_NE(at, std::string::npos) << name << "\n" << result.out;
    const size_t script_at = result.out.find('\n', at) + 1;
    EXPECT_EQ(result.out.substr(script_at, script.size()), script) << name;
    EXPECT_NE(result.out.find(json.at("hashes").at(name).get<std::string>(), at),
              std::string::npos);
  }
}

TEST_F(SvcctlRenderTest, ReadsStdinAndDirectories) {
  const auto from_files =
      RunSvcctl({"render", "-f", three_nodes_, "-f", template_path_, "-o", "json"});
  ASSERT_EQ(from_files.exit_code, 0) << from_files.err;

  const auto from_stdin =
      RunSvcctl({"render", "-f", "-", "-f", template_path_, "-o", "json"}, ReadFile(three_nodes_));
  ASSERT_EQ(from_stdin.exit_code, 0) << from_stdin.err;
  EXPECT_EQ(from_stdin.out, from_files.out);

  TempDir manifests;
  manifests.WriteFile("a.yaml", ReadFile(three_nodes_));
  manifests.WriteFile("b.yml", TemplateYaml());
  manifests.WriteFile("notes.txt", "not a manifest: {");
  const auto from_dir = RunSvcctl({"render", "-f", manifests.path().string(), "-o", "json"});
  ASSERT_EQ(from_dir.exit_code, 0) << from_dir.err;
  EXPECT_EQ(from_dir.out, from_files.out);
}

TEST_F(SvcctlRenderTest, KeysSeveralDeploysByName) {
  const auto second = dir_.WriteFile("second.json", R"({
    "apiVersion": "svcd.io/v1alpha1", "kind": "ServiceDeploy",
    "metadata": {"name": "solo"},
    "spec": {"templateRef": "argv-dump", "modelName": "m", "master": {"host": "gpu-02"}}})");
  const auto result = RunSvcctl(
      {"render", "-f", three_nodes_, "-f", template_path_, "-f", second.string(), "-o", "json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto json = nlohmann::json::parse(result.out);
  ASSERT_EQ(json.size(), 2u) << result.out;
  EXPECT_EQ(json.at("eval/qwen-tp2").at("workers").size(), 2u);
  const auto& solo = json.at("default/solo");
  EXPECT_TRUE(solo.at("workers").empty());
  EXPECT_NE(solo.at("master").get<std::string>().find("export SVCD_NODE_ADDR='10.0.0.12'\n"),
            std::string::npos);
}

TEST_F(SvcctlRenderTest, UnknownFieldExitsWithLine) {
  const std::string bad = kTestdata + "/bad-field.yaml";
  const auto result = RunSvcctl({"render", "-f", bad, "-f", template_path_});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.out, "");
  EXPECT_NE(result.err.find(bad + ":9:5: spec.master.argz: "), std::string::npos) << result.err;
}

TEST_F(SvcctlRenderTest, MissingHostExitsWithLine) {
  const std::string bad = kTestdata + "/bad-host-ref.yaml";
  const auto result = RunSvcctl({"render", "-f", bad, "-f", template_path_, "-o", "json"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.out, "");
  EXPECT_NE(result.err.find(bad + ":16:7: spec.workers[1].host: "), std::string::npos)
      << result.err;
  EXPECT_NE(result.err.find("\"gpu-09\" not found"), std::string::npos) << result.err;
}

TEST_F(SvcctlRenderTest, MissingTemplateExitsWithLine) {
  const auto result = RunSvcctl({"render", "-f", three_nodes_});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.out, "");
  EXPECT_NE(result.err.find(three_nodes_ + ":22:3: spec.templateRef: "), std::string::npos)
      << result.err;
}

TEST_F(SvcctlRenderTest, OversizeScriptNamesNode) {
  const auto result =
      RunSvcctl({"render", "-f", three_nodes_, "-f", template_path_, "--max-script-bytes", "300"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.out, "");
  EXPECT_NE(result.err.find("rendered script for master is "), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("rendered script for worker-1 is "), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("limit of 300 bytes"), std::string::npos) << result.err;
}

TEST_F(SvcctlRenderTest, MissingFileExitsOne) {
  const std::string missing = (dir_.path() / "missing.yaml").string();
  const auto result = RunSvcctl({"render", "-f", missing});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find(missing + ": cannot open"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace svcd
