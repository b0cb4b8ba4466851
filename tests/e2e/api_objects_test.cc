// Object reads and writes through the REST API of a real svcd: create, get,
// list with label selectors, conflicts and the apply comparison rules.

#include "tests/e2e/e2e_fixture.h"

namespace svcd::e2e {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class ApiObjectsTest : public E2eTest {
 protected:
  // Applies a template, a Host and a deploy in namespace eval using them.
  void ApplyDeploy(const std::string& extra_spec = "", const std::string& labels = "{}") {
    const HttpReply reply =
        Apply(YamlStream({TemplateYaml("vllm"), HostYaml("gpu-01"),
                          DeployYaml("qwen", "eval", "vllm", "gpu-01", extra_spec, labels)}));
    ASSERT_EQ(reply.status, 200) << reply.Describe();
  }

  // Returns the action apply reported for the object named `name`.
  static std::string ActionOf(const HttpReply& reply, const std::string& name) {
    const nlohmann::json body = reply.Json();
    for (const auto& result : body["results"]) {
      if (result.value("name", "") == name) return result.value("action", "");
    }
    return "<missing>";
  }
};

TEST_P(ApiObjectsTest, CreateThenGetHost) {
  const HttpReply created =
      Http("POST", std::string(kApiPrefix) + "/hosts", HostYaml("gpu-01", "{room: a3}"));
  ASSERT_EQ(created.status, 201) << created.Describe();
  const nlohmann::json body = created.Json();
  EXPECT_EQ(body["kind"], "Host");
  EXPECT_EQ(body["metadata"]["name"], "gpu-01");
  EXPECT_EQ(body["metadata"]["generation"], 1);
  EXPECT_FALSE(body["metadata"].value("uid", "").empty());
  EXPECT_FALSE(body["metadata"].value("resourceVersion", "").empty());
  EXPECT_FALSE(body["metadata"].value("creationTimestamp", "").empty());
  // Defaulting: a non-loopback address selects the powerjob executor.
  EXPECT_EQ(body["spec"]["executor"], "powerjob");

  const nlohmann::json stored = Stored("/hosts/gpu-01");
  ASSERT_FALSE(stored.is_discarded());
  EXPECT_EQ(stored["metadata"]["uid"], body["metadata"]["uid"]);
  EXPECT_EQ(stored["metadata"]["resourceVersion"], body["metadata"]["resourceVersion"]);
  EXPECT_EQ(stored["metadata"]["labels"]["room"], "a3");
  EXPECT_EQ(stored["spec"]["address"], "192.0.2.11");

  const HttpReply again =
      Http("POST", std::string(kApiPrefix) + "/hosts", HostYaml("gpu-01", "{room: b1}"));
  EXPECT_EQ(again.status, 409) << again.Describe();
  EXPECT_EQ(again.Json()["reason"], "AlreadyExists");
  EXPECT_EQ(Stored("/hosts/gpu-01")["metadata"]["labels"]["room"], "a3");

  const HttpReply missing = Http("GET", std::string(kApiPrefix) + "/hosts/gpu-09");
  EXPECT_EQ(missing.status, 404) << missing.Describe();
  EXPECT_EQ(missing.Json()["kind"], "Status");
  EXPECT_THAT(missing.Json().value("message", ""), HasSubstr("gpu-09"));

  const std::vector<AuditRow> audit = AuditRows("gpu-01");
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].operation, "INSERT");
}

TEST_P(ApiObjectsTest, ListFiltersByLabelSelector) {
  const HttpReply applied = Apply(YamlStream({
      HostYaml("h-a", "{env: prod, tier: gpu}"),
      HostYaml("h-b", "{env: dev, tier: gpu}"),
      HostYaml("h-c", "{env: prod}"),
      HostYaml("h-d", "{}"),
  }));
  ASSERT_EQ(applied.status, 200) << applied.Describe();

  auto list = [&](const std::string& selector) {
    const HttpReply reply =
        Http("GET", std::string(kApiPrefix) + "/hosts?labelSelector=" + UrlEncode(selector));
    EXPECT_EQ(reply.status, 200) << selector << ": " << reply.Describe();
    EXPECT_EQ(reply.Json().value("kind", ""), "HostList");
    return ItemNames(reply.Json());
  };
  EXPECT_THAT(list(""), ElementsAre("h-a", "h-b", "h-c", "h-d"));
  EXPECT_THAT(list("env=prod"), ElementsAre("h-a", "h-c"));
  EXPECT_THAT(list("env!=prod"), ElementsAre("h-b", "h-d"));
  EXPECT_THAT(list("env in (dev,prod)"), ElementsAre("h-a", "h-b", "h-c"));
  EXPECT_THAT(list("!tier"), ElementsAre("h-c", "h-d"));
  EXPECT_THAT(list("env=prod,tier=gpu"), ElementsAre("h-a"));
  EXPECT_THAT(list("env=staging"), IsEmpty());

  const HttpReply invalid =
      Http("GET", std::string(kApiPrefix) + "/hosts?labelSelector=" + UrlEncode("env in prod"));
  EXPECT_EQ(invalid.status, 400) << invalid.Describe();
  EXPECT_EQ(invalid.Json()["reason"], "BadRequest");
}

TEST_P(ApiObjectsTest, ListsDeploysPerNamespaceAndAcrossAll) {
  const HttpReply applied = Apply(YamlStream({
      TemplateYaml("vllm"),
      HostYaml("gpu-01"),
      DeployYaml("a", "eval", "vllm", "gpu-01", "", "{team: perf}"),
      DeployYaml("b", "prod", "vllm", "gpu-01", "", "{team: perf}"),
      DeployYaml("c", "eval", "vllm", "gpu-01", "", "{team: infra}"),
  }));
  ASSERT_EQ(applied.status, 200) << applied.Describe();

  const HttpReply eval = Http("GET", std::string(kApiPrefix) + "/namespaces/eval/servicedeploys");
  ASSERT_EQ(eval.status, 200) << eval.Describe();
  EXPECT_THAT(ItemNames(eval.Json()), ElementsAre("a", "c"));

  const HttpReply all = Http(
      "GET", std::string(kApiPrefix) + "/servicedeploys?labelSelector=" + UrlEncode("team=perf"));
  ASSERT_EQ(all.status, 200) << all.Describe();
  EXPECT_THAT(ItemNames(all.Json()), ElementsAre("a", "b"));
}

TEST_P(ApiObjectsTest, PathMustMatchObject) {
  ASSERT_EQ(Apply(YamlStream({TemplateYaml("vllm"), HostYaml("gpu-01")})).status, 200);
  const std::string deploys = std::string(kApiPrefix) + "/namespaces/";

  // The namespace of the path is checked like the one in a manifest.
  const HttpReply bad_namespace =
      Http("POST", deploys + "Bad_NS/servicedeploys", DeployYaml("qwen", "", "vllm", "gpu-01"));
  EXPECT_EQ(bad_namespace.status, 422) << bad_namespace.Describe();
  EXPECT_THAT(CauseFields(bad_namespace.Json()), ElementsAre("metadata.namespace"));
  const HttpReply all = Http("GET", std::string(kApiPrefix) + "/servicedeploys");
  EXPECT_EQ(all.status, 200) << all.Describe();
  EXPECT_THAT(ItemNames(all.Json()), IsEmpty());

  const HttpReply other_namespace =
      Http("POST", deploys + "prod/servicedeploys", DeployYaml("qwen", "eval", "vllm", "gpu-01"));
  EXPECT_EQ(other_namespace.status, 422) << other_namespace.Describe();
  EXPECT_THAT(CauseFields(other_namespace.Json()), ElementsAre("metadata.namespace"));

  const HttpReply other_name =
      Http("PUT", std::string(kApiPrefix) + "/hosts/gpu-02", HostYaml("gpu-01", "{room: x}"));
  EXPECT_EQ(other_name.status, 422) << other_name.Describe();
  EXPECT_THAT(CauseFields(other_name.Json()), ElementsAre("metadata.name"));

  const HttpReply other_kind =
      Http("POST", std::string(kApiPrefix) + "/hosts", TemplateYaml("vllm-2"));
  EXPECT_EQ(other_kind.status, 422) << other_kind.Describe();
  EXPECT_EQ(Http("GET", std::string(kApiPrefix) + "/servicetemplates/vllm-2").status, 404);

  const HttpReply two = Http("POST", std::string(kApiPrefix) + "/hosts",
                             YamlStream({HostYaml("gpu-03"), HostYaml("gpu-04")}));
  EXPECT_EQ(two.status, 422) << two.Describe();
  EXPECT_EQ(Http("GET", std::string(kApiPrefix) + "/hosts/gpu-03").status, 404);

  const HttpReply missing =
      Http("PUT", std::string(kApiPrefix) + "/hosts/gpu-09", HostYaml("gpu-09"));
  EXPECT_EQ(missing.status, 404) << missing.Describe();
}

TEST_P(ApiObjectsTest, StaleResourceVersionConflicts) {
  const HttpReply created =
      Http("POST", std::string(kApiPrefix) + "/hosts", HostYaml("gpu-01", "{room: a3}"));
  ASSERT_EQ(created.status, 201) << created.Describe();
  const std::string first_version = created.Json()["metadata"]["resourceVersion"];

  nlohmann::json update = created.Json();
  update["metadata"]["labels"]["room"] = "b1";
  const HttpReply updated = Http("PUT", std::string(kApiPrefix) + "/hosts/gpu-01", update.dump(),
                                 RequestOptions().WithContentType("application/json"));
  ASSERT_EQ(updated.status, 200) << updated.Describe();
  const std::string second_version = updated.Json()["metadata"]["resourceVersion"];
  EXPECT_NE(second_version, first_version);

  // A write that carries the first version lost the race and is rejected.
  nlohmann::json stale = created.Json();
  stale["metadata"]["labels"]["room"] = "c7";
  const HttpReply conflict = Http("PUT", std::string(kApiPrefix) + "/hosts/gpu-01", stale.dump(),
                                  RequestOptions().WithContentType("application/json"));
  EXPECT_EQ(conflict.status, 409) << conflict.Describe();
  EXPECT_EQ(conflict.Json()["reason"], "Conflict");
  EXPECT_THAT(CauseFields(conflict.Json()), ElementsAre(HasSubstr("metadata.resourceVersion")));

  const HttpReply stale_apply = Apply(stale.dump());
  EXPECT_EQ(stale_apply.status, 409) << stale_apply.Describe();

  const nlohmann::json stored = Stored("/hosts/gpu-01");
  EXPECT_EQ(stored["metadata"]["labels"]["room"], "b1");
  EXPECT_EQ(stored["metadata"]["resourceVersion"], second_version);
}

TEST_P(ApiObjectsTest, ReapplyUnchangedKeepsVersions) {
  ApplyDeploy();
  const nlohmann::json before = Stored("/namespaces/eval/servicedeploys/qwen");
  ASSERT_FALSE(before.is_discarded());

  const HttpReply again = Apply(YamlStream(
      {TemplateYaml("vllm"), HostYaml("gpu-01"), DeployYaml("qwen", "eval", "vllm", "gpu-01")}));
  ASSERT_EQ(again.status, 200) << again.Describe();
  EXPECT_EQ(ActionOf(again, "qwen"), "unchanged");
  EXPECT_EQ(ActionOf(again, "gpu-01"), "unchanged");
  EXPECT_EQ(ActionOf(again, "vllm"), "unchanged");

  const nlohmann::json after = Stored("/namespaces/eval/servicedeploys/qwen");
  EXPECT_EQ(after["metadata"]["generation"], before["metadata"]["generation"]);
  EXPECT_EQ(after["metadata"]["resourceVersion"], before["metadata"]["resourceVersion"]);
  // An unchanged apply writes no audit row.
  EXPECT_EQ(AuditRows("qwen").size(), 1u);
}

TEST_P(ApiObjectsTest, EnvReorderIsUnchanged) {
  ApplyDeploy("envs:\n  - {name: A_FIRST, value: \"1\"}\n  - {name: B_SECOND, value: \"2\"}\n");
  const nlohmann::json before = Stored("/namespaces/eval/servicedeploys/qwen");

  const HttpReply reordered = Apply(
      DeployYaml("qwen", "eval", "vllm", "gpu-01",
                 "envs:\n  - {name: B_SECOND, value: \"2\"}\n  - {name: A_FIRST, value: \"1\"}\n"));
  ASSERT_EQ(reordered.status, 200) << reordered.Describe();
  EXPECT_EQ(ActionOf(reordered, "qwen"), "unchanged");
  const nlohmann::json after = Stored("/namespaces/eval/servicedeploys/qwen");
  EXPECT_EQ(after["metadata"]["generation"], before["metadata"]["generation"]);
  EXPECT_EQ(after["metadata"]["resourceVersion"], before["metadata"]["resourceVersion"]);

  // A changed value is a spec change.
  const HttpReply changed = Apply(
      DeployYaml("qwen", "eval", "vllm", "gpu-01",
                 "envs:\n  - {name: B_SECOND, value: \"3\"}\n  - {name: A_FIRST, value: \"1\"}\n"));
  ASSERT_EQ(changed.status, 200) << changed.Describe();
  EXPECT_EQ(ActionOf(changed, "qwen"), "configured");
  EXPECT_EQ(Stored("/namespaces/eval/servicedeploys/qwen")["metadata"]["generation"], 2);
}

TEST_P(ApiObjectsTest, LabelChangeKeepsGeneration) {
  ApplyDeploy("", "{team: perf}");
  const nlohmann::json before = Stored("/namespaces/eval/servicedeploys/qwen");

  const HttpReply relabeled =
      Apply(DeployYaml("qwen", "eval", "vllm", "gpu-01", "", "{team: infra}"));
  ASSERT_EQ(relabeled.status, 200) << relabeled.Describe();
  EXPECT_EQ(ActionOf(relabeled, "qwen"), "configured");

  const nlohmann::json after = Stored("/namespaces/eval/servicedeploys/qwen");
  EXPECT_EQ(after["metadata"]["labels"]["team"], "infra");
  EXPECT_EQ(after["metadata"]["generation"], before["metadata"]["generation"]);
  EXPECT_NE(after["metadata"]["resourceVersion"], before["metadata"]["resourceVersion"]);
}

TEST_P(ApiObjectsTest, DroppedFieldReturnsToDefault) {
  ApplyDeploy("startupPolicy: Parallel\nworkerStaggerSeconds: 9\n");
  const nlohmann::json before = Stored("/namespaces/eval/servicedeploys/qwen");
  ASSERT_EQ(before["spec"]["startupPolicy"], "Parallel");

  const HttpReply dropped = Apply(DeployYaml("qwen", "eval", "vllm", "gpu-01"));
  ASSERT_EQ(dropped.status, 200) << dropped.Describe();
  EXPECT_EQ(ActionOf(dropped, "qwen"), "configured");

  const nlohmann::json after = Stored("/namespaces/eval/servicedeploys/qwen");
  EXPECT_EQ(after["spec"]["startupPolicy"], "MasterStarted");
  EXPECT_FALSE(after["spec"].contains("workerStaggerSeconds") &&
               after["spec"]["workerStaggerSeconds"] == 9)
      << after["spec"].dump();
  EXPECT_EQ(after["metadata"]["generation"], 2);
}

TEST_P(ApiObjectsTest, MissingReferencesAreInvalid) {
  ASSERT_EQ(Apply(TemplateYaml("vllm")).status, 200);

  const HttpReply no_host =
      Http("POST", std::string(kApiPrefix) + "/namespaces/eval/servicedeploys",
           DeployYaml("qwen", "eval", "vllm", "gpu-07"));
  EXPECT_EQ(no_host.status, 422) << no_host.Describe();
  EXPECT_THAT(CauseFields(no_host.Json()), ElementsAre(HasSubstr("spec.master.host")));
  EXPECT_THAT(no_host.body, HasSubstr("gpu-07"));

  ASSERT_EQ(Apply(HostYaml("gpu-01")).status, 200);
  const HttpReply no_template = Apply(DeployYaml("qwen", "eval", "vllm-9", "gpu-01"));
  EXPECT_EQ(no_template.status, 422) << no_template.Describe();
  EXPECT_THAT(CauseFields(no_template.Json()), ElementsAre(HasSubstr("spec.templateRef")));
  EXPECT_THAT(no_template.body, HasSubstr("vllm-9"));

  EXPECT_EQ(Http("GET", std::string(kApiPrefix) + "/namespaces/eval/servicedeploys/qwen").status,
            404);
  EXPECT_THAT(AuditRows("qwen"), IsEmpty());
}

SVCD_E2E_INSTANTIATE(ApiObjectsTest);

}  // namespace
}  // namespace svcd::e2e
