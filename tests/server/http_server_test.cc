// Tests of HttpServer over real HTTP on 127.0.0.1: start and stop, routing,
// built-in endpoints, handler errors and the worker pool.

#include "server/http_server.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <future>
#include <sstream>
#include <thread>

#include "api/version.h"
#include "server/status_response.h"
#include "tests/server/http_server_fixture.h"
#include "tests/server/http_test_client.h"

namespace svcd::server::testing {
namespace {

using std::chrono::milliseconds;

TEST_F(HttpServerTest, ServesHealthzVersionAndReadyz) {
  StartServer(TestRouter());

  HttpResult health = Curl({Url("/healthz")});
  EXPECT_EQ(health.status, 200) << health.error;
  EXPECT_EQ(health.body, "ok");
  EXPECT_EQ(health.headers["x-request-id"].size(), 16u);

  HttpResult version = Curl({Url("/version")});
  EXPECT_EQ(version.status, 200);
  EXPECT_EQ(ParseJson(version)["version"], kVersion);
  EXPECT_EQ(version.headers["content-type"], "application/json");

  HttpResult ready = Curl({Url("/readyz")});
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(ready.body, "ok");

  HttpResult post_health = Curl({"-X", "POST", Url("/healthz")});
  EXPECT_EQ(post_health.status, 405);
  EXPECT_EQ(post_health.headers["allow"], "GET");
}

TEST_F(HttpServerTest, ReadyzReportsFailingCheck) {
  std::atomic<bool> healthy{false};
  HttpServerOptions options;
  options.readiness_check = [&healthy] {
    return healthy.load() ? Status::Ok()
                          : Status::Unavailable("store ping failed: database is locked");
  };
  StartServer(TestRouter(), std::move(options));

  HttpResult down = Curl({Url("/readyz")});
  EXPECT_EQ(down.status, 503);
  nlohmann::json body = ParseJson(down);
  EXPECT_EQ(body["reason"], "ServiceUnavailable");
  EXPECT_EQ(body["message"], "not ready: store ping failed: database is locked");

  healthy = true;
  EXPECT_EQ(Curl({Url("/readyz")}).status, 200);
}

TEST_F(HttpServerTest, ReadyzSurvivesThrowingCheck) {
  HttpServerOptions options;
  options.readiness_check = []() -> Status { throw std::runtime_error("driver exploded"); };
  StartServer(TestRouter(), std::move(options));

  HttpResult ready = Curl({Url("/readyz")});
  EXPECT_EQ(ready.status, 503);
  EXPECT_NE(ParseJson(ready)["message"].get<std::string>().find("driver exploded"),
            std::string::npos);
  EXPECT_EQ(Curl({Url("/healthz")}).status, 200);
}

TEST_F(HttpServerTest, PortZeroPicksDistinctFreePorts) {
  StartServer(TestRouter());
  HttpServer second(ListenOn("127.0.0.1:0"), TestRouter(), nullptr);
  ASSERT_TRUE(second.Start().ok());

  EXPECT_GT(server_->BoundPort(), 0);
  EXPECT_GT(second.BoundPort(), 0);
  EXPECT_NE(server_->BoundPort(), second.BoundPort());
  EXPECT_EQ(server_->BaseUrl(), "http://127.0.0.1:" + std::to_string(server_->BoundPort()));
  EXPECT_EQ(Curl({second.BaseUrl() + "/healthz"}).status, 200);
}

TEST_F(HttpServerTest, LocalhostListensOnIpv4Loopback) {
  HttpServer server(ListenOn("localhost:0"), TestRouter(), nullptr);
  Status started = server.Start();
  ASSERT_TRUE(started.ok()) << started.ToString();
  EXPECT_EQ(server.BaseUrl(), "http://127.0.0.1:" + std::to_string(server.BoundPort()));
  EXPECT_EQ(Curl({server.BaseUrl() + "/healthz"}).status, 200);
}

TEST_F(HttpServerTest, RejectsNonLoopbackWithoutTokenFile) {
  for (std::string listen : {"0.0.0.0:0", "10.1.2.3:7070", "svcd.example.org:7070"}) {
    HttpServer server(ListenOn(listen), TestRouter(), nullptr);
    Status started = server.Start();
    EXPECT_EQ(started.code(), Code::kFailedPrecondition) << listen;
    EXPECT_NE(started.message().find("without a token file"), std::string::npos)
        << started.message();
    EXPECT_NE(started.message().find("--token-file"), std::string::npos) << started.message();
    EXPECT_EQ(server.BoundPort(), 0);
  }
}

TEST_F(HttpServerTest, RejectsIpv6WithClearMessage) {
  HttpServer server(ListenOn("[::1]:0"), TestRouter(), nullptr);
  Status started = server.Start();
  EXPECT_EQ(started.code(), Code::kFailedPrecondition);
  EXPECT_NE(started.message().find("cannot bind IPv6 addresses"), std::string::npos)
      << started.message();
  EXPECT_NE(started.message().find("127.0.0.1"), std::string::npos) << started.message();
}

TEST_F(HttpServerTest, RejectsMalformedListenAddress) {
  HttpServer server(ListenOn("127.0.0.1"), TestRouter(), nullptr);
  EXPECT_EQ(server.Start().code(), Code::kInvalidArgument);
}

TEST_F(HttpServerTest, PortInUseIsUnavailable) {
  StartServer(TestRouter());
  std::string bound_address = "127.0.0.1:" + std::to_string(server_->BoundPort());
  HttpServer second(ListenOn(bound_address), TestRouter(), nullptr);
  Status started = second.Start();
  EXPECT_EQ(started.code(), Code::kUnavailable);
  EXPECT_NE(started.message().find("cannot listen on " + bound_address), std::string::npos)
      << started.message();
}

TEST_F(HttpServerTest, StartTwiceFails) {
  StartServer(TestRouter());
  EXPECT_EQ(server_->Start().code(), Code::kFailedPrecondition);
}

TEST_F(HttpServerTest, RoutesPathParamsAndQuery) {
  StartServer(TestRouter());

  HttpResult result = Curl({"-H", "X-Trace: abc",
                            Url("/apis/svcd.io/v1alpha1/namespaces/eval/servicedeploys/"
                                "qwen%2Dtp2?labelSelector=team%3Dperf&dryRun=All")});
  ASSERT_EQ(result.status, 200) << result.body << result.error;
  nlohmann::json seen = ParseJson(result);
  EXPECT_EQ(seen["method"], "GET");
  EXPECT_EQ(seen["path"], "/apis/svcd.io/v1alpha1/namespaces/eval/servicedeploys/qwen-tp2");
  EXPECT_EQ(seen["params"]["ns"], "eval");
  EXPECT_EQ(seen["params"]["name"], "qwen-tp2");
  EXPECT_EQ(seen["query"]["labelSelector"], "team=perf");
  EXPECT_EQ(seen["query"]["dryRun"], "All");
  EXPECT_EQ(seen["headers"]["x-trace"], "abc");
  EXPECT_EQ(seen["user"], "anonymous");
  EXPECT_EQ(seen["role"], "admin");
  EXPECT_EQ(seen["requestId"], result.headers["x-request-id"]);
}

TEST_F(HttpServerTest, UnknownPathIs404Status) {
  StartServer(TestRouter());

  HttpResult result = Curl({Url("/apis/svcd.io/v1alpha1/nothing")});
  EXPECT_EQ(result.status, 404);
  nlohmann::json body = ParseJson(result);
  EXPECT_EQ(body["kind"], "Status");
  EXPECT_EQ(body["apiVersion"], "v1");
  EXPECT_EQ(body["status"], "Failure");
  EXPECT_EQ(body["reason"], "NotFound");
  EXPECT_EQ(body["code"], 404);
  EXPECT_EQ(body["message"], "no resource at /apis/svcd.io/v1alpha1/nothing");
}

TEST_F(HttpServerTest, WrongMethodIs405WithAllow) {
  StartServer(TestRouter());

  HttpResult result =
      Curl({"-X", "PATCH", Url("/apis/svcd.io/v1alpha1/namespaces/eval/servicedeploys/x")});
  EXPECT_EQ(result.status, 405);
  EXPECT_EQ(result.headers["allow"], "GET, PUT");
  EXPECT_EQ(ParseJson(result)["reason"], "MethodNotAllowed");
}

TEST_F(HttpServerTest, UndecodablePathIs400) {
  StartServer(TestRouter());

  // cpprestsdk accepts %00 as a well-formed escape; the router rejects a NUL.
  HttpResult nul = RawRequest(server_->BoundPort(),
                              "GET /body%00 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(nul.status, 400) << nul.error;
  nlohmann::json body = ParseJson(nul);
  EXPECT_EQ(body["reason"], "BadRequest");
  EXPECT_NE(body["message"].get<std::string>().find("NUL byte"), std::string::npos)
      << body["message"];

  // A malformed escape is rejected by cpprestsdk before it reaches the router.
  HttpResult malformed = RawRequest(
      server_->BoundPort(), "GET /body%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(malformed.status, 400) << malformed.error;
  EXPECT_EQ(Curl({Url("/healthz")}).status, 200);
}

TEST_F(HttpServerTest, HandlerExceptionBecomes500Status) {
  Router router;
  ASSERT_TRUE(router
                  .Add(
                      "GET", "/std",
                      [](const Request&, const PathParams&) -> Response {
                        throw std::runtime_error("database handle is closed");
                      },
                      AccessRule::kViewer)
                  .ok());
  ASSERT_TRUE(router
                  .Add(
                      "GET", "/int", [](const Request&, const PathParams&) -> Response { throw 7; },
                      AccessRule::kViewer)
                  .ok());
  ASSERT_TRUE(router
                  .Add(
                      "GET", "/bad-status",
                      [](const Request&, const PathParams&) {
                        Response response;
                        response.status = 42;
                        return response;
                      },
                      AccessRule::kViewer)
                  .ok());
  StartServer(std::move(router));

  for (std::string path : {"/std", "/int", "/bad-status"}) {
    HttpResult result = Curl({Url(path)});
    EXPECT_EQ(result.status, 500) << path;
    nlohmann::json body = ParseJson(result);
    EXPECT_EQ(body["reason"], "InternalError") << path;
    EXPECT_NE(body["message"].get<std::string>().find(result.headers["x-request-id"]),
              std::string::npos)
        << body["message"];
    EXPECT_EQ(body["message"].get<std::string>().find("database handle"), std::string::npos)
        << "internal details leaked: " << body["message"];
  }
  EXPECT_EQ(Curl({Url("/healthz")}).status, 200);
}

TEST_F(HttpServerTest, HandlerStatusResponseKeepsCauses) {
  Router router;
  ASSERT_TRUE(router
                  .Add(
                      "POST", "/hosts",
                      [](const Request&, const PathParams&) {
                        return StatusResponse(
                            Status::InvalidArgument(
                                "Host gpu-01 is invalid",
                                {Cause{"spec.address", "missing required field", 4, 3, ""}}),
                            {"Host", "gpu-01"});
                      },
                      AccessRule::kEditor)
                  .ok());
  StartServer(std::move(router));

  HttpResult result =
      Curl({"-H", "Content-Type: application/yaml", "--data-binary", "kind: Host", Url("/hosts")});
  EXPECT_EQ(result.status, 422);
  nlohmann::json body = ParseJson(result);
  EXPECT_EQ(body["reason"], "Invalid");
  EXPECT_EQ(body["details"]["kind"], "Host");
  EXPECT_EQ(body["details"]["name"], "gpu-01");
  EXPECT_EQ(body["details"]["causes"][0]["field"], "spec.address");
  EXPECT_EQ(body["details"]["causes"][0]["line"], 4);
  EXPECT_EQ(body["details"]["causes"][0]["column"], 3);
}

TEST_F(HttpServerTest, ResponseHeadersFromHandlerAreSent) {
  Router router;
  ASSERT_TRUE(router
                  .Add(
                      "GET", "/headers",
                      [](const Request&, const PathParams&) {
                        Response response;
                        response.status = 201;
                        response.content_type = "application/yaml";
                        response.body = "a: 1\n";
                        response.headers["Location"] = "/hosts/a";
                        response.headers["X-Bad"] = "a\r\nSet-Cookie: x=1";
                        response.headers["X-Request-Id"] = "forged";
                        return response;
                      },
                      AccessRule::kViewer)
                  .ok());
  StartServer(std::move(router));

  HttpResult result = Curl({Url("/headers")});
  EXPECT_EQ(result.status, 201);
  EXPECT_EQ(result.body, "a: 1\n");
  EXPECT_EQ(result.headers["content-type"], "application/yaml");
  EXPECT_EQ(result.headers["location"], "/hosts/a");
  EXPECT_EQ(result.headers.count("x-bad"), 0u);
  EXPECT_EQ(result.headers.count("set-cookie"), 0u);
  EXPECT_NE(result.headers["x-request-id"], "forged");
}

TEST_F(HttpServerTest, SlowHandlersDoNotDelayHealthz) {
  constexpr int kClients = 64;
  Router router;
  ASSERT_TRUE(router
                  .Add(
                      "GET", "/slow",
                      [this](const Request&, const PathParams&) {
                        ++calls_;
                        std::this_thread::sleep_for(milliseconds(200));
                        Response response;
                        response.body = "{}";
                        return response;
                      },
                      AccessRule::kViewer)
                  .ok());
  HttpServerOptions options;
  options.workers = 8;
  StartServer(std::move(router), std::move(options));

  // One curl process with 64 parallel transfers opens 64 connections without
  // 64 process starts competing for the CPU with the probes below.
  std::vector<std::string> args = {"-sS",
                                   "--max-time",
                                   "30",
                                   "--parallel",
                                   "--parallel-immediate",
                                   "--parallel-max",
                                   std::to_string(kClients),
                                   "-w",
                                   "%{http_code}\n"};
  for (int i = 0; i < kClients; ++i) {
    args.insert(args.end(), {"-o", "/dev/null", Url("/slow")});
  }
  std::string curl_errors;
  auto slow = std::async(std::launch::async, [&] { return testing::RunCurl(args, &curl_errors); });

  // 64 requests at 200 ms on 8 workers keep the pool busy for at least 1.6 s.
  while (calls_.load() < 8) std::this_thread::sleep_for(milliseconds(5));
  std::vector<milliseconds> latencies;
  for (int i = 0; i < 15; ++i) {
    HttpResult health = RawRequest(server_->BoundPort(),
                                   "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(health.status, 200) << health.error;
    latencies.push_back(health.elapsed);
    std::this_thread::sleep_for(milliseconds(40));
  }
  EXPECT_LT(calls_.load(), kClients) << "the slow requests finished before /healthz was probed";

  std::istringstream codes(slow.get());
  int ok = 0;
  for (std::string code; std::getline(codes, code);) ok += code == "200" ? 1 : 0;
  EXPECT_EQ(ok, kClients) << curl_errors;
  EXPECT_EQ(calls_.load(), kClients);

  // Had a handler blocked an I/O thread, the first probes would wait for a
  // 200 ms call to end, because cpprestsdk 2.10.18 runs 40 I/O threads by default and
  // 64 requests arrive at once. Served from the I/O thread, a probe takes a
  // few milliseconds on loopback.
  EXPECT_LT(*std::max_element(latencies.begin(), latencies.end()), milliseconds(150));
}

TEST_F(HttpServerTest, FullQueueIs503) {
  Router router;
  ASSERT_TRUE(router
                  .Add(
                      "GET", "/wait",
                      [this](const Request&, const PathParams&) {
                        gate_.Wait();
                        return Response{};
                      },
                      AccessRule::kViewer)
                  .ok());
  HttpServerOptions options;
  options.workers = 1;
  options.max_queued_requests = 1;
  StartServer(std::move(router), std::move(options));

  auto running = std::async(std::launch::async, [this] { return Curl({Url("/wait")}); });
  gate_.WaitForWaiters(1);

  // The only worker is busy: of two more requests one is queued and the
  // other finds the queue full, so the first to finish must be the 503.
  auto second = std::async(std::launch::async, [this] { return Curl({Url("/wait")}); });
  auto third = std::async(std::launch::async, [this] { return Curl({Url("/wait")}); });
  std::future<HttpResult>* rejected_future = nullptr;
  for (int i = 0; i < 1000 && rejected_future == nullptr; ++i) {
    if (second.wait_for(milliseconds(10)) == std::future_status::ready) rejected_future = &second;
    if (third.wait_for(milliseconds(0)) == std::future_status::ready) rejected_future = &third;
  }
  ASSERT_NE(rejected_future, nullptr);
  HttpResult rejected = rejected_future->get();
  EXPECT_EQ(rejected.status, 503) << rejected.error;
  EXPECT_EQ(rejected.headers["retry-after"], "1");
  EXPECT_EQ(ParseJson(rejected)["reason"], "ServiceUnavailable");

  gate_.Open();
  EXPECT_EQ(running.get().status, 200);
  HttpResult queued = (rejected_future == &second ? third : second).get();
  EXPECT_EQ(queued.status, 200) << queued.error;
}

TEST_F(HttpServerTest, StopWaitsForRunningRequest) {
  Router router;
  ASSERT_TRUE(router
                  .Add(
                      "GET", "/wait",
                      [this](const Request&, const PathParams&) {
                        gate_.Wait();
                        Response response;
                        response.body = "done";
                        return response;
                      },
                      AccessRule::kViewer)
                  .ok());
  StartServer(std::move(router));
  uint16_t port = server_->BoundPort();

  auto running = std::async(std::launch::async, [this] { return Curl({Url("/wait")}); });
  gate_.WaitForWaiters(1);
  auto stopped =
      std::async(std::launch::async, [this] { return server_->Stop(milliseconds(10000)); });

  // While draining, new requests get 503 but /healthz still replies.
  HttpResult during;
  for (int i = 0; i < 100 && during.status != 503; ++i) {
    during = RawRequest(port, "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    if (during.status != 503) std::this_thread::sleep_for(milliseconds(20));
  }
  EXPECT_EQ(during.status, 503);
  EXPECT_EQ(ParseJson(during)["message"], "the server is shutting down");
  EXPECT_EQ(
      RawRequest(port, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").status,
      200);

  gate_.Open();
  HttpResult finished = running.get();
  EXPECT_EQ(finished.status, 200);
  EXPECT_EQ(finished.body, "done");
  Status stop = stopped.get();
  EXPECT_TRUE(stop.ok()) << stop.ToString();
  EXPECT_EQ(server_->BoundPort(), 0);
  EXPECT_NE(RawRequest(port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").status, 200);
}

TEST_F(HttpServerTest, StopTimesOutOnStuckHandler) {
  Router router;
  ASSERT_TRUE(router
                  .Add(
                      "GET", "/wait",
                      [this](const Request&, const PathParams&) {
                        gate_.Wait();
                        return Response{};
                      },
                      AccessRule::kViewer)
                  .ok());
  StartServer(std::move(router));

  auto running = std::async(std::launch::async, [this] { return Curl({Url("/wait")}); });
  gate_.WaitForWaiters(1);
  auto start = std::chrono::steady_clock::now();
  Status stop = server_->Stop(milliseconds(300));
  auto took = std::chrono::steady_clock::now() - start;

  EXPECT_EQ(stop.code(), Code::kDeadlineExceeded);
  EXPECT_NE(stop.message().find("1 request(s) were still in progress"), std::string::npos)
      << stop.message();
  EXPECT_LT(took, milliseconds(5000));
  EXPECT_NE(running.get().status, 200) << "the connection should have been closed";
  gate_.Open();  // lets the destructor's wait finish
  EXPECT_TRUE(server_->Stop(milliseconds(10)).ok()) << "a second Stop is a no-op";
}

}  // namespace
}  // namespace svcd::server::testing
