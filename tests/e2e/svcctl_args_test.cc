// The svcctl binary against a real svcd: the order of positional and named
// arguments, usage errors of wait, and names that svcd rejects instead of
// returning an empty result.

#include <chrono>

#include "tests/e2e/e2e_fixture.h"

namespace svcd::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

class SvcctlArgsTest : public E2eTest {
 protected:
  // Host gpu-01, template vllm and deploy eval/qwen, in one manifest file.
  std::string WriteManifest() const {
    return WriteTempFile("cluster.yaml",
                         YamlStream({HostYaml("gpu-01", "{room: a3}"), TemplateYaml("vllm"),
                                     DeployYaml("qwen", "eval", "vllm", "gpu-01")}));
  }

  void ApplyManifest() {
    const CommandResult result = Svcctl({"apply", "-f", WriteManifest()});
    ASSERT_EQ(result.exit_code, 0) << result.err;
  }
};

// One command written twice: with the named arguments after the positional
// ones, and before them. Both must parse the same and do the same.
struct OrderCase {
  std::vector<std::string> positional_first;
  std::vector<std::string> named_first;
  int exit_code;
  ::testing::Matcher<std::string> out;
  ::testing::Matcher<std::string> err;
};

TEST_P(SvcctlArgsTest, NamedArgsGoBeforeOrAfterPositional) {
  ApplyManifest();
  const std::string file = WriteManifest();
  const auto any = ::testing::_;
  const std::vector<OrderCase> cases = {
      {{"get", "sd", "qwen", "-n", "eval", "-o", "name"},
       {"get", "-o", "name", "-n", "eval", "sd", "qwen"},
       0,
       "servicedeploy/qwen\n",
       ""},
      {{"get", "hosts", "-l", "room=a3", "-o", "name"},
       {"get", "-l", "room=a3", "-o", "name", "hosts"},
       0,
       "host/gpu-01\n",
       ""},
      {{"describe", "sd/qwen", "-n", "eval"},
       {"describe", "-n", "eval", "sd/qwen"},
       0,
       HasSubstr("Namespace:    eval"),
       any},
      {{"logs", "sd/qwen", "--target", "nosuch", "-n", "eval"},
       {"logs", "--target", "nosuch", "-n", "eval", "sd/qwen"},
       1,
       "",
       HasSubstr("no target \"nosuch\"")},
      {{"retry", "sd/qwen", "--target", "nosuch", "-n", "eval"},
       {"retry", "--target", "nosuch", "-n", "eval", "sd/qwen"},
       1,
       "",
       HasSubstr("no target \"nosuch\"")},
      {{"events", "sd/qwen", "-n", "eval"},
       {"events", "-n", "eval", "sd/qwen"},
       0,
       StartsWith("AGE"),
       ""},
      {{"wait", "sd/qwen", "--for=condition=Typo"},
       {"wait", "--for=condition=Typo", "sd/qwen"},
       2,
       "",
       HasSubstr("Typo")},
      {{"wait", "host/gone", "--for", "delete", "--timeout", "5s"},
       {"wait", "--timeout", "5s", "--for", "delete", "host/gone"},
       0,
       "host/gone deleted\n",
       ""},
      {{"delete", "host", "gone", "--ignore-not-found"},
       {"delete", "--ignore-not-found", "host", "gone"},
       0,
       "",
       ""},
      {{"rollout", "restart", "sd/qwen", "-n", "eval"},
       {"rollout", "restart", "-n", "eval", "sd/qwen"},
       0,
       "servicedeploy/qwen restarting\n",
       ""},
      // The two words "sd NAME", as describe and delete take them.
      {{"rollout", "restart", "sd", "qwen", "-n", "eval"},
       {"rollout", "restart", "-n", "eval", "sd", "qwen"},
       0,
       "servicedeploy/qwen restarting\n",
       ""},
      {{"wait", "sd", "qwen", "--for=condition=Ready=False"},
       {"wait", "--for=condition=Ready=False", "sd", "qwen"},
       2,
       "",
       HasSubstr("only =True")},
      {{"wait", "sd", "qwen", "--for=condition=Typo"},
       {"wait", "--for=condition=Typo", "sd", "qwen"},
       2,
       "",
       HasSubstr("Typo")},
      {{"retry", "sd", "qwen", "-n", "eval", "--target", ""},
       {"retry", "-n", "eval", "--target", "", "sd", "qwen"},
       1,
       "",
       HasSubstr("--target is empty")},
      {{"archive", "sd/qwen", "--list", "-n", "eval"},
       {"archive", "--list", "-n", "eval", "sd/qwen"},
       0,
       "",
       "no archives found\n"},
      {{"apply", "-f", file, "--dry-run=server"},
       {"apply", "--dry-run=server", "-f", file},
       0,
       HasSubstr("servicedeploy/qwen unchanged (server dry run)"),
       ""},
      {{"render", "-f", file, "-o", "json"},
       {"render", "-o", "json", "-f", file},
       0,
       StartsWith("{"),
       ""},
  };
  for (const OrderCase& c : cases) {
    for (const auto* args : {&c.positional_first, &c.named_first}) {
      std::string command;
      for (const std::string& arg : *args) command += " " + arg;
      SCOPED_TRACE("svcctl" + command);
      const CommandResult result = Svcctl(*args);
      EXPECT_EQ(result.exit_code, c.exit_code) << result.err;
      EXPECT_THAT(result.out, c.out);
      EXPECT_THAT(result.err, c.err);
    }
  }
}

TEST_P(SvcctlArgsTest, WaitRejectsUnknownForAtOnce) {
  ApplyManifest();
  const std::vector<std::vector<std::string>> invalid = {
      {"wait", "-n", "eval", "sd/qwen", "--for=condition=Typo", "--timeout", "60s"},
      {"wait", "-n", "eval", "sd/qwen", "--for=Ready", "--timeout", "60s"},
      {"wait", "-n", "eval", "sd/qwen", "--for=condition=", "--timeout", "60s"},
      {"wait", "-n", "eval", "sd/qwen", "--for=deleted", "--timeout", "60s"},
  };
  for (const std::vector<std::string>& args : invalid) {
    SCOPED_TRACE(args[4]);
    const auto started = std::chrono::steady_clock::now();
    const CommandResult result = Svcctl(args);
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
    EXPECT_EQ(result.exit_code, 2) << result.err;
    EXPECT_EQ(result.out, "");
    EXPECT_THAT(result.err, StartsWith("error: "));
    for (const char* valid : {"condition=Ready", "condition=Progressing", "condition=Stalled",
                              "condition=UpToDate", "delete"}) {
      EXPECT_THAT(result.err, HasSubstr(valid));
    }
  }

  // Condition types match without regard to case, as in kubectl; this one
  // is valid, so the wait runs out its timeout.
  const CommandResult lower =
      Svcctl({"wait", "-n", "eval", "sd/qwen", "--for=condition=uptodate", "--timeout", "1s"});
  EXPECT_NE(lower.exit_code, 2) << lower.err;
  EXPECT_THAT(lower.err, Not(HasSubstr("unknown condition")));

  const CommandResult host = Svcctl({"wait", "host/gpu-01", "--for=condition=Ready"});
  EXPECT_EQ(host.exit_code, 2) << host.err;
  EXPECT_THAT(host.err, HasSubstr("only deploys have conditions"));

  const CommandResult timeout = Svcctl({"wait", "-n", "eval", "sd/qwen", "--timeout", "soon"});
  EXPECT_EQ(timeout.exit_code, 2) << timeout.err;
  EXPECT_THAT(timeout.err, HasSubstr("soon"));
  const CommandResult huge =
      Svcctl({"wait", "-n", "eval", "sd/qwen", "--timeout", "99999999999999999999s"});
  EXPECT_EQ(huge.exit_code, 2) << huge.err;
  EXPECT_THAT(huge.err, HasSubstr("more than 9 digits"));

  // A bare number is seconds, and the timeout message shows the unit.
  const CommandResult bare = Svcctl({"wait", "-n", "eval", "sd/qwen", "--timeout", "1"});
  EXPECT_EQ(bare.exit_code, 1) << bare.err;
  EXPECT_THAT(bare.err, HasSubstr("timed out after 1s waiting"));
}

TEST_P(SvcctlArgsTest, RolloutNamesUnknownSubcommand) {
  const CommandResult undo = Svcctl({"-n", "eval", "rollout", "undo", "sd/qwen"});
  EXPECT_EQ(undo.exit_code, 1);
  EXPECT_EQ(undo.err,
            "error: unknown rollout subcommand \"undo\": use restart or status (see svcctl "
            "rollout --help)\n");
  const CommandResult bare = Svcctl({"rollout"});
  EXPECT_EQ(bare.exit_code, 1);
  EXPECT_THAT(bare.err, HasSubstr("missing rollout subcommand"));

  // rollout status waits like wait --for=condition=Ready.
  ApplyManifest();
  const CommandResult status =
      Svcctl({"rollout", "status", "sd/qwen", "-n", "eval", "--timeout", "1s"});
  EXPECT_EQ(status.exit_code, 1) << status.err;
  EXPECT_THAT(status.err, HasSubstr("timed out after 1s waiting for servicedeploy/qwen"));
}

TEST_P(SvcctlArgsTest, InvalidNamespaceFails) {
  ApplyManifest();
  const CommandResult list = Svcctl({"-n", "Bad_NS", "get", "sd"});
  EXPECT_EQ(list.exit_code, 1);
  EXPECT_EQ(list.out, "");
  EXPECT_THAT(list.err, HasSubstr("invalid namespace \"Bad_NS\""));
  EXPECT_THAT(list.err, Not(HasSubstr("No resources found")));

  const CommandResult logs = Svcctl({"-n", "Eval", "logs", "sd/qwen"});
  EXPECT_EQ(logs.exit_code, 1);
  EXPECT_THAT(logs.err, HasSubstr("invalid namespace \"Eval\""));

  const CommandResult get = Svcctl({"-n", "eval", "get", "sd", "Qwen"});
  EXPECT_EQ(get.exit_code, 1);
  EXPECT_THAT(get.err, HasSubstr("invalid name \"Qwen\""));
}

TEST_P(SvcctlArgsTest, RetryUnknownTargetFails) {
  ApplyManifest();
  const CommandResult result = Svcctl({"-n", "eval", "retry", "sd/qwen", "--target", "nosuch"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.out, "");
  EXPECT_THAT(result.err, HasSubstr("no target \"nosuch\""));
  EXPECT_THAT(result.err, HasSubstr("error: target: "));
}

SVCD_E2E_INSTANTIATE(SvcctlArgsTest);

}  // namespace
}  // namespace svcd::e2e
