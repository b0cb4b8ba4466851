// Probes against tools/standin-model-server run as a real process, and the
// stand-in's own options.

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "probe/system_prober.h"
#include "tests/probe/test_servers.h"

namespace svcd::probe {
namespace {

using testing::StandinServer;

ProbeTarget Target(int port, const std::string& method, const std::string& path,
                   const std::string& keyword = "", const std::string& body = "") {
  ProbeTarget target;
  target.address = "127.0.0.1";
  target.probe.http = api::HttpProbe{};
  target.probe.http->port = port;
  target.probe.http->method = method;
  target.probe.http->path = path;
  target.probe.http->keyword = keyword;
  target.probe.http->body = body;
  if (method == "POST") {
    target.probe.http->headers = {{"Content-Type", "application/json"}};
  }
  target.probe.timeout_seconds = 5;
  return target;
}

TEST(StandinProbeTest, HealthReturns200) {
  StandinServer server;
  ASSERT_TRUE(server.Start({})) << server.output();
  ASSERT_TRUE(server.WaitForOutput("listening on")) << server.output();

  ProbeResult result = SystemProber().Run(Target(server.port(), "GET", "/health"));

  EXPECT_TRUE(result.success) << result.message;
  EXPECT_EQ(result.http_status, 200);
  EXPECT_TRUE(server.WaitForOutput("\"GET /health HTTP/1.1\" 200")) << server.output();
}

TEST(StandinProbeTest, CompletionKeywordPresent) {
  StandinServer server;
  ASSERT_TRUE(server.Start({"--served-model-name", "qwen2-7b", "--keyword", "Lutetia"}));
  ASSERT_TRUE(server.WaitForOutput("listening on")) << server.output();
  std::string body = R"({"model":"qwen2-7b","prompt":"Paris was once","max_tokens":4})";

  ProbeResult result =
      SystemProber().Run(Target(server.port(), "POST", "/v1/completions", "Lutetia", body));

  EXPECT_TRUE(result.success) << result.message;
}

TEST(StandinProbeTest, CompletionKeywordAbsent) {
  StandinServer server;
  ASSERT_TRUE(server.Start({}));
  ASSERT_TRUE(server.WaitForOutput("listening on")) << server.output();

  ProbeResult result = SystemProber().Run(
      Target(server.port(), "POST", "/v1/completions", "Germany", R"({"prompt":"x"})"));

  EXPECT_EQ(result.failure, FailureKind::kKeywordMissing) << result.message;
  EXPECT_EQ(result.http_status, 200);
}

TEST(StandinProbeTest, PostBodyDelivered) {
  StandinServer server;
  ASSERT_TRUE(server.Start({}));
  ASSERT_TRUE(server.WaitForOutput("listening on")) << server.output();
  // With echo the completion starts with the prompt, so the keyword can only
  // come from the request body.
  std::string body = R"({"prompt":"marker-7f3a9 says","echo":true,"max_tokens":2})";

  ProbeResult echoed =
      SystemProber().Run(Target(server.port(), "POST", "/v1/completions", "marker-7f3a9", body));
  ProbeResult bad_json =
      SystemProber().Run(Target(server.port(), "POST", "/v1/completions", "", R"({"prompt": )"));

  EXPECT_TRUE(echoed.success) << echoed.message;
  EXPECT_EQ(bad_json.failure, FailureKind::kBadStatus) << bad_json.message;
  EXPECT_EQ(bad_json.http_status, 400);
}

TEST(StandinProbeTest, ChatCompletionKeyword) {
  StandinServer server;
  ASSERT_TRUE(server.Start({"--model", "/models/qwen"}));
  ASSERT_TRUE(server.WaitForOutput("listening on")) << server.output();
  std::string body = R"({"model":"/models/qwen","messages":[{"role":"user","content":"hi"}]})";

  ProbeResult result =
      SystemProber().Run(Target(server.port(), "POST", "/v1/chat/completions", "France", body));

  EXPECT_TRUE(result.success) << result.message;
}

TEST(StandinProbeTest, ModelsListsServedName) {
  StandinServer server;
  ASSERT_TRUE(server.Start({"--served-model-name", "qwen2-7b"}));
  ASSERT_TRUE(server.WaitForOutput("listening on")) << server.output();

  ProbeResult listed =
      SystemProber().Run(Target(server.port(), "GET", "/v1/models", "\"id\": \"qwen2-7b\""));
  ProbeResult wrong_model = SystemProber().Run(
      Target(server.port(), "POST", "/v1/completions", "", R"({"model":"other","prompt":"x"})"));

  EXPECT_TRUE(listed.success) << listed.message;
  EXPECT_EQ(wrong_model.http_status, 404) << wrong_model.message;
}

TEST(StandinProbeTest, LoadDelayRefusesThenServes) {
  StandinServer server;
  ASSERT_TRUE(server.Start({"--load-delay", "1.5"})) << server.output();
  ProbeTarget target = Target(server.port(), "GET", "/health");

  ProbeResult early = SystemProber().Run(target);
  ASSERT_TRUE(server.WaitForOutput("listening on")) << server.output();
  ProbeResult late = SystemProber().Run(target);

  EXPECT_EQ(early.failure, FailureKind::kConnectionRefused) << early.message;
  EXPECT_TRUE(late.success) << late.message;
}

TEST(StandinProbeTest, NeverReadyAnswers503) {
  StandinServer server;
  ASSERT_TRUE(server.Start({"--never-ready"}));
  ASSERT_TRUE(server.WaitForOutput("listening on")) << server.output();

  ProbeResult health = SystemProber().Run(Target(server.port(), "GET", "/health"));
  ProbeResult completion = SystemProber().Run(
      Target(server.port(), "POST", "/v1/completions", "France", R"({"prompt":"x"})"));

  EXPECT_EQ(health.failure, FailureKind::kBadStatus) << health.message;
  EXPECT_EQ(health.http_status, 503);
  EXPECT_EQ(completion.http_status, 503) << completion.message;
}

TEST(StandinProbeTest, RedirectPathNotFollowed) {
  StandinServer server;
  ASSERT_TRUE(server.Start({}));
  ASSERT_TRUE(server.WaitForOutput("listening on")) << server.output();

  ProbeResult result = SystemProber().Run(Target(server.port(), "GET", "/redirect"));

  EXPECT_EQ(result.failure, FailureKind::kRedirect) << result.message;
  EXPECT_EQ(result.http_status, 302);
  EXPECT_EQ(server.output().find("GET /health"), std::string::npos) << server.output();
}

TEST(StandinProbeTest, ChunkedPathKeywordAcrossChunks) {
  StandinServer server;
  ASSERT_TRUE(server.Start({"--keyword", "Versailles"}));
  ASSERT_TRUE(server.WaitForOutput("listening on")) << server.output();

  ProbeResult found = SystemProber().Run(Target(server.port(), "GET", "/chunked", "Versailles"));
  ProbeResult missing = SystemProber().Run(Target(server.port(), "GET", "/chunked", "France"));

  EXPECT_TRUE(found.success) << found.message;
  EXPECT_EQ(missing.failure, FailureKind::kKeywordMissing) << missing.message;
}

TEST(StandinServerTest, AcceptsUnknownVllmArguments) {
  StandinServer server;
  ASSERT_TRUE(server.Start({"--model", "/mnt/models/qwen2-7b", "--tensor-parallel-size", "2",
                            "--enforce-eager", "--max-model-len", "4096"}));
  ASSERT_TRUE(server.WaitForOutput("listening on")) << server.output();

  EXPECT_NE(server.output().find("ignoring arguments: --tensor-parallel-size 2 --enforce-eager"),
            std::string::npos)
      << server.output();
  EXPECT_TRUE(SystemProber()
                  .Run(Target(server.port(), "GET", "/v1/models", "/mnt/models/qwen2-7b"))
                  .success);
}

TEST(StandinServerTest, ExitsZeroOnTerm) {
  StandinServer server;
  ASSERT_TRUE(server.Start({}));
  ASSERT_TRUE(server.WaitForOutput("listening on")) << server.output();

  server.Terminate();

  EXPECT_EQ(server.WaitForExit(), 0) << server.output();
}

TEST(StandinServerTest, ExitsZeroOnTermWhileLoading) {
  StandinServer server;
  ASSERT_TRUE(server.Start({"--load-delay", "60"}));

  server.Terminate();

  EXPECT_EQ(server.WaitForExit(std::chrono::seconds(5)), 0) << server.output();
}

TEST(StandinServerTest, CrashAfterUsesExitCode) {
  StandinServer server;
  ASSERT_TRUE(server.Start({"--crash-after", "0.5", "--exit-code", "7"}));

  EXPECT_EQ(server.WaitForExit(), 7) << server.output();
  EXPECT_NE(server.output().find("crashing with exit code 7"), std::string::npos);
}

TEST(StandinServerTest, RejectsNegativeLoadDelay) {
  StandinServer server;
  // The server exits before it binds, so Start finds no port.
  EXPECT_FALSE(server.Start({"--load-delay", "-1"}));
  EXPECT_EQ(server.WaitForExit(), 2) << server.output();
  EXPECT_NE(server.output().find("--load-delay must not be negative"), std::string::npos);
}

}  // namespace
}  // namespace svcd::probe
