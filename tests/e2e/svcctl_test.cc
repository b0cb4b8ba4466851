// The svcctl binary against a real svcd: apply, get, describe, delete and
// diff, their output formats, exit codes and error messages.

#include <sstream>

#include "tests/e2e/e2e_fixture.h"

namespace svcd::e2e {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// Splits `text` into lines, dropping the final newline.
std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

// Returns the words of a table line.
std::vector<std::string> Words(const std::string& line) {
  std::vector<std::string> words;
  std::istringstream in(line);
  for (std::string word; in >> word;) words.push_back(word);
  return words;
}

class SvcctlTest : public E2eTest {
 protected:
  // Host, template and deploys in two namespaces, in one manifest file.
  std::string WriteClusterManifest() const {
    return WriteTempFile(
        "cluster.yaml",
        YamlStream({HostYaml("gpu-01", "{room: a3}"), HostYaml("gpu-02", "{room: b1}"),
                    TemplateYaml("vllm"),
                    DeployYaml("qwen", "eval", "vllm", "gpu-01", "", "{team: perf}"),
                    DeployYaml("llama", "prod", "vllm", "gpu-01")}));
  }

  void ApplyCluster() {
    const CommandResult result = Svcctl({"apply", "-f", WriteClusterManifest()});
    ASSERT_EQ(result.exit_code, 0) << result.err;
  }
};

TEST_P(SvcctlTest, ApplyPrintsWhatHappened) {
  const std::string file = WriteClusterManifest();
  const CommandResult created = Svcctl({"apply", "-f", file});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  EXPECT_THAT(
      Lines(created.out),
      ElementsAre("host/gpu-01 created", "host/gpu-02 created", "servicetemplate/vllm created",
                  "servicedeploy/qwen created", "servicedeploy/llama created"));
  EXPECT_EQ(created.err, "");

  const CommandResult unchanged = Svcctl({"apply", "-f", file});
  ASSERT_EQ(unchanged.exit_code, 0) << unchanged.err;
  EXPECT_THAT(Lines(unchanged.out), ::testing::Each(::testing::EndsWith(" unchanged")));

  // From stdin, with a new label on one Host.
  const CommandResult configured =
      Svcctl({"apply", "-f", "-"},
             YamlStream({HostYaml("gpu-01", "{room: c9}"), HostYaml("gpu-02", "{room: b1}")}));
  ASSERT_EQ(configured.exit_code, 0) << configured.err;
  EXPECT_THAT(Lines(configured.out),
              ElementsAre("host/gpu-01 configured", "host/gpu-02 unchanged"));
  EXPECT_EQ(Stored("/hosts/gpu-01")["metadata"]["labels"]["room"], "c9");
}

TEST_P(SvcctlTest, ApplyUsesNamespaceFlag) {
  ApplyCluster();
  const CommandResult result =
      Svcctl({"-n", "staging", "apply", "-f", "-"}, DeployYaml("mistral", "", "vllm", "gpu-02"));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "servicedeploy/mistral created\n");
  EXPECT_FALSE(Stored("/namespaces/staging/servicedeploys/mistral").is_discarded());
  EXPECT_TRUE(Stored("/namespaces/default/servicedeploys/mistral").is_discarded());

  const std::string file =
      WriteTempFile("mistral.yaml", DeployYaml("mistral", "", "vllm", "gpu-02"));
  const CommandResult deleted = Svcctl({"-n", "staging", "delete", "-f", file, "--force"});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.err;
  EXPECT_TRUE(Stored("/namespaces/staging/servicedeploys/mistral").is_discarded());
}

TEST_P(SvcctlTest, ApplyDryRunWritesNothing) {
  const std::string file = WriteClusterManifest();
  const CommandResult server = Svcctl({"apply", "-f", file, "--dry-run=server"});
  ASSERT_EQ(server.exit_code, 0) << server.err;
  EXPECT_THAT(Lines(server.out)[0], StartsWith("host/gpu-01 created"));
  const CommandResult client = Svcctl({"apply", "-f", file, "--dry-run=client"});
  ASSERT_EQ(client.exit_code, 0) << client.err;
  EXPECT_THAT(Lines(client.out)[0], StartsWith("host/gpu-01 created"));
  // A bare --dry-run is a client dry run, as in kubectl.
  const CommandResult bare = Svcctl({"apply", "-f", file, "--dry-run"});
  ASSERT_EQ(bare.exit_code, 0) << bare.err;
  EXPECT_EQ(Lines(bare.out)[0], "host/gpu-01 created (dry run)");
  const CommandResult bare_first = Svcctl({"apply", "--dry-run", "-f", file});
  ASSERT_EQ(bare_first.exit_code, 0) << bare_first.err;
  EXPECT_EQ(Lines(bare_first.out)[0], "host/gpu-01 created (dry run)");
  EXPECT_TRUE(Stored("/hosts/gpu-01").is_discarded());
  EXPECT_TRUE(Stored("/namespaces/eval/servicedeploys/qwen").is_discarded());
}

TEST_P(SvcctlTest, ApplyInvalidManifestFailsOnStderr) {
  ApplyCluster();
  const CommandResult result =
      Svcctl({"apply", "-f", "-"}, DeployYaml("broken", "eval", "vllm", "gpu-44"));
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.out, "");
  EXPECT_THAT(result.err, HasSubstr("spec.master.host"));
  EXPECT_THAT(result.err, HasSubstr("gpu-44"));
  for (const std::string& line : Lines(result.err)) EXPECT_THAT(line, StartsWith("error: "));
  EXPECT_TRUE(Stored("/namespaces/eval/servicedeploys/broken").is_discarded());
}

// A manifest over svcd's 1 MiB body limit but under svcctl's 4 MiB file
// limit: svcd closes the connection mid-body, and svcctl names the limit
// instead of suggesting that svcd is down.
TEST_P(SvcctlTest, ApplyOverBodyLimitNamesTheLimit) {
  std::string yaml;
  for (int i = 0; i < 6000; ++i) {
    yaml += "---\napiVersion: svcd.io/v1alpha1\nkind: Host\nmetadata:\n  name: h" +
            std::to_string(i) + "\n  labels: {a: \"" + std::string(60, 'x') +
            "\"}\n  annotations: {note: \"" + std::string(120, 'y') +
            "\"}\nspec:\n  address: 127.0.0.1\n  executor: local\n";
  }
  ASSERT_GT(yaml.size(), 1u << 20);
  const CommandResult result = Svcctl({"apply", "-f", "-"}, yaml);
  EXPECT_EQ(result.exit_code, 1);
  // svcd may also read the whole body and reply 413, which names the limit.
  EXPECT_THAT(result.err, HasSubstr("1048576")) << result.err;
  EXPECT_THAT(result.err, Not(HasSubstr("is svcd running"))) << result.err;
  EXPECT_TRUE(Stored("/hosts/h0").is_discarded());
}

TEST_P(SvcctlTest, ManyInvalidDocumentsPrintFiftyErrors) {
  std::string yaml;
  for (int i = 0; i < 60; ++i) {
    yaml += "---\napiVersion: svcd.io/v1alpha1\nkind: Host\nmetadata:\n  name: h" +
            std::to_string(i) + "\nspec:\n  address: 127.0.0.1\n  executr: local\n";
  }
  const CommandResult result = Svcctl({"apply", "-f", "-"}, yaml);
  EXPECT_EQ(result.exit_code, 1);
  const std::vector<std::string> lines = Lines(result.err);
  ASSERT_EQ(lines.size(), 52u) << result.err;
  EXPECT_THAT(lines[1], HasSubstr("[doc 1] spec.executr"));
  EXPECT_EQ(lines.back(), "error: and 10 more problems");
}

TEST_P(SvcctlTest, GetPrintsTables) {
  ApplyCluster();
  const CommandResult hosts = Svcctl({"get", "hosts"});
  ASSERT_EQ(hosts.exit_code, 0) << hosts.err;
  const std::vector<std::string> lines = Lines(hosts.out);
  ASSERT_EQ(lines.size(), 3u) << hosts.out;
  EXPECT_THAT(Words(lines[0]), ElementsAre("NAME", "ADDRESS", "EXECUTOR", "DISABLED", "AGE"));
  EXPECT_THAT(Words(lines[1]),
              ElementsAre("gpu-01", "192.0.2.11", "powerjob", "false", ::testing::_));

  const CommandResult eval = Svcctl({"-n", "eval", "get", "sd"});
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  ASSERT_EQ(Lines(eval.out).size(), 2u) << eval.out;
  EXPECT_THAT(Words(Lines(eval.out)[0]), ElementsAre("NAME", "TEMPLATE", "PHASE", "READY", "AGE"));
  EXPECT_EQ(Words(Lines(eval.out)[1])[0], "qwen");

  const CommandResult all = Svcctl({"get", "servicedeploys", "-A"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  const std::vector<std::string> all_lines = Lines(all.out);
  ASSERT_EQ(all_lines.size(), 3u) << all.out;
  EXPECT_EQ(Words(all_lines[0])[0], "NAMESPACE");
  EXPECT_THAT(Words(all_lines[1]), ::testing::IsSupersetOf({"eval", "qwen", "vllm"}));
  EXPECT_THAT(Words(all_lines[2]), ::testing::IsSupersetOf({"prod", "llama"}));

  const CommandResult selected = Svcctl({"get", "hosts", "-l", "room=b1", "-o", "name"});
  ASSERT_EQ(selected.exit_code, 0) << selected.err;
  EXPECT_EQ(selected.out, "host/gpu-02\n");

  const CommandResult none = Svcctl({"-n", "empty", "get", "sd"});
  EXPECT_EQ(none.exit_code, 0) << none.err;
  EXPECT_EQ(none.out, "");
  EXPECT_THAT(none.err, HasSubstr("No resources found in empty namespace"));
}

TEST_P(SvcctlTest, GetPrintsYamlJsonAndNames) {
  ApplyCluster();
  const CommandResult yaml = Svcctl({"get", "host", "gpu-01", "-o", "yaml"});
  ASSERT_EQ(yaml.exit_code, 0) << yaml.err;
  EXPECT_THAT(yaml.out, HasSubstr("kind: Host"));
  EXPECT_THAT(yaml.out, HasSubstr("name: gpu-01"));
  EXPECT_THAT(yaml.out, ::testing::ContainsRegex("address: \"?192\\.0\\.2\\.11\"?"));
  // The YAML output applies back unchanged.
  const CommandResult reapplied = Svcctl({"apply", "-f", "-"}, yaml.out);
  EXPECT_EQ(reapplied.exit_code, 0) << reapplied.err;
  EXPECT_EQ(reapplied.out, "host/gpu-01 unchanged\n");

  const CommandResult json = Svcctl({"-n", "eval", "get", "sd/qwen", "-o", "json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const nlohmann::json object = nlohmann::json::parse(json.out, nullptr, false);
  ASSERT_FALSE(object.is_discarded()) << json.out;
  EXPECT_EQ(object["metadata"]["name"], "qwen");
  EXPECT_EQ(object["metadata"]["namespace"], "eval");
  EXPECT_EQ(object["spec"]["templateRef"], "vllm");

  const CommandResult list = Svcctl({"get", "st", "-o", "json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(nlohmann::json::parse(list.out, nullptr, false)["items"].size(), 1u);

  const CommandResult names = Svcctl({"get", "hosts", "-o", "name"});
  ASSERT_EQ(names.exit_code, 0) << names.err;
  EXPECT_EQ(names.out, "host/gpu-01\nhost/gpu-02\n");

  const CommandResult bad = Svcctl({"get", "hosts", "-o", "xml"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.err, StartsWith("error: "));
}

TEST_P(SvcctlTest, DescribeShowsObject) {
  ApplyCluster();
  const CommandResult host = Svcctl({"describe", "host", "gpu-01"});
  ASSERT_EQ(host.exit_code, 0) << host.err;
  EXPECT_THAT(host.out, HasSubstr("Name:         gpu-01"));
  EXPECT_THAT(host.out, HasSubstr("Labels:       room=a3"));
  EXPECT_THAT(host.out, ::testing::ContainsRegex("address: \"?192\\.0\\.2\\.11\"?"));

  const CommandResult deploy = Svcctl({"-n", "eval", "describe", "sd", "qwen"});
  ASSERT_EQ(deploy.exit_code, 0) << deploy.err;
  EXPECT_THAT(deploy.out, HasSubstr("Namespace:    eval"));
  EXPECT_THAT(deploy.out, HasSubstr("Kind:         ServiceDeploy"));
  EXPECT_THAT(deploy.out, HasSubstr("templateRef: vllm"));
  EXPECT_THAT(deploy.out, HasSubstr("Events:"));

  const CommandResult missing = Svcctl({"describe", "host", "gpu-77"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err, HasSubstr("gpu-77"));
}

TEST_P(SvcctlTest, DeleteByNameAndFile) {
  ApplyCluster();
  const CommandResult by_name = Svcctl({"delete", "host", "gpu-02", "--wait", "--timeout", "10s"});
  ASSERT_EQ(by_name.exit_code, 0) << by_name.err;
  EXPECT_EQ(by_name.out, "host/gpu-02 deleted\n");
  EXPECT_TRUE(Stored("/hosts/gpu-02").is_discarded());

  const CommandResult in_use = Svcctl({"delete", "host", "gpu-01"});
  EXPECT_EQ(in_use.exit_code, 1);
  EXPECT_THAT(in_use.err, HasSubstr("eval/qwen"));
  EXPECT_FALSE(Stored("/hosts/gpu-01").is_discarded());

  const std::string file =
      WriteTempFile("llama.yaml", DeployYaml("llama", "prod", "vllm", "gpu-01"));
  const CommandResult by_file = Svcctl({"delete", "-f", file, "--force"});
  ASSERT_EQ(by_file.exit_code, 0) << by_file.err;
  EXPECT_THAT(by_file.out, StartsWith("servicedeploy/llama deleted"));
  EXPECT_TRUE(Stored("/namespaces/prod/servicedeploys/llama").is_discarded());

  const CommandResult missing = Svcctl({"delete", "host", "gpu-02"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err, HasSubstr("gpu-02"));
  const CommandResult ignored = Svcctl({"delete", "host", "gpu-02", "--ignore-not-found"});
  EXPECT_EQ(ignored.exit_code, 0) << ignored.err;
}

TEST_P(SvcctlTest, DeleteWaitsForDeploy) {
  ApplyCluster();
  const CommandResult waited =
      Svcctl({"-n", "eval", "delete", "sd", "qwen", "--wait", "--timeout", "30s"});
  EXPECT_EQ(waited.exit_code, 0) << waited.err;
  EXPECT_EQ(waited.out, "servicedeploy/qwen deleted\n");
  EXPECT_TRUE(Stored("/namespaces/eval/servicedeploys/qwen").is_discarded());

  const CommandResult forced = Svcctl({"-n", "prod", "delete", "sd/llama", "--force", "--wait"});
  EXPECT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_TRUE(Stored("/namespaces/prod/servicedeploys/llama").is_discarded());

  const CommandResult bad_timeout = Svcctl({"delete", "host", "gpu-02", "--timeout", "soon"});
  EXPECT_EQ(bad_timeout.exit_code, 1);
  EXPECT_THAT(bad_timeout.err, HasSubstr("soon"));
  EXPECT_FALSE(Stored("/hosts/gpu-02").is_discarded());
}

TEST_P(SvcctlTest, DiffExitCodes) {
  ApplyCluster();
  const CommandResult same = Svcctl({"diff", "-f", WriteClusterManifest()});
  EXPECT_EQ(same.exit_code, 0) << same.out << same.err;
  EXPECT_EQ(same.out, "");

  const std::string changed_file = WriteTempFile("changed.yaml", HostYaml("gpu-01", "{room: z9}"));
  const CommandResult changed = Svcctl({"diff", "-f", changed_file});
  EXPECT_EQ(changed.exit_code, 1) << changed.err;
  EXPECT_THAT(changed.out, HasSubstr("-    room: a3"));
  EXPECT_THAT(changed.out, HasSubstr("+    room: z9"));
  EXPECT_EQ(Stored("/hosts/gpu-01")["metadata"]["labels"]["room"], "a3");

  const CommandResult created = Svcctl({"diff", "-f", "-"}, HostYaml("gpu-05"));
  EXPECT_EQ(created.exit_code, 1) << created.err;
  EXPECT_THAT(created.out, HasSubstr("+  name: gpu-05"));
  EXPECT_TRUE(Stored("/hosts/gpu-05").is_discarded());

  const std::string invalid = WriteTempFile("invalid.yaml", HostYaml("gpu-01") + "  bogus: 1\n");
  const CommandResult error = Svcctl({"diff", "-f", invalid});
  EXPECT_GE(error.exit_code, 2);
  EXPECT_THAT(error.err, HasSubstr("bogus"));

  const CommandResult rejected =
      Svcctl({"diff", "-f", "-"}, DeployYaml("x", "eval", "vllm", "gpu-88"));
  EXPECT_GE(rejected.exit_code, 2);
  EXPECT_THAT(rejected.err, HasSubstr("gpu-88"));
}

TEST_P(SvcctlTest, UnreachableServerNamesUrl) {
  const std::string url = "http://127.0.0.1:" + std::to_string(PickFreePort());
  const std::vector<std::string> env = {"PATH=/usr/bin:/bin", "HOME=" + temp_dir().string()};
  const CommandResult get = RunCommand({kSvcctlBinary, "--server", url, "get", "hosts"}, env);
  EXPECT_EQ(get.exit_code, 1);
  EXPECT_EQ(get.out, "");
  EXPECT_THAT(get.err, HasSubstr(url));
  EXPECT_THAT(get.err, StartsWith("error: "));

  const CommandResult from_env =
      RunCommand({kSvcctlBinary, "get", "hosts"}, {env[0], env[1], "SVCD_SERVER=" + url});
  EXPECT_EQ(from_env.exit_code, 1);
  EXPECT_THAT(from_env.err, HasSubstr(url));

  const CommandResult diff =
      RunCommand({kSvcctlBinary, "--server", url, "diff", "-f", "-"}, env, HostYaml("gpu-01"));
  EXPECT_GE(diff.exit_code, 2);
  EXPECT_THAT(diff.err, HasSubstr(url));
}

TEST_P(SvcctlTest, ApplyPrunesApplySet) {
  const std::string both =
      WriteTempFile("both.yaml", YamlStream({HostYaml("p-1"), HostYaml("p-2")}));
  const std::string one = WriteTempFile("one.yaml", HostYaml("p-1"));
  ASSERT_EQ(Svcctl({"apply", "-f", both, "--applyset", "infra"}).exit_code, 0);
  ASSERT_EQ(Svcctl({"apply", "-f", WriteTempFile("other.yaml", HostYaml("p-3"))}).exit_code, 0);

  const CommandResult preview =
      Svcctl({"apply", "-f", one, "--applyset", "infra", "--prune", "--dry-run=server"});
  ASSERT_EQ(preview.exit_code, 0) << preview.err;
  EXPECT_THAT(Lines(preview.out), ElementsAre("host/p-1 unchanged (server dry run)",
                                              "host/p-2 pruned (server dry run)"));
  EXPECT_FALSE(Stored("/hosts/p-2").is_discarded());
  const CommandResult client =
      Svcctl({"apply", "-f", one, "--applyset", "infra", "--prune", "--dry-run"});
  ASSERT_EQ(client.exit_code, 0) << client.err;
  EXPECT_THAT(Lines(client.out),
              ElementsAre("host/p-1 unchanged (dry run)", "host/p-2 pruned (dry run)"));
  EXPECT_FALSE(Stored("/hosts/p-2").is_discarded());

  const CommandResult pruned = Svcctl({"apply", "-f", one, "--applyset", "infra", "--prune"});
  ASSERT_EQ(pruned.exit_code, 0) << pruned.err;
  EXPECT_THAT(Lines(pruned.out), ElementsAre("host/p-1 unchanged", "host/p-2 pruned"));
  EXPECT_TRUE(Stored("/hosts/p-2").is_discarded());
  EXPECT_FALSE(Stored("/hosts/p-3").is_discarded());

  const CommandResult no_set = Svcctl({"apply", "-f", one, "--prune"});
  EXPECT_EQ(no_set.exit_code, 1);
  EXPECT_THAT(no_set.err, HasSubstr("--applyset"));
}

TEST_P(SvcctlTest, GlobalFlagsFollowSubcommand) {
  ApplyCluster();
  const CommandResult get = Svcctl({"get", "sd", "-n", "eval", "-o", "name"});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(get.out, "servicedeploy/qwen\n");

  const CommandResult describe = Svcctl({"describe", "sd", "llama", "-n", "prod"});
  ASSERT_EQ(describe.exit_code, 0) << describe.err;
  EXPECT_THAT(describe.out, HasSubstr("Namespace:    prod"));
}

TEST_P(SvcctlTest, UsageErrorExitsOne) {
  const CommandResult unknown = Svcctl({"get", "hosts", "--bogus"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_EQ(unknown.out, "");
  EXPECT_THAT(Lines(unknown.err), ElementsAre(AllOf(StartsWith("error: "), HasSubstr("--bogus"))));

  const CommandResult missing = Svcctl({"apply"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(Lines(missing.err), ElementsAre(StartsWith("error: ")));

  const CommandResult timeout = Svcctl({"--request-timeout", "soon", "get", "hosts"});
  EXPECT_EQ(timeout.exit_code, 1);
  EXPECT_THAT(Lines(timeout.err), ElementsAre(AllOf(StartsWith("error: "), HasSubstr("soon"))));

  const CommandResult help = Svcctl({"get", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.out, HasSubstr("--selector"));
}

TEST_P(SvcctlTest, GetMissingObjectFails) {
  const CommandResult result = Svcctl({"get", "host", "nope"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.out, "");
  EXPECT_THAT(result.err, StartsWith("error: "));
  EXPECT_THAT(result.err, HasSubstr("nope"));
  EXPECT_THAT(Lines(result.err), ::testing::SizeIs(1));
}

SVCD_E2E_INSTANTIATE(SvcctlTest);

}  // namespace
}  // namespace svcd::e2e
