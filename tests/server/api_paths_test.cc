// Tests of the REST routes' checks on path segments and on query values
// that name something inside an object, over real HTTP on 127.0.0.1 with
// the real handlers and an SQLite store.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "api/document.h"
#include "server/api_handlers.h"
#include "server/archive_handlers.h"
#include "tests/server/http_server_fixture.h"
#include "tests/server/http_test_client.h"

namespace svcd::server::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kPrefix[] = "/apis/svcd.io/v1alpha1";

constexpr char kManifests[] = R"(apiVersion: svcd.io/v1alpha1
kind: Host
metadata: {name: gpu-01}
spec: {address: 192.0.2.11}
---
apiVersion: svcd.io/v1alpha1
kind: ServiceTemplate
metadata: {name: vllm}
spec:
  sceneType: vllm
  fixedPrefix: python3 -m vllm.entrypoints.openai.api_server
---
apiVersion: svcd.io/v1alpha1
kind: ServiceDeploy
metadata: {name: qwen, namespace: eval}
spec:
  templateRef: vllm
  modelName: qwen2-7b
  master: {host: gpu-01}
)";

// Serves the API and archive routes over a fresh SQLite store, with the
// manifests above applied. No controller runs, so the deploy has no
// targets.
class ApiPathsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("api-paths-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    StatusOr<std::unique_ptr<store::Store>> store =
        store::OpenStore("sqlite:" + (dir_ / "svcd.db").string(), "");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();

    Router router;
    ApiHandlers handlers(*store_, {.make_suffix = [] { return std::string("abcde"); }});
    ASSERT_TRUE(handlers.Register(router).ok());
    ArchiveRoutesOptions archive_options;
    archive_options.archiver.data_dir = dir_.string();
    archive_options.retention_interval = std::chrono::milliseconds(0);
    ASSERT_TRUE(RegisterArchiveRoutes(router, *store_, archive_options).ok());
    server_ = std::make_unique<HttpServer>(ListenOn("127.0.0.1:0"), std::move(router), nullptr);
    const Status started = server_->Start();
    ASSERT_TRUE(started.ok()) << started.ToString();

    const HttpResult applied = Send("POST", "/apply", kManifests);
    ASSERT_EQ(applied.status, 200) << applied.body;
  }

  void TearDown() override {
    server_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Sends `method` to kPrefix + `path`. With -g and --path-as-is, curl sends
  // the path as written: no globbing of [] and {}, no removal of dot segments.
  HttpResult Send(const std::string& method, const std::string& path,
                  const std::string& body = "") const {
    std::vector<std::string> args = {"-g", "--path-as-is", "-X", method,
                                     server_->BaseUrl() + kPrefix + path};
    if (!body.empty()) {
      args.insert(args.end(), {"-H", "Content-Type: application/yaml", "--data-binary", body});
    }
    return Curl(args);
  }

  std::filesystem::path dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<HttpServer> server_;
};

struct BadPath {
  std::string method;
  std::string path;
  std::string segment;  // "namespace" or "name"
  std::string value;    // the decoded segment the message quotes
};

TEST_F(ApiPathsTest, InvalidSegmentsGetBadRequest) {
  const std::string long_name(64, 'a');
  const std::vector<BadPath> cases = {
      {"GET", "/namespaces/Bad_NS!/servicedeploys", "namespace", "Bad_NS!"},
      {"GET", "/namespaces/a%2Fb/servicedeploys", "namespace", "a/b"},
      {"GET", "/namespaces/-eval/servicedeploys/qwen", "namespace", "-eval"},
      {"GET", "/namespaces/Eval/servicedeploys/qwen/status", "namespace", "Eval"},
      {"DELETE", "/namespaces/Eval/servicedeploys/qwen", "namespace", "Eval"},
      {"GET", "/namespaces/" + long_name + "/servicedeploys", "namespace", long_name},
      {"GET", "/namespaces/eval/servicedeploys/Qwen", "name", "Qwen"},
      {"GET", "/namespaces/eval/servicedeploys/qwen_1/log", "name", "qwen_1"},
      {"POST", "/namespaces/Eval/servicedeploys/qwen/retry", "namespace", "Eval"},
      {"POST", "/namespaces/eval/servicedeploys/qwen./restart", "name", "qwen."},
      {"POST", "/namespaces/BAD/servicedeploys/qwen/archive", "namespace", "BAD"},
      {"POST", "/namespaces/eval/servicedeploys/q%20w/archives", "name", "q w"},
      {"GET", "/namespaces/eval/servicedeploys/" + long_name + "/archives", "name", long_name},
      {"GET", "/namespaces/Bad_NS/events?name=qwen", "namespace", "Bad_NS"},
      {"GET", "/hosts/GPU-01", "name", "GPU-01"},
      {"GET", "/hosts/gpu_01/status", "name", "gpu_01"},
      {"DELETE", "/hosts/gpu-01!", "name", "gpu-01!"},
      {"GET", "/servicetemplates/vLLM", "name", "vLLM"},
      {"DELETE", "/servicetemplates/vllm%0A", "name", "vllm\n"},
  };
  for (const BadPath& c : cases) {
    SCOPED_TRACE(c.method + " " + c.path);
    const HttpResult reply = Send(c.method, c.path);
    EXPECT_EQ(reply.status, 400) << reply.body;
    const nlohmann::json body = ParseJson(reply);
    EXPECT_EQ(body.value("kind", ""), "Status");
    EXPECT_EQ(body.value("reason", ""), "BadRequest");
    const std::string message = body.value("message", "");
    EXPECT_THAT(message, HasSubstr("invalid " + c.segment + " "));
    EXPECT_THAT(message, HasSubstr("in the request path"));
    EXPECT_THAT(message, HasSubstr("metadata." + c.segment));
    EXPECT_THAT(message, HasSubstr("at most 63 lower-case letters, digits or '-'"));
    EXPECT_THAT(message, HasSubstr(api::QuoteForMessage(c.value)));
  }

  // Nothing was deleted, restarted or archived on the way.
  EXPECT_EQ(Send("GET", "/namespaces/eval/servicedeploys/qwen").status, 200);
  EXPECT_EQ(Send("GET", "/hosts/gpu-01").status, 200);
  EXPECT_EQ(Send("GET", "/servicetemplates/vllm").status, 200);
  const HttpResult archives = Send("GET", "/namespaces/eval/servicedeploys/qwen/archives");
  ASSERT_EQ(archives.status, 200) << archives.body;
  EXPECT_TRUE(ParseJson(archives)["items"].empty());
}

TEST_F(ApiPathsTest, ValidSegmentsStillServe) {
  const HttpResult eval = Send("GET", "/namespaces/eval/servicedeploys");
  ASSERT_EQ(eval.status, 200) << eval.body;
  ASSERT_EQ(ParseJson(eval)["items"].size(), 1u);

  // A valid namespace that contains nothing is an empty list, as in Kubernetes.
  const HttpResult empty = Send("GET", "/namespaces/" + std::string(63, 'z') + "/servicedeploys");
  ASSERT_EQ(empty.status, 200) << empty.body;
  EXPECT_TRUE(ParseJson(empty)["items"].empty());

  const HttpResult missing = Send("GET", "/namespaces/eval/servicedeploys/q-1");
  EXPECT_EQ(missing.status, 404) << missing.body;
}

TEST_F(ApiPathsTest, ObjectWritesReportPathAsField) {
  // POST and PUT carry an object, so the path's namespace is checked as
  // that object's metadata.namespace: 422 with a cause.
  const std::string deploy =
      "apiVersion: svcd.io/v1alpha1\nkind: ServiceDeploy\nmetadata: {name: qwen}\n"
      "spec: {templateRef: vllm, modelName: m, master: {host: gpu-01}}\n";
  const HttpResult put = Send("PUT", "/namespaces/Bad_NS/servicedeploys/qwen", deploy);
  EXPECT_EQ(put.status, 422) << put.body;
  const nlohmann::json body = ParseJson(put);
  ASSERT_TRUE(body.contains("details")) << put.body;
  EXPECT_EQ(body["details"]["causes"][0].value("field", ""), "metadata.namespace");
  EXPECT_EQ(Send("GET", "/servicedeploys").status, 200);
  EXPECT_EQ(ParseJson(Send("GET", "/servicedeploys"))["items"].size(), 1u);
}

TEST_F(ApiPathsTest, EventQueryValuesAreChecked) {
  const HttpResult bad_name = Send("GET", "/namespaces/eval/events?name=Qwen_2");
  EXPECT_EQ(bad_name.status, 400) << bad_name.body;
  EXPECT_THAT(ParseJson(bad_name).value("message", ""), HasSubstr("invalid name \"Qwen_2\""));

  const HttpResult bad_uid = Send("GET", "/events?uid=not-a-uid");
  EXPECT_EQ(bad_uid.status, 400) << bad_uid.body;
  EXPECT_THAT(ParseJson(bad_uid).value("message", ""), HasSubstr("invalid uid \"not-a-uid\""));

  const HttpResult good = Send("GET", "/namespaces/eval/events?name=qwen");
  EXPECT_EQ(good.status, 200) << good.body;
  const HttpResult missing = Send("GET", "/namespaces/eval/events?name=llama");
  EXPECT_EQ(missing.status, 404) << missing.body;
}

TEST_F(ApiPathsTest, UnknownTargetIsNotFound) {
  // The deploy has no targets yet, so every target name is unknown.
  for (const std::string path : {"/namespaces/eval/servicedeploys/qwen/retry?target=nosuch",
                                 "/namespaces/eval/servicedeploys/qwen/log?target=nosuch"}) {
    SCOPED_TRACE(path);
    const HttpResult reply = Send(path.find("/retry") != std::string::npos ? "POST" : "GET", path);
    EXPECT_EQ(reply.status, 404) << reply.body;
    const nlohmann::json body = ParseJson(reply);
    EXPECT_THAT(body.value("message", ""), HasSubstr("no target \"nosuch\""));
    ASSERT_TRUE(body.contains("details")) << reply.body;
    EXPECT_EQ(body["details"].value("name", ""), "qwen");
    ASSERT_EQ(body["details"]["causes"].size(), 1u) << reply.body;
    EXPECT_EQ(body["details"]["causes"][0].value("field", ""), "target");
    EXPECT_THAT(body["details"]["causes"][0].value("message", ""), HasSubstr("no targets yet"));
  }

  // Without ?target the retry applies to every target, of which there are none.
  const HttpResult all = Send("POST", "/namespaces/eval/servicedeploys/qwen/retry");
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_TRUE(ParseJson(all)["targets"].empty()) << all.body;
}

}  // namespace
}  // namespace svcd::server::testing
