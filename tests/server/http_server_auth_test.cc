// Tests of bearer-token authentication and roles in HttpServer, and of the
// request log, over real HTTP on 127.0.0.1.

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <sstream>

#include "server/http_server.h"
#include "server/status_response.h"
#include "tests/server/http_server_fixture.h"
#include "tests/server/http_test_client.h"

namespace svcd::server::testing {
namespace {

using std::chrono::milliseconds;

TEST_F(HttpServerTest, BearerTokenAndRolesAreEnforced) {
  StartWithTokens(TestRouter());
  std::string deploy = Url("/apis/svcd.io/v1alpha1/namespaces/eval/servicedeploys/qwen");

  HttpResult missing = Curl({deploy});
  EXPECT_EQ(missing.status, 401);
  EXPECT_EQ(ParseJson(missing)["reason"], "Unauthorized");
  EXPECT_EQ(missing.headers["www-authenticate"], "Bearer realm=\"svcd\"");

  HttpResult wrong = Curl({"-H", "Authorization: Bearer viewer-token-X", deploy});
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(ParseJson(wrong)["message"], "invalid bearer token");

  HttpResult viewer_get = Curl({"-H", "Authorization: Bearer viewer-token-1", deploy});
  ASSERT_EQ(viewer_get.status, 200);
  nlohmann::json seen = ParseJson(viewer_get);
  EXPECT_EQ(seen["user"], "alice");
  EXPECT_EQ(seen["role"], "viewer");
  EXPECT_FALSE(seen["headers"].contains("authorization")) << "the handler saw the token";

  HttpResult viewer_put =
      Curl({"-X", "PUT", "-H", "Authorization: Bearer viewer-token-1", "-d", "{}", deploy});
  EXPECT_EQ(viewer_put.status, 403);
  nlohmann::json forbidden = ParseJson(viewer_put);
  EXPECT_EQ(forbidden["reason"], "Forbidden");
  EXPECT_NE(forbidden["message"].get<std::string>().find("role editor or higher is required"),
            std::string::npos)
      << forbidden["message"];

  HttpResult editor_put =
      Curl({"-X", "PUT", "-H", "Authorization: Bearer editor-token-2", "-d", "{}", deploy});
  EXPECT_EQ(editor_put.status, 200);
  EXPECT_EQ(ParseJson(editor_put)["user"], "bob");

  EXPECT_EQ(Curl({"-X", "DELETE", "-H", "Authorization: Bearer editor-token-2", Url("/admin-only")})
                .status,
            403);
  EXPECT_EQ(Curl({"-X", "DELETE", "-H", "Authorization: Bearer admin-token-3", Url("/admin-only")})
                .status,
            200);
}

TEST_F(HttpServerTest, UnauthenticatedRequestsLearnNothingAboutPaths) {
  StartWithTokens(TestRouter());

  EXPECT_EQ(Curl({Url("/no/such/path")}).status, 401);
  EXPECT_EQ(Curl({"-H", "Authorization: Bearer viewer-token-1", Url("/no/such/path")}).status, 404);
  // Built-in endpoints need no token.
  EXPECT_EQ(Curl({Url("/healthz")}).status, 200);
  EXPECT_EQ(Curl({Url("/readyz")}).status, 200);
  EXPECT_EQ(Curl({Url("/version")}).status, 200);
}

TEST_F(HttpServerTest, PublicRouteNeedsNoToken) {
  StartWithTokens(TestRouter());

  HttpResult anonymous =
      Curl({"-H", "Authorization: Bearer dispatch-secret", "-d", "{}", Url("/reports/d-1")});
  ASSERT_EQ(anonymous.status, 200);
  nlohmann::json seen = ParseJson(anonymous);
  EXPECT_EQ(seen["user"], "");
  EXPECT_EQ(seen["params"]["dispatch"], "d-1");
  EXPECT_EQ(seen["headers"]["authorization"], "Bearer dispatch-secret")
      << "a public route authenticates the caller itself";

  HttpResult known =
      Curl({"-H", "Authorization: Bearer admin-token-3", "-d", "{}", Url("/reports/d-1")});
  EXPECT_EQ(ParseJson(known)["user"], "carol");
}

TEST_F(HttpServerTest, RejectedBodyIsNotReadBeforeAuth) {
  StartWithTokens(TestRouter());
  std::string path = testing::WriteRandomFile("unauthorized.bin", 2 << 20);

  HttpResult result =
      Curl({"-H", "Expect: 100-continue", "--data-binary", "@" + path, Url("/body")});
  EXPECT_EQ(result.status, 401) << result.error;
  EXPECT_LT(result.elapsed, milliseconds(900));
}

TEST_F(HttpServerTest, LogLinesCarryRequestIdButNoToken) {
  auto stream = std::make_shared<std::ostringstream>();
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(*stream);
  auto previous = spdlog::default_logger();
  auto logger = std::make_shared<spdlog::logger>("test", sink);
  logger->set_level(spdlog::level::debug);
  spdlog::set_default_logger(logger);

  StartWithTokens(TestRouter());
  std::string deploy = Url("/apis/svcd.io/v1alpha1/namespaces/eval/servicedeploys/qwen");
  HttpResult good = Curl({"-H", "Authorization: Bearer viewer-token-1", deploy});
  HttpResult bad = Curl({"-H", "Authorization: Bearer guessed-token-9", deploy});
  server_->Stop(milliseconds(2000));
  spdlog::set_default_logger(previous);

  std::string log = stream->str();
  EXPECT_NE(log.find("id=" + good.headers["x-request-id"]), std::string::npos) << log;
  EXPECT_NE(log.find("id=" + bad.headers["x-request-id"]), std::string::npos) << log;
  EXPECT_NE(log.find("status=401"), std::string::npos) << log;
  EXPECT_NE(log.find("user=alice"), std::string::npos) << log;
  EXPECT_EQ(log.find("viewer-token-1"), std::string::npos) << log;
  EXPECT_EQ(log.find("guessed-token-9"), std::string::npos) << log;
}

}  // namespace
}  // namespace svcd::server::testing
