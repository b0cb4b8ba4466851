// The HTTP edge of a real svcd: body limits, Expect: 100-continue, content
// types, parse errors, the store lease and many clients at once.

#include <algorithm>
#include <atomic>
#include <thread>

#include "tests/e2e/e2e_fixture.h"

namespace svcd::e2e {
namespace {

using ::testing::HasSubstr;

constexpr size_t kBodyLimit = 64 * 1024;

class ApiHttpTest : public E2eTest {
 protected:
  void ConfigureServer(SvcdOptions& options) override { options.max_body_bytes = kBodyLimit; }

  // Returns `size` letters, a through z repeated.
  static std::string Padding(size_t size) {
    std::string padding;
    for (size_t i = 0; i < size; ++i) padding += static_cast<char>('a' + i % 26);
    return padding;
  }

  // A Host manifest padded with an annotation of `size` bytes.
  static std::string PaddedHost(const std::string& name, size_t size) {
    std::string yaml = "apiVersion: svcd.io/v1alpha1\nkind: Host\nmetadata:\n";
    yaml += "  name: " + name + "\n";
    yaml += "  annotations: {note: " + Padding(size) + "}\n";
    yaml += "spec:\n  address: 192.0.2.11\n";
    return yaml;
  }
};

TEST_P(ApiHttpTest, DeclaredLengthOverLimitIsRejected) {
  const HttpReply reply =
      Http("POST", std::string(kApiPrefix) + "/hosts", PaddedHost("big", kBodyLimit + 1024));
  EXPECT_EQ(reply.status, 413) << reply.Describe();
  EXPECT_EQ(reply.Json()["reason"], "RequestEntityTooLarge");
  EXPECT_EQ(Http("GET", std::string(kApiPrefix) + "/hosts/big").status, 404);
}

TEST_P(ApiHttpTest, ChunkedBodyOverLimitIsRejected) {
  const HttpReply reply =
      Http("POST", std::string(kApiPrefix) + "/apply", PaddedHost("big", 4 * kBodyLimit),
           RequestOptions().WithCurlArgs({"-H", "Transfer-Encoding: chunked"}));
  EXPECT_EQ(reply.status, 413) << reply.Describe();
  EXPECT_EQ(Http("GET", std::string(kApiPrefix) + "/hosts/big").status, 404);

  // A chunked body under the limit is read whole.
  const HttpReply small =
      Http("POST", std::string(kApiPrefix) + "/apply", PaddedHost("small", 2048),
           RequestOptions().WithCurlArgs({"-H", "Transfer-Encoding: chunked"}));
  EXPECT_EQ(small.status, 200) << small.Describe();
}

TEST_P(ApiHttpTest, ExpectContinueBodyArrivesIntact) {
  const std::string manifest = PaddedHost("padded", 8 * 1024);
  const HttpReply reply = Http("POST", std::string(kApiPrefix) + "/hosts", manifest,
                               RequestOptions().WithCurlArgs({"-v", "-H", "Expect: 100-continue"}));
  ASSERT_EQ(reply.status, 201) << reply.Describe();
  EXPECT_THAT(reply.curl_error, HasSubstr("Expect: 100-continue"));

  const nlohmann::json stored = Stored("/hosts/padded");
  ASSERT_FALSE(stored.is_discarded());
  EXPECT_EQ(stored["metadata"]["annotations"]["note"], Padding(8 * 1024));
}

TEST_P(ApiHttpTest, AcceptsYamlAndJsonBodies) {
  const HttpReply yaml = Http("POST", std::string(kApiPrefix) + "/hosts", HostYaml("gpu-01"),
                              RequestOptions().WithContentType("application/yaml"));
  EXPECT_EQ(yaml.status, 201) << yaml.Describe();
  const HttpReply json =
      Http("POST", std::string(kApiPrefix) + "/hosts",
           R"({"apiVersion": "svcd.io/v1alpha1", "kind": "Host", "metadata": {"name": "gpu-02"},
          "spec": {"address": "192.0.2.12"}})",
           RequestOptions().WithContentType("application/json"));
  EXPECT_EQ(json.status, 201) << json.Describe();
  EXPECT_EQ(Stored("/hosts/gpu-02")["spec"]["address"], "192.0.2.12");

  const HttpReply other =
      Http("POST", std::string(kApiPrefix) + "/hosts", HostYaml("gpu-03"),
           RequestOptions().WithContentType("application/x-www-form-urlencoded"));
  EXPECT_EQ(other.status, 400) << other.Describe();
  EXPECT_EQ(Http("GET", std::string(kApiPrefix) + "/hosts/gpu-03").status, 404);
}

TEST_P(ApiHttpTest, MalformedYamlIsBadRequest) {
  const HttpReply reply = Apply("apiVersion: svcd.io/v1alpha1\nkind: Host\nmetadata: [gpu-01\n");
  EXPECT_EQ(reply.status, 400) << reply.Describe();
  EXPECT_EQ(reply.Json()["reason"], "BadRequest");
  EXPECT_EQ(reply.Json()["code"], 400);
  EXPECT_EQ(Http("GET", std::string(kApiPrefix) + "/hosts").Json()["items"].size(), 0u);
}

TEST_P(ApiHttpTest, UnknownFieldIsInvalidWithPosition) {
  const HttpReply reply = Apply(
      "apiVersion: svcd.io/v1alpha1\n"
      "kind: Host\n"
      "metadata:\n"
      "  name: gpu-01\n"
      "spec:\n"
      "  address: 192.0.2.11\n"
      "  adress: 192.0.2.12\n");
  ASSERT_EQ(reply.status, 422) << reply.Describe();
  const nlohmann::json status = reply.Json();
  ASSERT_TRUE(status.contains("details")) << reply.body;
  const nlohmann::json& causes = status["details"]["causes"];
  ASSERT_EQ(causes.size(), 1u) << reply.body;
  EXPECT_EQ(causes[0].value("field", ""), "spec.adress");
  EXPECT_EQ(causes[0].value("line", 0), 7);
  EXPECT_EQ(causes[0].value("column", 0), 3);
  EXPECT_EQ(Http("GET", std::string(kApiPrefix) + "/hosts/gpu-01").status, 404);
}

TEST_P(ApiHttpTest, SecondSvcdOnSameStoreExits) {
  const uint16_t other_port = PickFreePort();
  const CommandResult second = RunCommand(SvcdArgv(options(), other_port),
                                          SvcdEnvironment(options()), {}, std::chrono::seconds(60));
  ASSERT_FALSE(second.timed_out) << "the second svcd kept running: " << second.err;
  EXPECT_NE(second.exit_code, 0);
  EXPECT_THAT(second.err, HasSubstr("another svcd"));
  // The holder is named by its pid and listen address.
  EXPECT_THAT(second.err, HasSubstr("pid " + std::to_string(server().pid())));
  EXPECT_THAT(second.err, HasSubstr("127.0.0.1:" + std::to_string(server().port())));
  EXPECT_EQ(RawGetStatus(other_port, "/healthz", std::chrono::seconds(1)), 0);
  EXPECT_EQ(RawGetStatus(server().port(), "/healthz", std::chrono::seconds(5)), 200);
}

TEST_P(ApiHttpTest, ConcurrentClientsAllAnswered) {
  ASSERT_EQ(Apply(YamlStream({HostYaml("gpu-01"), TemplateYaml("vllm")})).status, 200);
  constexpr int kClients = 64;

  // /healthz is probed throughout; it is served without a worker thread.
  std::atomic<bool> done{false};
  std::vector<int64_t> health_ms;
  std::vector<int> health_codes;
  std::thread prober([&] {
    while (!done.load()) {
      const auto start = std::chrono::steady_clock::now();
      health_codes.push_back(RawGetStatus(server().port(), "/healthz", std::chrono::seconds(10)));
      health_ms.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - start)
                              .count());
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });

  std::vector<HttpReply> replies(kClients);
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([this, i, &replies] {
      const std::string name = "d-" + std::to_string(i);
      replies[i] = i % 2 == 0
                       ? Http("POST", std::string(kApiPrefix) + "/namespaces/eval/servicedeploys",
                              DeployYaml(name, "eval", "vllm", "gpu-01"))
                       : Http("GET", std::string(kApiPrefix) + "/hosts/gpu-01");
    });
  }
  for (std::thread& client : clients) client.join();
  done = true;
  prober.join();

  for (int i = 0; i < kClients; ++i) {
    EXPECT_EQ(replies[i].status, i % 2 == 0 ? 201 : 200)
        << "client " << i << ": " << replies[i].Describe();
  }
  const HttpReply list = Http("GET", std::string(kApiPrefix) + "/namespaces/eval/servicedeploys");
  EXPECT_EQ(list.Json()["items"].size(), static_cast<size_t>(kClients / 2));
  ASSERT_FALSE(health_codes.empty());
  EXPECT_THAT(health_codes, ::testing::Each(200));
  // NOTE: a generous bound, because several test processes share two cores;
  // a /healthz stuck behind the handlers would take as long as the batch.
  EXPECT_LT(*std::max_element(health_ms.begin(), health_ms.end()), 2000);
}

TEST_P(ApiHttpTest, ServesHealthReadinessAndVersion) {
  EXPECT_EQ(Http("GET", "/healthz").status, 200);
  EXPECT_EQ(Http("GET", "/readyz").status, 200);
  const HttpReply version = Http("GET", "/version");
  EXPECT_EQ(version.status, 200) << version.Describe();
  EXPECT_FALSE(version.body.empty());
}

SVCD_E2E_INSTANTIATE(ApiHttpTest);

}  // namespace
}  // namespace svcd::e2e
