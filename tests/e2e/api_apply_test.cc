// The batch apply of a real svcd: all-or-nothing validation, dry runs of
// every write and pruning by apply set.

#include "tests/e2e/e2e_fixture.h"

namespace svcd::e2e {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

class ApiApplyTest : public E2eTest {
 protected:
  // Returns "name=action" for every result of an apply reply.
  static std::vector<std::string> Actions(const HttpReply& reply) {
    std::vector<std::string> actions;
    const nlohmann::json body = reply.Json();
    for (const auto& result : body["results"]) {
      actions.push_back(result.value("name", "") + "=" + result.value("action", ""));
    }
    return actions;
  }

  bool Exists(const std::string& path) const {
    return Http("GET", std::string(kApiPrefix) + path).status == 200;
  }
};

TEST_P(ApiApplyTest, BadObjectInBatchWritesNothing) {
  const HttpReply reply = Apply(YamlStream({
      HostYaml("gpu-01"),
      TemplateYaml("vllm"),
      DeployYaml("qwen", "eval", "vllm", "gpu-01"),
      // The one bad object: its master runs on a Host that does not exist.
      DeployYaml("llama", "eval", "vllm", "gpu-99"),
  }));
  ASSERT_EQ(reply.status, 422) << reply.Describe();
  const nlohmann::json status = reply.Json();
  EXPECT_EQ(status["reason"], "Invalid");
  EXPECT_THAT(CauseFields(status), UnorderedElementsAre(HasSubstr("spec.master.host")));
  EXPECT_THAT(status.dump(), HasSubstr("llama"));

  EXPECT_FALSE(Exists("/hosts/gpu-01"));
  EXPECT_FALSE(Exists("/servicetemplates/vllm"));
  EXPECT_FALSE(Exists("/namespaces/eval/servicedeploys/qwen"));
  EXPECT_THAT(AuditRows("gpu-01"), IsEmpty());
  EXPECT_THAT(AuditRows("qwen"), IsEmpty());
}

TEST_P(ApiApplyTest, ReferenceFailuresAreAllListed) {
  const HttpReply reply = Apply(YamlStream({
      HostYaml("gpu-01"),
      TemplateYaml("vllm"),
      DeployYaml("no-host", "eval", "vllm", "gpu-99"),
      DeployYaml("no-template", "eval", "vllm-9", "gpu-01"),
  }));
  ASSERT_EQ(reply.status, 422) << reply.Describe();
  const std::vector<std::string> fields = CauseFields(reply.Json());
  EXPECT_THAT(fields, Contains(AllOf(HasSubstr("no-host"), HasSubstr("spec.master.host"))));
  EXPECT_THAT(fields, Contains(AllOf(HasSubstr("no-template"), HasSubstr("spec.templateRef"))));
  EXPECT_FALSE(Exists("/hosts/gpu-01"));
  EXPECT_FALSE(Exists("/servicetemplates/vllm"));
}

TEST_P(ApiApplyTest, DecodeFailuresAreAllListed) {
  const HttpReply reply = Apply(YamlStream({
      HostYaml("gpu-01"),
      HostYaml("gpu-02") + "  sshPort: 70000\n",
      DeployYaml("reserved-env", "eval", "vllm", "gpu-01",
                 "envs:\n  - {name: SVCD_ROLE, value: x}\n"),
  }));
  ASSERT_EQ(reply.status, 422) << reply.Describe();
  const std::vector<std::string> fields = CauseFields(reply.Json());
  EXPECT_THAT(fields, Contains(HasSubstr("spec.sshPort")));
  EXPECT_THAT(fields, Contains(HasSubstr("spec.envs[0].name")));
  EXPECT_THAT(reply.body, HasSubstr("SVCD_ROLE"));
  EXPECT_FALSE(Exists("/hosts/gpu-01"));
}

TEST_P(ApiApplyTest, DryRunApplyWritesNothing) {
  const HttpReply reply = Apply(YamlStream({HostYaml("gpu-01"), TemplateYaml("vllm"),
                                            DeployYaml("qwen", "eval", "vllm", "gpu-01")}),
                                "dryRun=All");
  ASSERT_EQ(reply.status, 200) << reply.Describe();
  EXPECT_EQ(reply.Json()["dryRun"], true);
  EXPECT_THAT(Actions(reply),
              UnorderedElementsAre("gpu-01=created", "vllm=created", "qwen=created"));
  EXPECT_FALSE(Exists("/hosts/gpu-01"));
  EXPECT_FALSE(Exists("/servicetemplates/vllm"));
  EXPECT_FALSE(Exists("/namespaces/eval/servicedeploys/qwen"));
  EXPECT_THAT(AuditRows("gpu-01"), IsEmpty());
  EXPECT_THAT(AuditRows("qwen"), IsEmpty());
}

TEST_P(ApiApplyTest, DryRunPostPutDeleteWriteNothing) {
  const HttpReply post =
      Http("POST", std::string(kApiPrefix) + "/hosts?dryRun=All", HostYaml("gpu-01", "{room: a3}"));
  EXPECT_EQ(post.status, 201) << post.Describe();
  EXPECT_EQ(post.Json()["metadata"]["name"], "gpu-01");
  EXPECT_FALSE(Exists("/hosts/gpu-01"));

  ASSERT_EQ(Apply(HostYaml("gpu-01", "{room: a3}")).status, 200);
  const nlohmann::json before = Stored("/hosts/gpu-01");

  const HttpReply put = Http("PUT", std::string(kApiPrefix) + "/hosts/gpu-01?dryRun=All",
                             HostYaml("gpu-01", "{room: b1}"));
  EXPECT_EQ(put.status, 200) << put.Describe();
  EXPECT_EQ(put.Json()["metadata"]["labels"]["room"], "b1");
  const nlohmann::json after_put = Stored("/hosts/gpu-01");
  EXPECT_EQ(after_put["metadata"]["labels"]["room"], "a3");
  EXPECT_EQ(after_put["metadata"]["resourceVersion"], before["metadata"]["resourceVersion"]);

  const HttpReply del = Http("DELETE", std::string(kApiPrefix) + "/hosts/gpu-01?dryRun=All");
  EXPECT_EQ(del.status, 200) << del.Describe();
  EXPECT_TRUE(Exists("/hosts/gpu-01"));

  ASSERT_EQ(Apply(YamlStream({TemplateYaml("vllm"), DeployYaml("qwen", "eval", "vllm", "gpu-01")}))
                .status,
            200);
  const HttpReply del_deploy =
      Http("DELETE", std::string(kApiPrefix) + "/namespaces/eval/servicedeploys/qwen?dryRun=All");
  EXPECT_TRUE(del_deploy.status == 200 || del_deploy.status == 202) << del_deploy.Describe();
  const nlohmann::json deploy = Stored("/namespaces/eval/servicedeploys/qwen");
  ASSERT_FALSE(deploy.is_discarded());
  EXPECT_FALSE(deploy["metadata"].contains("deletionTimestamp")) << deploy.dump();

  // Only INSERT rows: no dry run left an audit row behind.
  const std::vector<AuditRow> audit = AuditRows("gpu-01");
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].operation, "INSERT");
  EXPECT_EQ(AuditRows("qwen").size(), 1u);

  const HttpReply bad = Http("DELETE", std::string(kApiPrefix) + "/hosts/gpu-01?dryRun=true");
  EXPECT_EQ(bad.status, 400) << bad.Describe();
  EXPECT_TRUE(Exists("/hosts/gpu-01"));
}

TEST_P(ApiApplyTest, PruneRemovesOnlyOwnSetMembers) {
  ASSERT_EQ(Apply(YamlStream({HostYaml("a-1", "{team: x}"), HostYaml("a-2", "{team: x}")}),
                  "applyset=set-a")
                .status,
            200);
  ASSERT_EQ(Apply(HostYaml("b-1", "{team: x}"), "applyset=set-b").status, 200);

  // A dry run reports what would go and removes nothing.
  const HttpReply preview =
      Apply(HostYaml("a-1", "{team: x}"), "applyset=set-a&prune=true&dryRun=All");
  ASSERT_EQ(preview.status, 200) << preview.Describe();
  EXPECT_THAT(Actions(preview), UnorderedElementsAre("a-1=unchanged", "a-2=pruned"));
  EXPECT_TRUE(Exists("/hosts/a-2"));

  const HttpReply pruned = Apply(HostYaml("a-1", "{team: x}"), "applyset=set-a&prune=true");
  ASSERT_EQ(pruned.status, 200) << pruned.Describe();
  EXPECT_THAT(Actions(pruned), UnorderedElementsAre("a-1=unchanged", "a-2=pruned"));
  EXPECT_TRUE(Exists("/hosts/a-1"));
  EXPECT_FALSE(Exists("/hosts/a-2"));
  // The other set's object has the same labels and stays.
  EXPECT_TRUE(Exists("/hosts/b-1"));

  const std::vector<AuditRow> audit = AuditRows("a-2");
  ASSERT_EQ(audit.size(), 2u);
  EXPECT_EQ(audit[1].operation, "DELETE");
}

TEST_P(ApiApplyTest, PruneOfEmptySetIsRejected) {
  ASSERT_EQ(Apply(HostYaml("a-1"), "applyset=set-a").status, 200);

  const HttpReply empty = Http("POST", std::string(kApiPrefix) + "/apply?applyset=set-a&prune=true",
                               R"({"apiVersion": "v1", "kind": "List", "items": []})",
                               RequestOptions().WithContentType("application/json"));
  EXPECT_EQ(empty.status, 422) << empty.Describe();
  EXPECT_EQ(empty.Json()["reason"], "Invalid");
  EXPECT_TRUE(Exists("/hosts/a-1"));

  const HttpReply no_set = Apply(HostYaml("a-1"), "prune=true");
  EXPECT_EQ(no_set.status, 422) << no_set.Describe();
  EXPECT_THAT(CauseFields(no_set.Json()), Contains("applyset"));
}

TEST_P(ApiApplyTest, PruneKeepsHostStillInUse) {
  ASSERT_EQ(Apply(YamlStream({HostYaml("gpu-01"), HostYaml("gpu-02"), TemplateYaml("vllm")}),
                  "applyset=infra")
                .status,
            200);
  ASSERT_EQ(Apply(DeployYaml("qwen", "eval", "vllm", "gpu-02")).status, 200);

  const HttpReply reply =
      Apply(YamlStream({HostYaml("gpu-01"), TemplateYaml("vllm")}), "applyset=infra&prune=true");
  EXPECT_EQ(reply.status, 409) << reply.Describe();
  EXPECT_THAT(reply.body, HasSubstr("qwen"));
  EXPECT_TRUE(Exists("/hosts/gpu-02"));
}

SVCD_E2E_INSTANTIATE(ApiApplyTest);

}  // namespace
}  // namespace svcd::e2e
