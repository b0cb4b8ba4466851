// HTTP checks of SystemProber against an in-test server on loopback whose
// replies each test writes byte by byte.

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "probe/system_prober.h"
#include "tests/probe/test_servers.h"

namespace svcd::probe {
namespace {

using testing::ChunkedPieces;
using testing::OkResponse;
using testing::ScriptedConnection;
using testing::ScriptedHttpServer;

ProbeTarget HttpTarget(const std::string& address, int port, const std::string& path = "/",
                       const std::string& keyword = "") {
  ProbeTarget target;
  target.address = address;
  target.probe.http = api::HttpProbe{};
  target.probe.http->port = port;
  target.probe.http->path = path;
  target.probe.http->keyword = keyword;
  target.probe.timeout_seconds = 2;
  return target;
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

TEST(HttpProbeTest, SendsWellFormedRequest) {
  ScriptedHttpServer server("127.0.0.1",
                            [](const ScriptedConnection& c) { c.Write(OkResponse("ok")); });
  ASSERT_TRUE(server.ok());
  ProbeTarget target = HttpTarget("127.0.0.1", server.port(), "/v1/completions?x=1");
  target.probe.http->method = "POST";
  target.probe.http->headers = {{"Content-Type", "application/json"}, {"X-Trace", "a b"}};
  target.probe.http->body = R"({"prompt":"Paris"})";

  ProbeResult result = SystemProber().Run(target);

  ASSERT_TRUE(result.success) << result.message;
  ASSERT_EQ(server.requests().size(), 1u);
  std::string request = server.requests()[0];
  std::string host = "Host: 127.0.0.1:" + std::to_string(server.port()) + "\r\n";
  EXPECT_EQ(request.rfind("POST /v1/completions?x=1 HTTP/1.1\r\n", 0), 0u) << request;
  EXPECT_NE(request.find(host), std::string::npos) << request;
  EXPECT_NE(request.find("Connection: close\r\n"), std::string::npos) << request;
  EXPECT_NE(request.find("Content-Type: application/json\r\n"), std::string::npos) << request;
  EXPECT_NE(request.find("X-Trace: a b\r\n"), std::string::npos) << request;
  EXPECT_NE(request.find("Content-Length: 18\r\n"), std::string::npos) << request;
  EXPECT_EQ(request.substr(request.size() - 18), R"({"prompt":"Paris"})") << request;
}

TEST(HttpProbeTest, HostHeaderOverridable) {
  ScriptedHttpServer server("127.0.0.1",
                            [](const ScriptedConnection& c) { c.Write(OkResponse("ok")); });
  ASSERT_TRUE(server.ok());
  ProbeTarget target = HttpTarget("127.0.0.1", server.port());
  target.probe.http->headers = {{"Host", "model.example"}};

  ASSERT_TRUE(SystemProber().Run(target).success);
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_NE(server.requests()[0].find("Host: model.example\r\n"), std::string::npos);
  EXPECT_EQ(server.requests()[0].find("Host: 127.0.0.1"), std::string::npos);
}

TEST(HttpProbeTest, ChunkedBodyKeywordAcrossChunks) {
  ScriptedHttpServer server("127.0.0.1", [](const ScriptedConnection& c) {
    c.WritePieces({"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"});
    c.WritePieces(ChunkedPieces({"The capital is Fr", "an", "ce."}));
  });
  ASSERT_TRUE(server.ok());

  ProbeResult result = SystemProber().Run(HttpTarget("127.0.0.1", server.port(), "/", "France"));

  EXPECT_TRUE(result.success) << result.message;
  EXPECT_EQ(result.http_status, 200);
  EXPECT_EQ(result.failure, FailureKind::kNone);
}

TEST(HttpProbeTest, KeywordMissingFromChunkedBody) {
  ScriptedHttpServer server("127.0.0.1", [](const ScriptedConnection& c) {
    c.WritePieces({"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"});
    c.WritePieces(ChunkedPieces({"Fran", "ce"}));
  });
  ASSERT_TRUE(server.ok());

  ProbeResult result = SystemProber().Run(HttpTarget("127.0.0.1", server.port(), "/", "Germany"));

  EXPECT_FALSE(result.success);
  EXPECT_EQ(result.failure, FailureKind::kKeywordMissing);
  EXPECT_NE(result.message.find("6-byte body"), std::string::npos) << result.message;
}

TEST(HttpProbeTest, RedirectNotFollowed) {
  ScriptedHttpServer server("127.0.0.1", [](const ScriptedConnection& c) {
    c.Write("HTTP/1.1 301 Moved\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n");
  });
  ASSERT_TRUE(server.ok());

  ProbeResult result = SystemProber().Run(HttpTarget("127.0.0.1", server.port(), "/start"));

  EXPECT_EQ(result.failure, FailureKind::kRedirect);
  EXPECT_EQ(result.http_status, 301);
  EXPECT_NE(result.message.find("/elsewhere"), std::string::npos) << result.message;
  EXPECT_EQ(server.requests().size(), 1u);  // the Location was not requested
}

TEST(HttpProbeTest, ExpectedRedirectStatusSucceeds) {
  ScriptedHttpServer server("127.0.0.1", [](const ScriptedConnection& c) {
    c.Write("HTTP/1.1 302 Found\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n");
  });
  ASSERT_TRUE(server.ok());
  ProbeTarget target = HttpTarget("127.0.0.1", server.port());
  target.probe.http->expect_status = 302;

  EXPECT_TRUE(SystemProber().Run(target).success);
}

TEST(HttpProbeTest, BadStatusCarriesBodyStart) {
  ScriptedHttpServer server("127.0.0.1", [](const ScriptedConnection& c) {
    std::string body = "{\"error\":\"model\nnot loaded\"}";
    c.Write("HTTP/1.1 503 Service Unavailable\r\nContent-Length: " + std::to_string(body.size()) +
            "\r\n\r\n" + body);
  });
  ASSERT_TRUE(server.ok());

  ProbeResult result = SystemProber().Run(HttpTarget("127.0.0.1", server.port()));

  EXPECT_EQ(result.failure, FailureKind::kBadStatus);
  EXPECT_EQ(result.http_status, 503);
  EXPECT_NE(result.message.find("expected 2xx"), std::string::npos) << result.message;
  EXPECT_NE(result.message.find("model not loaded"), std::string::npos) << result.message;
}

TEST(HttpProbeTest, ExpectStatusRejectsOther2xx) {
  ScriptedHttpServer server("127.0.0.1",
                            [](const ScriptedConnection& c) { c.Write(OkResponse("")); });
  ASSERT_TRUE(server.ok());
  ProbeTarget target = HttpTarget("127.0.0.1", server.port());
  target.probe.http->expect_status = 204;

  ProbeResult result = SystemProber().Run(target);

  EXPECT_EQ(result.failure, FailureKind::kBadStatus);
  EXPECT_NE(result.message.find("expected 204"), std::string::npos) << result.message;
}

TEST(HttpProbeTest, SilentServerTimesOut) {
  ScriptedHttpServer server("127.0.0.1", [](const ScriptedConnection& c) { c.HoldUntilStopped(); });
  ASSERT_TRUE(server.ok());
  ProbeTarget target = HttpTarget("127.0.0.1", server.port());
  target.probe.timeout_seconds = 1;

  auto start = std::chrono::steady_clock::now();
  ProbeResult result = SystemProber().Run(target);
  double elapsed = SecondsSince(start);

  EXPECT_EQ(result.failure, FailureKind::kTimeout);
  EXPECT_NE(result.message.find("timed out reading"), std::string::npos) << result.message;
  EXPECT_GE(elapsed, 0.9);
  EXPECT_LT(elapsed, 2.5);
}

TEST(HttpProbeTest, SlowBodyCountsAgainstOneDeadline) {
  // Each piece arrives well within the timeout, but all of them take longer.
  ScriptedHttpServer server("127.0.0.1", [](const ScriptedConnection& c) {
    c.Write("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
    for (int i = 0; i < 40 && !c.stopping->load(); ++i) {
      if (!c.Write("x")) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  ASSERT_TRUE(server.ok());
  ProbeTarget target = HttpTarget("127.0.0.1", server.port(), "/", "never-there");
  target.probe.timeout_seconds = 1;

  auto start = std::chrono::steady_clock::now();
  ProbeResult result = SystemProber().Run(target);
  double elapsed = SecondsSince(start);

  EXPECT_EQ(result.failure, FailureKind::kTimeout) << result.message;
  EXPECT_EQ(result.http_status, 200);
  EXPECT_LT(elapsed, 2.5);
}

TEST(HttpProbeTest, ConnectTimesOutOnFullBacklog) {
  testing::FullBacklogListener listener;
  ASSERT_TRUE(listener.ok());
  ProbeTarget target = HttpTarget("127.0.0.1", listener.port());
  target.probe.timeout_seconds = 1;

  auto start = std::chrono::steady_clock::now();
  ProbeResult result = SystemProber().Run(target);
  double elapsed = SecondsSince(start);

  EXPECT_EQ(result.failure, FailureKind::kTimeout) << result.message;
  EXPECT_NE(result.message.find("timed out connecting"), std::string::npos) << result.message;
  EXPECT_LT(elapsed, 2.5);
}

TEST(HttpProbeTest, ContentLengthEndsReadWithoutClose) {
  // The server keeps the connection open after the body; the probe must not
  // wait for the close.
  ScriptedHttpServer server("127.0.0.1", [](const ScriptedConnection& c) {
    c.Write(OkResponse("the answer is France"));
    c.HoldUntilStopped();
  });
  ASSERT_TRUE(server.ok());
  ProbeTarget target = HttpTarget("127.0.0.1", server.port(), "/", "Paris");
  target.probe.timeout_seconds = 3;

  auto start = std::chrono::steady_clock::now();
  ProbeResult result = SystemProber().Run(target);

  EXPECT_EQ(result.failure, FailureKind::kKeywordMissing) << result.message;
  EXPECT_LT(SecondsSince(start), 1.5);
}

TEST(HttpProbeTest, HugeBodyCappedAndKeywordBeyondCapMissing) {
  // 4 MiB of filler, then the keyword: past the 1 MiB read limit.
  ScriptedHttpServer server("127.0.0.1", [](const ScriptedConnection& c) {
    std::string filler(64 * 1024, 'x');
    if (!c.Write("HTTP/1.1 200 OK\r\nContent-Length: 4194310\r\n\r\n")) return;
    for (int i = 0; i < 64; ++i) {
      if (!c.Write(filler)) return;
    }
    c.Write("France");
  });
  ASSERT_TRUE(server.ok());
  ProbeTarget target = HttpTarget("127.0.0.1", server.port(), "/", "France");
  target.probe.timeout_seconds = 5;

  ProbeResult result = SystemProber().Run(target);

  EXPECT_EQ(result.failure, FailureKind::kKeywordMissing) << result.message;
  EXPECT_NE(result.message.find("first 1048576 bytes"), std::string::npos) << result.message;
}

TEST(HttpProbeTest, KeywordWithinCapStopsReading) {
  ScriptedHttpServer server("127.0.0.1", [](const ScriptedConnection& c) {
    std::string filler(64 * 1024, 'x');
    if (!c.Write("HTTP/1.1 200 OK\r\n\r\nFrance")) return;
    for (int i = 0; i < 64; ++i) {
      if (!c.Write(filler)) return;
    }
  });
  ASSERT_TRUE(server.ok());

  ProbeResult result = SystemProber().Run(HttpTarget("127.0.0.1", server.port(), "/", "France"));

  EXPECT_TRUE(result.success) << result.message;
}

TEST(HttpProbeTest, GarbageIsProtocolError) {
  ScriptedHttpServer server("127.0.0.1",
                            [](const ScriptedConnection& c) { c.Write("SSH-2.0-OpenSSH\r\n"); });
  ASSERT_TRUE(server.ok());

  ProbeResult result = SystemProber().Run(HttpTarget("127.0.0.1", server.port()));

  EXPECT_EQ(result.failure, FailureKind::kProtocolError);
  EXPECT_NE(result.message.find("HTTP/1.x status line"), std::string::npos) << result.message;
}

TEST(HttpProbeTest, CloseWithoutResponseIsProtocolError) {
  ScriptedHttpServer server("127.0.0.1", [](const ScriptedConnection&) {});
  ASSERT_TRUE(server.ok());

  ProbeResult result = SystemProber().Run(HttpTarget("127.0.0.1", server.port()));

  EXPECT_EQ(result.failure, FailureKind::kProtocolError);
  EXPECT_NE(result.message.find("without a response"), std::string::npos) << result.message;
}

TEST(HttpProbeTest, InvalidUtf8BodyKeptOutOfMessage) {
  ScriptedHttpServer server("127.0.0.1", [](const ScriptedConnection& c) {
    c.Write("HTTP/1.1 500 Oops\r\nContent-Length: 6\r\n\r\nab\xff\xfe\r\n");
  });
  ASSERT_TRUE(server.ok());

  ProbeResult result = SystemProber().Run(HttpTarget("127.0.0.1", server.port()));

  EXPECT_EQ(result.failure, FailureKind::kBadStatus);
  // Invalid bytes become '?', and the body's final line break is dropped.
  EXPECT_NE(result.message.find("\"ab??\""), std::string::npos) << result.message;
}

TEST(HttpProbeTest, Ipv6LoopbackBracketedInHostHeader) {
  if (!testing::HaveIpv6Loopback()) GTEST_SKIP() << "no IPv6 loopback on this machine";
  ScriptedHttpServer server("::1", [](const ScriptedConnection& c) { c.Write(OkResponse("ok")); });
  ASSERT_TRUE(server.ok());

  for (const std::string address : {"::1", "[::1]"}) {
    ProbeResult result = SystemProber().Run(HttpTarget(address, server.port(), "/health"));
    EXPECT_TRUE(result.success) << address << ": " << result.message;
    std::string url = "http://[::1]:" + std::to_string(server.port()) + "/health";
    EXPECT_NE(result.message.find(url), std::string::npos) << result.message;
  }
  ASSERT_EQ(server.requests().size(), 2u);
  std::string host = "Host: [::1]:" + std::to_string(server.port()) + "\r\n";
  EXPECT_NE(server.requests()[0].find(host), std::string::npos) << server.requests()[0];
}

TEST(HttpProbeTest, RefusedPortReportsRefusal) {
  testing::RefusingPort port;
  ProbeResult result = SystemProber().Run(HttpTarget("127.0.0.1", port.port()));

  EXPECT_EQ(result.failure, FailureKind::kConnectionRefused);
  EXPECT_STREQ(FailureKindName(result.failure), "ConnectionRefused");
  EXPECT_NE(result.message.find("refused"), std::string::npos) << result.message;
}

TEST(HttpProbeTest, TargetPortOverridesProbePort) {
  ScriptedHttpServer server("127.0.0.1",
                            [](const ScriptedConnection& c) { c.Write(OkResponse("ok")); });
  ASSERT_TRUE(server.ok());
  ProbeTarget target = HttpTarget("127.0.0.1", 1);
  target.port = server.port();

  EXPECT_TRUE(SystemProber().Run(target).success);
}

TEST(HttpProbeTest, DnsNameResolvedAndSentAsHost) {
  // On machines where localhost resolves to ::1 before 127.0.0.1, nothing
  // listens on ::1 at this port, so the probe must move on to 127.0.0.1.
  ScriptedHttpServer server("127.0.0.1",
                            [](const ScriptedConnection& c) { c.Write(OkResponse("ok")); });
  ASSERT_TRUE(server.ok());

  ProbeResult result = SystemProber().Run(HttpTarget("localhost", server.port()));

  EXPECT_TRUE(result.success) << result.message;
  ASSERT_EQ(server.requests().size(), 1u);
  std::string host = "Host: localhost:" + std::to_string(server.port()) + "\r\n";
  EXPECT_NE(server.requests()[0].find(host), std::string::npos) << server.requests()[0];
}

}  // namespace
}  // namespace svcd::probe
