// Deletion through the REST API of a real svcd: objects still referenced,
// unused objects, and deploys held by their finalizer.

#include <chrono>
#include <thread>

#include "tests/e2e/e2e_fixture.h"

namespace svcd::e2e {
namespace {

using ::testing::HasSubstr;

class ApiDeleteTest : public E2eTest {
 protected:
  void SetUp() override {
    E2eTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    const HttpReply reply =
        Apply(YamlStream({HostYaml("gpu-01"), HostYaml("gpu-02"), TemplateYaml("vllm"),
                          TemplateYaml("unused"), DeployYaml("qwen", "eval", "vllm", "gpu-01")}));
    ASSERT_EQ(reply.status, 200) << reply.Describe();
  }

  static std::string DeployPath() {
    return std::string(kApiPrefix) + "/namespaces/eval/servicedeploys/qwen";
  }
};

TEST_P(ApiDeleteTest, HostInUseConflicts) {
  const HttpReply reply = Http("DELETE", std::string(kApiPrefix) + "/hosts/gpu-01");
  EXPECT_EQ(reply.status, 409) << reply.Describe();
  EXPECT_EQ(reply.Json()["reason"], "Conflict");
  EXPECT_THAT(reply.Json().value("message", ""), HasSubstr("eval/qwen"));
  EXPECT_FALSE(Stored("/hosts/gpu-01").is_discarded());
}

TEST_P(ApiDeleteTest, TemplateInUseConflicts) {
  const HttpReply reply = Http("DELETE", std::string(kApiPrefix) + "/servicetemplates/vllm");
  EXPECT_EQ(reply.status, 409) << reply.Describe();
  EXPECT_THAT(reply.Json().value("message", ""), HasSubstr("eval/qwen"));
  EXPECT_FALSE(Stored("/servicetemplates/vllm").is_discarded());
}

TEST_P(ApiDeleteTest, UnusedObjectsAreDeleted) {
  const HttpReply host = Http("DELETE", std::string(kApiPrefix) + "/hosts/gpu-02");
  EXPECT_EQ(host.status, 200) << host.Describe();
  EXPECT_EQ(host.Json()["metadata"]["name"], "gpu-02");
  EXPECT_EQ(Http("GET", std::string(kApiPrefix) + "/hosts/gpu-02").status, 404);

  const HttpReply tmpl = Http("DELETE", std::string(kApiPrefix) + "/servicetemplates/unused");
  EXPECT_EQ(tmpl.status, 200) << tmpl.Describe();
  EXPECT_EQ(Http("GET", std::string(kApiPrefix) + "/servicetemplates/unused").status, 404);

  const std::vector<AuditRow> audit = AuditRows("gpu-02");
  ASSERT_EQ(audit.size(), 2u);
  EXPECT_EQ(audit[1].operation, "DELETE");

  const HttpReply again = Http("DELETE", std::string(kApiPrefix) + "/hosts/gpu-02");
  EXPECT_EQ(again.status, 404) << again.Describe();
}

TEST_P(ApiDeleteTest, DeployDeleteGoesThroughTerminating) {
  const HttpReply deleting = Http("DELETE", DeployPath());
  ASSERT_EQ(deleting.status, 202) << deleting.Describe();
  const nlohmann::json body = deleting.Json();
  EXPECT_FALSE(body["metadata"].value("deletionTimestamp", "").empty());
  EXPECT_THAT(body["metadata"]["finalizers"], ::testing::Contains("svcd.io/stop-targets"));

  // NOTE: svcd's controller removes the finalizer as soon as no target
  // runs, so a read may already find the deploy gone. While it is readable
  // it shows the deletionTimestamp.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    const HttpReply read = Http("GET", DeployPath());
    status = read.status;
    if (status != 200) break;
    EXPECT_FALSE(read.Json()["metadata"].value("deletionTimestamp", "").empty()) << read.body;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(status, 404) << "the finalizer was not removed within 30 s";
}

TEST_P(ApiDeleteTest, ForceDeleteRecordsWarning) {
  const std::string uid = Stored("/namespaces/eval/servicedeploys/qwen")["metadata"]["uid"];
  const HttpReply forced = Http("DELETE", DeployPath() + "?force=true");
  EXPECT_EQ(forced.status, 200) << forced.Describe();
  EXPECT_EQ(Http("GET", DeployPath()).status, 404);

  const HttpReply events =
      Http("GET", std::string(kApiPrefix) + "/namespaces/eval/events?uid=" + uid);
  ASSERT_EQ(events.status, 200) << events.Describe();
  bool warned = false;
  const nlohmann::json body = events.Json();
  for (const auto& event : body["items"]) {
    if (event.value("type", "") == "Warning" && event.value("reason", "") == "ForceDeleted") {
      warned = true;
      EXPECT_EQ(event["object"]["name"], "qwen");
    }
  }
  EXPECT_TRUE(warned) << events.body;
  EXPECT_EQ(Http("DELETE", std::string(kApiPrefix) + "/hosts/gpu-01").status, 200);

  // The name is free again, for a new object with a new uid.
  ASSERT_EQ(Apply(HostYaml("gpu-01")).status, 200);
  const HttpReply recreated = Apply(DeployYaml("qwen", "eval", "vllm", "gpu-01"));
  ASSERT_EQ(recreated.status, 200) << recreated.Describe();
  const nlohmann::json fresh = Stored("/namespaces/eval/servicedeploys/qwen");
  EXPECT_NE(fresh["metadata"]["uid"], uid);
  EXPECT_EQ(fresh["metadata"]["generation"], 1);
}

SVCD_E2E_INSTANTIATE(ApiDeleteTest);

}  // namespace
}  // namespace svcd::e2e
