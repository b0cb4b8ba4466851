// Bearer tokens, roles and the legacy deploy request against a real svcd
// started with --token-file.

#include "tests/e2e/e2e_fixture.h"

namespace svcd::e2e {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kAdminToken[] = "admin-token-0f3a9c";
constexpr char kEditorToken[] = "editor-token-77b2e1";
constexpr char kViewerToken[] = "viewer-token-5d0c48";

class ApiAuthTest : public E2eTest {
 protected:
  void ConfigureServer(SvcdOptions& options) override {
    options.token_file = WriteTempFile("tokens.csv",
                                       "# token,user,role\n"
                                       "admin-token-0f3a9c,alice,admin\n"
                                       "editor-token-77b2e1, erin ,editor\n"
                                       "viewer-token-5d0c48,victor,viewer\n");
  }

  void SetUp() override {
    E2eTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    token_ = kAdminToken;
    const HttpReply reply =
        Apply(YamlStream({HostYaml("gpu-01"), HostYaml("gpu-02"), TemplateYaml("vllm")}));
    ASSERT_EQ(reply.status, 200) << reply.Describe();
  }

  HttpReply As(const char* token, const std::string& method, const std::string& path,
               std::string_view body = {}, const std::string& type = "application/yaml") const {
    return Http(method, path, body, RequestOptions().WithContentType(type).WithToken(token));
  }

  static std::string DeploysPath() {
    return std::string(kApiPrefix) + "/namespaces/eval/servicedeploys";
  }
};

// The legacy request of a deploy named qwen-tp2 with one worker.
std::string LegacyBody(const std::string& extra = "") {
  return R"({"name": "qwen-tp2", "namespace": "eval", "templateName": "vllm",
             "modelName": "qwen2-7b", "masterHost": "gpu-01", "workerHosts": ["gpu-02"],
             "envs": [{"name": "CUDA_VISIBLE_DEVICES", "value": "0,1"}],
             "runcommand": {"masterArgs": [{"name": "model", "value": "/mnt/m"}],
                            "workerArgs0": [{"name": "model", "value": "/mnt/m"}])" +
         extra + "}}";
}

TEST_P(ApiAuthTest, ViewerReadsButCannotWrite) {
  const HttpReply read = As(kViewerToken, "GET", std::string(kApiPrefix) + "/hosts");
  EXPECT_EQ(read.status, 200) << read.Describe();
  EXPECT_THAT(ItemNames(read.Json()), ElementsAre("gpu-01", "gpu-02"));

  const HttpReply host =
      As(kViewerToken, "POST", std::string(kApiPrefix) + "/hosts", HostYaml("gpu-03"));
  EXPECT_EQ(host.status, 403) << host.Describe();
  EXPECT_EQ(host.Json()["reason"], "Forbidden");
  const HttpReply deploy =
      As(kViewerToken, "POST", DeploysPath(), DeployYaml("qwen", "eval", "vllm", "gpu-01"));
  EXPECT_EQ(deploy.status, 403) << deploy.Describe();
  const HttpReply apply = As(kViewerToken, "POST", std::string(kApiPrefix) + "/apply",
                             DeployYaml("qwen", "eval", "vllm", "gpu-01"));
  EXPECT_EQ(apply.status, 403) << apply.Describe();
  const HttpReply del = As(kViewerToken, "DELETE", std::string(kApiPrefix) + "/hosts/gpu-02");
  EXPECT_EQ(del.status, 403) << del.Describe();

  EXPECT_EQ(Http("GET", std::string(kApiPrefix) + "/hosts/gpu-03").status, 404);
  EXPECT_EQ(Http("GET", DeploysPath() + "/qwen").status, 404);
  EXPECT_EQ(Http("GET", std::string(kApiPrefix) + "/hosts/gpu-02").status, 200);
}

TEST_P(ApiAuthTest, EditorWritesDeploysButNotHostsOrTemplates) {
  const HttpReply deploy =
      As(kEditorToken, "POST", DeploysPath(), DeployYaml("qwen", "eval", "vllm", "gpu-01"));
  EXPECT_EQ(deploy.status, 201) << deploy.Describe();

  const HttpReply host =
      As(kEditorToken, "POST", std::string(kApiPrefix) + "/hosts", HostYaml("gpu-03"));
  EXPECT_EQ(host.status, 403) << host.Describe();
  const HttpReply tmpl = As(kEditorToken, "PUT", std::string(kApiPrefix) + "/servicetemplates/vllm",
                            TemplateYaml("vllm"));
  EXPECT_EQ(tmpl.status, 403) << tmpl.Describe();

  // A batch that contains one Host is rejected whole, deploys included.
  const HttpReply mixed =
      As(kEditorToken, "POST", std::string(kApiPrefix) + "/apply",
         YamlStream({HostYaml("gpu-03"), DeployYaml("llama", "eval", "vllm", "gpu-01")}));
  EXPECT_EQ(mixed.status, 403) << mixed.Describe();
  EXPECT_THAT(mixed.body, HasSubstr("gpu-03"));
  EXPECT_EQ(Http("GET", DeploysPath() + "/llama").status, 404);
  EXPECT_EQ(Http("GET", std::string(kApiPrefix) + "/hosts/gpu-03").status, 404);

  const HttpReply del = As(kEditorToken, "DELETE", std::string(kApiPrefix) + "/hosts/gpu-02");
  EXPECT_EQ(del.status, 403) << del.Describe();
  EXPECT_EQ(Http("GET", std::string(kApiPrefix) + "/hosts/gpu-02").status, 200);
}

TEST_P(ApiAuthTest, EditorMayNotSetLdEnv) {
  const HttpReply reply = As(kEditorToken, "POST", std::string(kApiPrefix) + "/apply",
                             DeployYaml("qwen", "eval", "vllm", "gpu-01",
                                        "envs:\n  - {name: LD_PRELOAD, value: /tmp/evil.so}\n"));
  EXPECT_EQ(reply.status, 403) << reply.Describe();
  EXPECT_THAT(CauseFields(reply.Json()), ElementsAre(HasSubstr("spec.envs[0].name")));
  EXPECT_THAT(reply.body, HasSubstr("LD_PRELOAD"));
  EXPECT_EQ(Http("GET", DeploysPath() + "/qwen").status, 404);

  // An admin may.
  const HttpReply admin = Apply(DeployYaml("qwen", "eval", "vllm", "gpu-01",
                                           "envs:\n  - {name: LD_PRELOAD, value: /opt/lib.so}\n"));
  EXPECT_EQ(admin.status, 200) << admin.Describe();
}

TEST_P(ApiAuthTest, MissingOrBadTokenIsUnauthorized) {
  const std::string url = server().base_url() + kApiPrefix + "/hosts";
  const HttpReply none = SendRequest("GET", url, {});
  EXPECT_EQ(none.status, 401) << none.Describe();
  EXPECT_EQ(none.Json()["reason"], "Unauthorized");
  const HttpReply wrong = SendRequest("GET", url, {}, RequestOptions().WithToken("not-a-token"));
  EXPECT_EQ(wrong.status, 401) << wrong.Describe();
  EXPECT_THAT(wrong.body, ::testing::Not(HasSubstr("not-a-token")));
  const HttpReply basic =
      SendRequest("GET", url, {},
                  RequestOptions().WithCurlArgs({"-H", "Authorization: Basic YWRtaW46YWRtaW4="}));
  EXPECT_EQ(basic.status, 401) << basic.Describe();
  const HttpReply write = SendRequest("POST", url, HostYaml("gpu-03"));
  EXPECT_EQ(write.status, 401) << write.Describe();
  EXPECT_EQ(Http("GET", std::string(kApiPrefix) + "/hosts/gpu-03").status, 404);

  EXPECT_EQ(SendRequest("GET", server().base_url() + "/healthz", {}).status, 200);
}

TEST_P(ApiAuthTest, SvcctlSendsTokenAndReportsDenial) {
  const std::string viewer = kViewerToken;
  const CommandResult read = Svcctl({"get", "hosts", "-o", "name"}, {}, &viewer);
  EXPECT_EQ(read.exit_code, 0) << read.err;
  EXPECT_EQ(read.out, "host/gpu-01\nhost/gpu-02\n");

  const CommandResult denied = Svcctl({"apply", "-f", "-"}, HostYaml("gpu-03"), &viewer);
  EXPECT_EQ(denied.exit_code, 1);
  EXPECT_THAT(denied.err, ::testing::StartsWith("error: "));
  EXPECT_EQ(Http("GET", std::string(kApiPrefix) + "/hosts/gpu-03").status, 404);

  const std::string bad = "wrong-token";
  const CommandResult rejected = Svcctl({"get", "hosts"}, {}, &bad);
  EXPECT_EQ(rejected.exit_code, 1);
  EXPECT_THAT(rejected.err, ::testing::StartsWith("error: "));
  EXPECT_THAT(rejected.err, ::testing::Not(HasSubstr(bad)));
}

TEST_P(ApiAuthTest, AuditRowNamesUser) {
  ASSERT_EQ(
      As(kEditorToken, "POST", DeploysPath(), DeployYaml("qwen", "eval", "vllm", "gpu-01")).status,
      201);
  const std::vector<AuditRow> deploy = AuditRows("qwen");
  ASSERT_EQ(deploy.size(), 1u);
  EXPECT_EQ(deploy[0].operation, "INSERT");
  EXPECT_EQ(deploy[0].user, "erin");

  const std::vector<AuditRow> host = AuditRows("gpu-01");
  ASSERT_EQ(host.size(), 1u);
  EXPECT_EQ(host[0].user, "alice");

  ASSERT_EQ(As(kEditorToken, "DELETE", DeploysPath() + "/qwen").status, 202);
  // svcd's controller may add its own rows, so look for erin's delete.
  const std::vector<AuditRow> after = AuditRows("qwen");
  EXPECT_THAT(after,
              ::testing::Contains(::testing::AllOf(::testing::Field(&AuditRow::operation, "DELETE"),
                                                   ::testing::Field(&AuditRow::user, "erin"))));
}

TEST_P(ApiAuthTest, LegacyDeployCreatesThenApplies) {
  const std::string path = "/api/v1/deploys";
  const HttpReply created = As(kEditorToken, "POST", path, LegacyBody(), "application/json");
  ASSERT_EQ(created.status, 201) << created.Describe();
  const nlohmann::json body = created.Json();
  EXPECT_EQ(body["name"], "qwen-tp2");
  EXPECT_EQ(body["namespace"], "eval");
  EXPECT_EQ(body["status"], "PENDING");
  const std::string deploy_id = body.value("deployId", "");
  ASSERT_FALSE(deploy_id.empty());

  const nlohmann::json stored = Stored("/namespaces/eval/servicedeploys/qwen-tp2");
  ASSERT_FALSE(stored.is_discarded());
  EXPECT_EQ(stored["metadata"]["uid"], deploy_id);
  EXPECT_EQ(stored["spec"]["templateRef"], "vllm");
  EXPECT_EQ(stored["spec"]["workers"][0]["host"], "gpu-02");
  EXPECT_EQ(stored["spec"]["envs"][0]["value"], "0,1");

  const HttpReply repeated = As(kEditorToken, "POST", path, LegacyBody(), "application/json");
  EXPECT_EQ(repeated.status, 200) << repeated.Describe();
  EXPECT_EQ(repeated.Json().value("deployId", ""), deploy_id);
  EXPECT_EQ(AuditRows("qwen-tp2")[0].user, "erin");
}

TEST_P(ApiAuthTest, LegacyDeployRejectsBadRequests) {
  const std::string path = "/api/v1/deploys";
  const HttpReply orphan =
      As(kEditorToken, "POST", path,
         LegacyBody(R"(, "workerArgs5": [{"name": "model", "value": "/x"}])"), "application/json");
  EXPECT_EQ(orphan.status, 422) << orphan.Describe();
  EXPECT_THAT(CauseFields(orphan.Json()), ElementsAre(HasSubstr("workerArgs5")));

  std::string no_host = LegacyBody();
  no_host.replace(no_host.find("\"gpu-01\""), 8, "\"gpu-77\"");
  const HttpReply missing = As(kEditorToken, "POST", path, no_host, "application/json");
  EXPECT_EQ(missing.status, 422) << missing.Describe();
  EXPECT_THAT(CauseFields(missing.Json()), ElementsAre(HasSubstr("spec.master.host")));

  const HttpReply viewer = As(kViewerToken, "POST", path, LegacyBody(), "application/json");
  EXPECT_EQ(viewer.status, 403) << viewer.Describe();

  const HttpReply broken = As(kEditorToken, "POST", path, "{\"name\": ", "application/json");
  EXPECT_EQ(broken.status, 400) << broken.Describe();
  EXPECT_THAT(AuditRows("qwen-tp2"), IsEmpty());
}

TEST_P(ApiAuthTest, LegacyDeployNamesFromModel) {
  const HttpReply created = As(kEditorToken, "POST", "/api/v1/deploys",
                               R"({"templateName": "vllm", "modelName": "Qwen2.5-7B/Instruct",
                                   "masterHost": "gpu-01"})",
                               "application/json");
  ASSERT_EQ(created.status, 201) << created.Describe();
  const std::string name = created.Json().value("name", "");
  EXPECT_EQ(name.rfind("qwen2-5-7b-instruct-", 0), 0u) << name;
  EXPECT_EQ(created.Json()["namespace"], "default");
  EXPECT_FALSE(Stored("/namespaces/default/servicedeploys/" + name).is_discarded());
}

SVCD_E2E_INSTANTIATE(ApiAuthTest);

}  // namespace
}  // namespace svcd::e2e
