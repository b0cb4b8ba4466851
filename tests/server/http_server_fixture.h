// Shared parts of the HttpServer tests: handlers that report what they
// received, a gate that holds handlers, and a fixture that starts a server
// on 127.0.0.1 with a picked free port.

#ifndef SVCD_TESTS_SERVER_HTTP_SERVER_FIXTURE_H_
#define SVCD_TESTS_SERVER_HTTP_SERVER_FIXTURE_H_

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "server/http_server.h"
#include "tests/server/http_test_client.h"

namespace svcd::server::testing {

inline constexpr char kTokens[] =
    "viewer-token-1,alice,viewer\n"
    "editor-token-2,bob,editor\n"
    "admin-token-3,carol,admin\n";

// Describes the request as JSON, so tests can check what the handler saw.
inline Response DescribeRequest(const Request& request, const PathParams& params) {
  nlohmann::json description = {
      {"method", request.method},
      {"path", request.path},
      {"query", request.query},
      {"params", params},
      {"user", request.user},
      {"role", request.role},
      {"headers", request.headers},
      {"bodySize", request.body.size()},
      {"requestId", request.request_id},
  };
  Response response;
  response.body = description.dump();
  return response;
}

// Sends the body back unchanged.
inline Response EchoBody(const Request& request, const PathParams&) {
  Response response;
  response.content_type = "application/octet-stream";
  response.body = request.body;
  return response;
}

// A gate that handlers wait on until the test opens it.
class Gate {
 public:
  void Wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    ++waiting_;
    changed_.notify_all();
    changed_.wait(lock, [this] { return open_; });
  }
  void WaitForWaiters(int count) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait_for(lock, std::chrono::seconds(10), [&] { return waiting_ >= count; });
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int waiting_ = 0;
  bool open_ = false;
};

inline Router TestRouter() {
  Router router;
  EXPECT_TRUE(router
                  .Add("GET", "/apis/svcd.io/v1alpha1/namespaces/{ns}/servicedeploys/{name}",
                       DescribeRequest, AccessRule::kViewer)
                  .ok());
  EXPECT_TRUE(router
                  .Add("PUT", "/apis/svcd.io/v1alpha1/namespaces/{ns}/servicedeploys/{name}",
                       DescribeRequest, AccessRule::kEditor)
                  .ok());
  EXPECT_TRUE(router.Add("POST", "/body", EchoBody, AccessRule::kViewer).ok());
  EXPECT_TRUE(router.Add("DELETE", "/admin-only", DescribeRequest, AccessRule::kAdmin).ok());
  EXPECT_TRUE(router.Add("POST", "/reports/{dispatch}", DescribeRequest, AccessRule::kPublic).ok());
  return router;
}

inline HttpServerOptions ListenOn(std::string listen) {
  HttpServerOptions options;
  options.listen = std::move(listen);
  return options;
}

inline nlohmann::json ParseJson(const HttpResult& result) {
  nlohmann::json parsed = nlohmann::json::parse(result.body, nullptr, false);
  EXPECT_FALSE(parsed.is_discarded()) << "not JSON: " << result.body << " " << result.error;
  return parsed;
}

// Starts servers on 127.0.0.1 and keeps what their handlers use alive
// until the server is gone.
class HttpServerTest : public ::testing::Test {
 protected:
  // Starts a server on 127.0.0.1 with a picked free port.
  void StartServer(Router router, HttpServerOptions options = {},
                   std::unique_ptr<TokenAuthenticator> auth = nullptr) {
    options.listen = "127.0.0.1:0";
    server_ = std::make_unique<HttpServer>(std::move(options), std::move(router), std::move(auth));
    Status started = server_->Start();
    ASSERT_TRUE(started.ok()) << started.ToString();
  }

  void StartWithTokens(Router router) {
    StatusOr<TokenAuthenticator> auth = TokenAuthenticator::Parse(kTokens, "tokens.csv");
    ASSERT_TRUE(auth.ok()) << auth.status().ToString();
    StartServer(std::move(router), {},
                std::make_unique<TokenAuthenticator>(std::move(auth).value()));
  }

  std::string Url(const std::string& path) const { return server_->BaseUrl() + path; }

  // Declared before server_ so that handlers still running while the server
  // shuts down never see them destroyed.
  Gate gate_;
  std::atomic<int> calls_{0};
  std::unique_ptr<HttpServer> server_;
};

}  // namespace svcd::server::testing

#endif  // SVCD_TESTS_SERVER_HTTP_SERVER_FIXTURE_H_
