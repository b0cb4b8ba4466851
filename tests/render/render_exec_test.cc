// Runs rendered scripts under dash and under bash started as `sh`, with
// argv_dump as the fixed prefix, and compares the argv and environment bytes
// that arrive with the values written in the spec.

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "render/render.h"
#include "tests/render/fixtures.h"
#include "tests/render/subprocess.h"

namespace svcd::render {
namespace {

using svcd::testing::Flag;
using svcd::testing::MakeDeploy;
using svcd::testing::MakeHosts;
using svcd::testing::MakeTemplate;
using svcd::testing::Named;
using svcd::testing::ParseArgvDump;
using svcd::testing::Positional;
using svcd::testing::RunProcess;
using svcd::testing::RunScript;
using svcd::testing::TempDir;
using svcd::testing::TestShells;

struct HostileValue {
  std::string label;
  std::string value;
};

const std::vector<HostileValue>& HostileValues() {
  static const std::vector<HostileValue> kValues = {
      {"spaces", "a b  c   d"},
      {"outer spaces", "  padded  "},
      {"single quote", "it's"},
      {"lone single quote", "'"},
      {"double quotes", "say \"hi\""},
      {"both quote kinds", "'\"'\"''\"\""},
      {"dollar", "$HOME ${HOME} $1 $@ $? $"},
      {"command substitution", "$(id -u) $(echo injected)"},
      {"backticks", "`id -u` `echo injected`"},
      {"operators", "a;b&c&&d||e|f>g<h>>i 2>&1"},
      {"json", "{\"temperature\":0.5}"},
      {"json with spaces and commas", "{\"stop\": [\"a, b\", \"c d\"], \"n\": 2, \"x\": null}"},
      {"jinja expression", "{{ x }}"},
      {"jinja statement", "{% if x %}yes{% else %}no{% endif %}"},
      {"printf directives", "%s %n %d %% %x"},
      {"multi-line with trailing newline", "line one\nline two\n"},
      {"backslash n", "a\\nb"},
      {"backslashes", "\\ \\\\ \\'"},
      {"utf-8 path", "/mnt/模型/qwen-ü/données"},
      {"empty", ""},
      {"leading equals", "=mlx5_0,mlx5_1"},
      {"leading caret", "^lo,docker0"},
      {"leading dash", "-1"},
      {"leading double dash", "--not-a-flag"},
      {"globs and tilde", "* ? [a-z] ~ ~root"},
      {"history and comment", "!! !$ # not a comment"},
      {"tab and carriage return", "a\tb\rc"},
      {"bytes that are not utf-8", "\xff\xfe\x80"},
  };
  return kValues;
}

// Writes the node's script to a file, runs it under each test shell and
// checks that argv_dump received exactly `args`, and every entry of `env`.
// The script must also pass `dash -n`.
void ExpectDelivered(const NodeScript& node, const std::vector<std::string>& args,
                     const std::map<std::string, std::string>& env) {
  TempDir dir;
  const auto path = dir.WriteFile(node.name + ".sh", node.script);
  const auto syntax = RunProcess("/bin/dash", {"dash", "-n", path.string()}, {});
  EXPECT_EQ(syntax.exit_code, 0) << node.name << ": dash -n: " << syntax.err;
  for (const auto& shell : TestShells(dir)) {
    SCOPED_TRACE(shell.label + ", node " + node.name);
    const auto result = RunScript(shell, path);
    ASSERT_EQ(result.exit_code, 0) << result.err;
    const auto dump = ParseArgvDump(result.out);
    ASSERT_TRUE(dump.ok);
    ASSERT_EQ(dump.args.size(), args.size());
    for (size_t i = 0; i < args.size(); ++i) EXPECT_EQ(dump.args[i], args[i]) << "argv " << i;
    for (const auto& [name, value] : env) {
      auto it = dump.env.find(name);
      ASSERT_NE(it, dump.env.end()) << name << " is not set";
      EXPECT_EQ(it->second, value) << "env " << name;
    }
  }
}

// The renderer's recorded argv tail and env list must match what arrives.
void ExpectRecorded(const NodeScript& node, const std::vector<std::string>& args,
                    const std::map<std::string, std::string>& env) {
  EXPECT_EQ(node.argv_tail, args) << node.name;
  std::map<std::string, std::string> recorded;
  for (const api::EnvVar& var : node.envs) recorded[var.name] = var.value;
  for (const auto& [name, value] : env) {
    EXPECT_EQ(recorded[name], value) << node.name << " env " << name;
  }
}

std::map<std::string, std::string> NodeVariables(const std::string& role, int rank,
                                                 const std::string& address) {
  return {{"SVCD_MASTER_ADDR", "10.0.0.1"},
          {"SVCD_NODE_ADDR", address},
          {"SVCD_NODE_RANK", std::to_string(rank)},
          {"SVCD_NODE_COUNT", "3"},
          {"SVCD_ROLE", role},
          {"SVCD_DEPLOY", "eval/qwen"}};
}

TEST(RenderExecTest, DeliversHostileValuesByteForByte) {
  auto tmpl = MakeTemplate("vllm", SVCD_ARGV_DUMP);
  auto deploy = MakeDeploy({"gpu-02", "gpu-03"});
  std::vector<std::string> expected_args;
  std::map<std::string, std::string> expected_env;
  const auto& values = HostileValues();
  for (size_t i = 0; i < values.size(); ++i) {
    deploy.spec.envs.push_back({"V" + std::to_string(i), values[i].value});
    expected_env["V" + std::to_string(i)] = values[i].value;
  }
  // Positional args first, then named args; the same values reach workers
  // through the template's worker args.
  for (const HostileValue& v : values) expected_args.push_back(v.value);
  for (size_t i = 0; i < values.size(); ++i) {
    expected_args.push_back("--v" + std::to_string(i));
    expected_args.push_back(values[i].value);
  }
  std::vector<api::Arg> args;
  for (const HostileValue& v : values) args.push_back(Positional(v.value));
  for (size_t i = 0; i < values.size(); ++i) {
    args.push_back(Named("v" + std::to_string(i), values[i].value));
  }
  deploy.spec.master.args = args;
  tmpl.spec.default_worker_args = args;

  const auto rendered = RenderDeploy(deploy, tmpl, MakeHosts());
  ASSERT_TRUE(rendered.ok()) << rendered.status().ToString();

  auto master_env = expected_env;
  master_env.merge(NodeVariables("master", 0, "10.0.0.1"));
  ExpectRecorded(rendered->master, expected_args, master_env);
  ExpectDelivered(rendered->master, expected_args, master_env);
  for (size_t w = 0; w < rendered->workers.size(); ++w) {
    auto worker_env = expected_env;
    worker_env.merge(
        NodeVariables("worker", static_cast<int>(w) + 1, "10.0.0." + std::to_string(w + 2)));
    ExpectRecorded(rendered->workers[w], expected_args, worker_env);
    ExpectDelivered(rendered->workers[w], expected_args, worker_env);
  }
}

// Each hostile value alone, so a failure names the value that broke.
TEST(RenderExecTest, DeliversEachHostileValueAlone) {
  const auto tmpl = MakeTemplate("vllm", SVCD_ARGV_DUMP);
  for (const HostileValue& v : HostileValues()) {
    SCOPED_TRACE(v.label);
    auto deploy = MakeDeploy();
    deploy.spec.envs = {{"VALUE", v.value}};
    deploy.spec.master.args = {Named("x", v.value), Positional(v.value)};
    const auto rendered = RenderDeploy(deploy, tmpl, MakeHosts());
    ASSERT_TRUE(rendered.ok()) << rendered.status().ToString();
    ExpectDelivered(rendered->master, {v.value, "--x", v.value}, {{"VALUE", v.value}});
  }
}

TEST(RenderExecTest, ExpandsVariablesPerNode) {
  auto tmpl = MakeTemplate("vllm", SVCD_ARGV_DUMP);
  tmpl.spec.default_envs = {{"GREETING", "hello $(SVCD_ROLE)"}, {"REPLACED", "template"}};
  tmpl.spec.default_worker_args = {Named("rank", "$(SVCD_NODE_RANK)/$(SVCD_NODE_COUNT)"),
                                   Named("master", "$(SVCD_MASTER_ADDR):8000")};
  auto deploy = MakeDeploy({"gpu-02", "gpu-03"});
  deploy.spec.envs = {
      {"A", "x y"},
      {"B", "$(A)-$(SVCD_ROLE)"},  // earlier env and a per-node variable
      {"C", "$(D)"},               // D comes later in the merged list
      {"D", "d"},
      {"E", "$(NOPE) $(lower)"},  // unknown names
      {"F", "$$(A) $$$(A) $$"},   // escaped dollars
      {"G", "$(A"},               // unclosed
  };
  // REPLACED keeps the template's position (before A), so it cannot see D.
  deploy.spec.master.envs = {{"REPLACED", "$(D) $(GREETING)"}};
  deploy.spec.master.args = {Positional("$(SVCD_NODE_ADDR)"), Named("d", "$(D)"),
                             Named("c", "$(C)"), Named("deploy", "$(SVCD_DEPLOY)")};

  const auto rendered = RenderDeploy(deploy, tmpl, MakeHosts());
  ASSERT_TRUE(rendered.ok()) << rendered.status().ToString();

  const std::map<std::string, std::string> shared = {
      {"A", "x y"},         {"C", "$(D)"}, {"D", "d"}, {"E", "$(NOPE) $(lower)"},
      {"F", "$(A) $x y $"}, {"G", "$(A"}};
  auto master_env = shared;
  master_env.merge(NodeVariables("master", 0, "10.0.0.1"));
  master_env["GREETING"] = "hello master";
  master_env["B"] = "x y-master";
  master_env["REPLACED"] = "$(D) hello master";
  const std::vector<std::string> master_args = {"10.0.0.1", "--d",      "d",        "--c",
                                                "$(D)",     "--deploy", "eval/qwen"};
  ExpectRecorded(rendered->master, master_args, master_env);
  ExpectDelivered(rendered->master, master_args, master_env);

  for (int w = 0; w < 2; ++w) {
    auto worker_env = shared;
    worker_env.merge(NodeVariables("worker", w + 1, "10.0.0." + std::to_string(w + 2)));
    worker_env["GREETING"] = "hello worker";
    worker_env["B"] = "x y-worker";
    worker_env["REPLACED"] = "template";
    const std::vector<std::string> worker_args = {"--rank", std::to_string(w + 1) + "/3",
                                                  "--master", "10.0.0.1:8000"};
    ExpectRecorded(rendered->workers[w], worker_args, worker_env);
    ExpectDelivered(rendered->workers[w], worker_args, worker_env);
  }
}

TEST(RenderExecTest, RendersFlagsAndDashedNames) {
  auto tmpl = MakeTemplate("vllm", SVCD_ARGV_DUMP);
  tmpl.spec.default_master_args = {Positional("serve"), Flag("enforce-eager"), Named("-v", "2"),
                                   Flag("dropped")};
  auto deploy = MakeDeploy();
  deploy.spec.master.args = {Named("--port", "8000"), Flag("dropped", false),
                             Positional("/models/q")};
  const auto rendered = RenderDeploy(deploy, tmpl, MakeHosts());
  ASSERT_TRUE(rendered.ok()) << rendered.status().ToString();
  const std::vector<std::string> expected = {"serve",  "/models/q", "--enforce-eager", "-v", "2",
                                             "--port", "8000"};
  ExpectRecorded(rendered->master, expected, {});
  ExpectDelivered(rendered->master, expected, {});
}

// A multi-line fixed prefix with a trailing newline still receives the args
// on its last line.
TEST(RenderExecTest, MultiLinePrefixKeepsArgsOnLastLine) {
  const auto tmpl =
      MakeTemplate("vllm", std::string("cd /tmp &&\n  ") + SVCD_ARGV_DUMP + " first \n\n");
  auto deploy = MakeDeploy();
  deploy.spec.master.args = {Named("x", "1")};
  const auto rendered = RenderDeploy(deploy, tmpl, MakeHosts());
  ASSERT_TRUE(rendered.ok()) << rendered.status().ToString();
  ExpectDelivered(rendered->master, {"first", "--x", "1"}, {});
}

}  // namespace
}  // namespace svcd::render
