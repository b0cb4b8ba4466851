#include "metrics/exposition.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "metrics/text_format.h"
#include "tests/metrics/test_util.h"

namespace svcd::metrics {
namespace {

using namespace std::chrono_literals;
using testing::CurlGet;
using testing::SampleValue;

std::unique_ptr<SvcdMetrics> NewMetrics() {
  auto created = SvcdMetrics::Create("9.9.9");
  EXPECT_TRUE(created.ok()) << created.status().message();
  return created.ok() ? std::move(*created) : nullptr;
}

// A TCP socket listening on 127.0.0.1 at a port the kernel picked, closed on
// destruction.
class HeldPort {
 public:
  HeldPort() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        listen(fd_, 4) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      return;
    }
    port_ = ntohs(address.sin_port);
  }
  ~HeldPort() {
    if (fd_ >= 0) close(fd_);
  }
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

// Renders until `series` has `value`, because a request is recorded just
// after its reply is sent and curl may return first.
double WaitForSample(const SvcdMetrics& metrics, const std::string& series, double value) {
  double seen = -1;
  for (int i = 0; i < 500; ++i) {
    seen = SampleValue(metrics.Render(), series);
    if (seen == value) break;
    std::this_thread::sleep_for(10ms);
  }
  return seen;
}

TEST(MetricsListenerTest, ServesScrapesOverHttp) {
  auto metrics = NewMetrics();
  ASSERT_NE(metrics, nullptr);
  ASSERT_TRUE(metrics->SetDeployTargets("eval", "qwen", {{"master", "READY", 1}}).ok());
  metrics->ObserveReconcile(kDeployControllerName, "success", 5ms);

  auto listener = StartMetricsListener({.address = "127.0.0.1:0"}, metrics->registry());
  ASSERT_TRUE(listener.ok()) << listener.status().message();
  uint16_t port = (*listener)->BoundPort();
  ASSERT_NE(port, 0);
  testing::Scrape scrape = CurlGet("http://127.0.0.1:" + std::to_string(port) + "/metrics");

  ASSERT_EQ(scrape.status, 200) << scrape.error;
  EXPECT_EQ(scrape.content_type, kTextContentType);
  EXPECT_EQ(SampleValue(scrape.body, "svcd_build_info{version=\"9.9.9\"}"), 1);
  EXPECT_EQ(SampleValue(scrape.body,
                        "svcd_targets{namespace=\"eval\",deploy=\"qwen\","
                        "role=\"master\",state=\"READY\"}"),
            1);
  EXPECT_EQ(SampleValue(scrape.body,
                        "svcd_reconcile_total{controller=\"servicedeploy\","
                        "result=\"success\"}"),
            1);
  testing::CommandResult check = testing::PromtoolCheck(scrape.body);
  EXPECT_EQ(check.exit_code, 0) << check.output;
  EXPECT_EQ(check.output, "");

  // Scrapes see later updates.
  metrics->ObserveReconcile(kDeployControllerName, "success", 5ms);
  scrape = CurlGet("http://127.0.0.1:" + std::to_string(port) + "/metrics");
  EXPECT_EQ(SampleValue(scrape.body,
                        "svcd_reconcile_total{controller=\"servicedeploy\","
                        "result=\"success\"}"),
            2);
}

TEST(MetricsListenerTest, ServesOnlyMetrics) {
  auto metrics = NewMetrics();
  ASSERT_NE(metrics, nullptr);
  auto listener = StartMetricsListener({.address = "127.0.0.1:0"}, metrics->registry());
  ASSERT_TRUE(listener.ok()) << listener.status().message();
  const std::string base = (*listener)->BaseUrl();

  EXPECT_EQ(CurlGet(base + "/apis/svcd.io/v1alpha1/hosts").status, 404);
  EXPECT_EQ(CurlGet(base + "/metrics", {"-X", "POST"}).status, 405);
  EXPECT_EQ(CurlGet(base + "/healthz").status, 200);
}

TEST(MetricsListenerTest, ReportsTakenPort) {
  auto metrics = NewMetrics();
  ASSERT_NE(metrics, nullptr);
  HeldPort taken;
  ASSERT_NE(taken.port(), 0);
  const std::string address = "127.0.0.1:" + std::to_string(taken.port());

  auto listener = StartMetricsListener({.address = address}, metrics->registry());
  ASSERT_FALSE(listener.ok());
  EXPECT_EQ(listener.status().code(), Code::kUnavailable);
  EXPECT_EQ(listener.status().message().rfind(
                "--metrics-listen " + address + ": address already in use; ", 0),
            0u)
      << listener.status().message();
}

TEST(MetricsListenerTest, ReportsPortOfAnotherServerInThisProcess) {
  auto metrics = NewMetrics();
  ASSERT_NE(metrics, nullptr);
  auto first = StartMetricsListener({.address = "127.0.0.1:0"}, metrics->registry());
  ASSERT_TRUE(first.ok()) << first.status().message();
  const std::string address = "127.0.0.1:" + std::to_string((*first)->BoundPort());

  auto second = StartMetricsListener({.address = address}, metrics->registry());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Code::kUnavailable);
  EXPECT_EQ(second.status().message().rfind("--metrics-listen " + address + ": ", 0), 0u)
      << second.status().message();
  EXPECT_NE(second.status().message().find("address already in use"), std::string::npos)
      << second.status().message();
  // The first listener still serves.
  EXPECT_EQ(CurlGet((*first)->BaseUrl() + "/metrics").status, 200);
}

TEST(MetricsListenerTest, RejectsBadAddresses) {
  auto metrics = NewMetrics();
  ASSERT_NE(metrics, nullptr);

  auto malformed = StartMetricsListener({.address = "9100"}, metrics->registry());
  ASSERT_FALSE(malformed.ok());
  EXPECT_EQ(malformed.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(malformed.status().message().rfind("--metrics-listen 9100: ", 0), 0u)
      << malformed.status().message();

  // Nothing is bound: the check happens before binding.
  auto open = StartMetricsListener({.address = "0.0.0.0:0"}, metrics->registry());
  ASSERT_FALSE(open.ok());
  EXPECT_EQ(open.status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(open.status().message().rfind("--metrics-listen 0.0.0.0:0: ", 0), 0u)
      << open.status().message();
}

TEST(MetricsRouteTest, IsPublicBehindTokenAuth) {
  auto metrics = NewMetrics();
  ASSERT_NE(metrics, nullptr);
  server::Router router;
  ASSERT_TRUE(AddMetricsRoute(router, metrics->registry()).ok());
  ASSERT_FALSE(AddMetricsRoute(router, metrics->registry()).ok());
  ASSERT_TRUE(router
                  .Add(
                      "GET", "/apis/svcd.io/v1alpha1/hosts",
                      [](const server::Request&, const server::PathParams&) {
                        return server::Response{200, "application/json", "{}", {}};
                      },
                      server::AccessRule::kViewer)
                  .ok());
  auto tokens = server::TokenAuthenticator::Parse("secret-token,alice,viewer\n", "tokens");
  ASSERT_TRUE(tokens.ok()) << tokens.status().message();
  server::HttpServerOptions options;
  options.listen = "127.0.0.1:0";
  options.workers = 2;
  options.request_observer = ApiRequestObserver(*metrics);
  server::HttpServer server(std::move(options), std::move(router),
                            std::make_unique<server::TokenAuthenticator>(std::move(*tokens)));
  ASSERT_TRUE(server.Start().ok());
  const std::string base = server.BaseUrl();

  testing::Scrape scrape = CurlGet(base + "/metrics");
  EXPECT_EQ(scrape.status, 200) << scrape.error;
  EXPECT_EQ(scrape.content_type, kTextContentType);
  EXPECT_EQ(CurlGet(base + "/apis/svcd.io/v1alpha1/hosts").status, 401);
  EXPECT_EQ(
      CurlGet(base + "/apis/svcd.io/v1alpha1/hosts", {"-H", "Authorization: Bearer secret-token"})
          .status,
      200);
  EXPECT_EQ(CurlGet(base + "/no/such/path/abc123").status, 401);
  EXPECT_EQ(
      CurlGet(base + "/no/such/path/abc123", {"-H", "Authorization: Bearer secret-token"}).status,
      404);
  EXPECT_EQ(CurlGet(base + "/healthz").status, 200);

  const std::string requests = "svcd_api_requests_total{verb=\"GET\",resource=";
  EXPECT_EQ(WaitForSample(*metrics, requests + "\"metrics\",code=\"200\"}", 1), 1);
  EXPECT_EQ(WaitForSample(*metrics, requests + "\"hosts\",code=\"401\"}", 1), 1);
  EXPECT_EQ(WaitForSample(*metrics, requests + "\"hosts\",code=\"200\"}", 1), 1);
  EXPECT_EQ(WaitForSample(*metrics, requests + "\"other\",code=\"401\"}", 1), 1);
  EXPECT_EQ(WaitForSample(*metrics, requests + "\"other\",code=\"404\"}", 1), 1);
  EXPECT_EQ(WaitForSample(*metrics, requests + "\"healthz\",code=\"200\"}", 1), 1);
  const std::string text = metrics->Render();
  // The raw path never becomes a label.
  EXPECT_EQ(text.find("abc123"), std::string::npos);
  EXPECT_EQ(SampleValue(text,
                        "svcd_api_request_duration_seconds_count{verb=\"GET\","
                        "resource=\"hosts\"}"),
            2);
}

}  // namespace
}  // namespace svcd::metrics
