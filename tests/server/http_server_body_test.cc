// Tests of how HttpServer reads request bodies: content types, Expect:
// 100-continue, chunked transfer and the body limit.

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <fstream>
#include <iterator>

#include "server/http_server.h"
#include "server/status_response.h"
#include "tests/server/http_server_fixture.h"
#include "tests/server/http_test_client.h"

namespace svcd::server::testing {
namespace {

using std::chrono::milliseconds;

long MaxRssKib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

TEST_F(HttpServerTest, ReadsEveryContentTypeAsBytes) {
  StartServer(TestRouter());
  std::string yaml = "apiVersion: svcd.io/v1alpha1\nkind: Host\nmetadata: {name: h\xc3\xa9}\n";
  std::string path = testing::WriteFile("body.yaml", yaml);

  for (std::string type :
       {"Content-Type: application/yaml", "Content-Type: application/json",
        "Content-Type: text/plain", "Content-Type: application/x-foo", "Content-Type:"}) {
    HttpResult result = Curl({"-H", type, "--data-binary", "@" + path, Url("/body")});
    EXPECT_EQ(result.status, 200) << type << " " << result.body;
    EXPECT_EQ(result.body, yaml) << type;
  }
}

TEST_F(HttpServerTest, BinaryBodyArrivesIntact) {
  StartServer(TestRouter());
  std::string path = testing::WriteRandomFile("binary.bin", 700 * 1024);

  HttpResult result = Curl({"-H", "Expect:", "--data-binary", "@" + path, Url("/body")});
  ASSERT_EQ(result.status, 200) << result.error;
  std::ifstream in(path, std::ios::binary);
  std::string sent((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(result.body == sent)
      << "echoed body differs; sizes " << result.body.size() << " and " << sent.size();
}

TEST_F(HttpServerTest, ExpectContinueBodyArrivesIntact) {
  StartServer(TestRouter());
  std::string path = testing::WriteRandomFile("expect.bin", 300 * 1024);

  HttpResult result =
      Curl({"-v", "-H", "Expect: 100-continue", "--data-binary", "@" + path, Url("/body")});
  ASSERT_EQ(result.status, 200) << result.error;
  EXPECT_NE(result.error.find("Expect: 100-continue"), std::string::npos)
      << "curl did not send the Expect header";
  std::ifstream in(path, std::ios::binary);
  std::string sent((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(result.body.size(), sent.size());
  EXPECT_TRUE(result.body == sent);
}

TEST_F(HttpServerTest, ChunkedBodyUnderLimitArrivesIntact) {
  StartServer(TestRouter());
  std::string path = testing::WriteRandomFile("chunked-small.bin", 900 * 1024);

  HttpResult result = Curl({"-H", "Transfer-Encoding: chunked", "-H", "Expect:", "--data-binary",
                            "@" + path, Url("/body")});
  ASSERT_EQ(result.status, 200) << result.error;
  EXPECT_EQ(result.body.size(), 900u * 1024u);
}

TEST_F(HttpServerTest, BodyAtLimitIsAccepted) {
  HttpServerOptions options;
  options.max_body_bytes = 4096;
  StartServer(TestRouter(), std::move(options));

  std::string exact = testing::WriteRandomFile("exact.bin", 4096);
  EXPECT_EQ(Curl({"--data-binary", "@" + exact, Url("/body")}).status, 200);
  std::string over = testing::WriteRandomFile("over.bin", 4097);
  HttpResult result = Curl({"--data-binary", "@" + over, Url("/body")});
  EXPECT_EQ(result.status, 413);
  nlohmann::json body = ParseJson(result);
  EXPECT_EQ(body["reason"], "RequestEntityTooLarge");
  EXPECT_EQ(body["message"], "request body of 4097 bytes exceeds the limit of 4096 bytes");
}

TEST_F(HttpServerTest, DeclaredLengthOverLimitIs413WithoutReadingBody) {
  Router router;
  ASSERT_TRUE(router
                  .Add(
                      "POST", "/body",
                      [this](const Request& request, const PathParams& params) {
                        ++calls_;
                        return EchoBody(request, params);
                      },
                      AccessRule::kViewer)
                  .ok());
  StartServer(std::move(router));

  // Headers promise 100 MiB but no body follows: only an early reply can arrive.
  HttpResult result = RawRequest(server_->BoundPort(),
                                 "POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 104857600\r\n"
                                 "Content-Type: application/yaml\r\n\r\n",
                                 std::chrono::seconds(5));
  EXPECT_EQ(result.status, 413) << result.error;
  EXPECT_LT(result.elapsed, milliseconds(2000));
  EXPECT_EQ(result.headers["connection"], "close");
  EXPECT_EQ(ParseJson(result)["message"],
            "request body of 104857600 bytes exceeds the limit of 1048576 bytes");

  // curl waits up to 1 s for "100 Continue"; an early 413 ends that wait.
  std::string path = testing::WriteRandomFile("big.bin", 3 << 20);
  HttpResult curl = Curl({"-H", "Expect: 100-continue", "--data-binary", "@" + path, Url("/body")});
  EXPECT_EQ(curl.status, 413) << curl.error;
  EXPECT_LT(curl.elapsed, milliseconds(900));
  EXPECT_EQ(calls_.load(), 0);
  EXPECT_EQ(Curl({Url("/healthz")}).status, 200);
}

TEST_F(HttpServerTest, ChunkedBodyOverLimitIs413WithBoundedMemory) {
  Router router;
  ASSERT_TRUE(router
                  .Add(
                      "POST", "/body",
                      [this](const Request& request, const PathParams& params) {
                        ++calls_;
                        return EchoBody(request, params);
                      },
                      AccessRule::kViewer)
                  .ok());
  StartServer(std::move(router));
  constexpr size_t kBodyBytes = size_t{48} << 20;
  std::string path = testing::WriteRandomFile("chunked-big.bin", kBodyBytes);

  long before_kib = MaxRssKib();
  HttpResult result = Curl({"-H", "Transfer-Encoding: chunked", "-H", "Expect:", "--data-binary",
                            "@" + path, Url("/body")});
  long growth_kib = MaxRssKib() - before_kib;

  EXPECT_EQ(result.status, 413) << result.error;
  // Depending on how fast the server discards, it reads the whole body or
  // stops once more than the limit is waiting unread.
  std::string message = ParseJson(result)["message"];
  EXPECT_TRUE(message == "request body of " + std::to_string(kBodyBytes) +
                             " bytes exceeds the limit of 1048576 bytes" ||
              message.starts_with("request body exceeds the limit of 1048576 bytes; "))
      << message;
  EXPECT_EQ(calls_.load(), 0);
  // The whole body is 48 MiB. Reading in bounded pieces, and stopping when
  // the unread backlog passes the limit, keeps the high-water mark far below.
  EXPECT_LT(growth_kib, 16 * 1024) << "memory grew by " << growth_kib << " KiB";
}

}  // namespace
}  // namespace svcd::server::testing
