#include "server/status_response.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace svcd::server {
namespace {

TEST(StatusResponseTest, InvalidHasCausesWithLineAndColumn) {
  Status invalid = Status::InvalidArgument(
      "ServiceDeploy eval/qwen is invalid",
      {Cause{"spec.master.host", "missing required field; set a Host name", 7, 11, ""},
       Cause{"spec.envs[1].name", "repeats CUDA_VISIBLE_DEVICES", 0, 0, ""}});
  Response response = StatusResponse(invalid, {"ServiceDeploy", "qwen"});

  EXPECT_EQ(response.status, 422);
  EXPECT_EQ(response.content_type, "application/json");
  nlohmann::json body = nlohmann::json::parse(response.body);
  EXPECT_EQ(body["kind"], "Status");
  EXPECT_EQ(body["apiVersion"], "v1");
  EXPECT_EQ(body["status"], "Failure");
  EXPECT_EQ(body["message"], "ServiceDeploy eval/qwen is invalid");
  EXPECT_EQ(body["reason"], "Invalid");
  EXPECT_EQ(body["code"], 422);
  EXPECT_EQ(body["details"]["name"], "qwen");
  EXPECT_EQ(body["details"]["kind"], "ServiceDeploy");
  ASSERT_EQ(body["details"]["causes"].size(), 2u);
  const nlohmann::json& first = body["details"]["causes"][0];
  EXPECT_EQ(first["field"], "spec.master.host");
  EXPECT_EQ(first["message"], "missing required field; set a Host name");
  EXPECT_EQ(first["line"], 7);
  EXPECT_EQ(first["column"], 11);
  const nlohmann::json& second = body["details"]["causes"][1];
  EXPECT_EQ(second["field"], "spec.envs[1].name");
  EXPECT_FALSE(second.contains("line"));
  EXPECT_FALSE(second.contains("column"));
}

TEST(StatusResponseTest, MapsEveryCodeToHttpAndReason) {
  struct Case {
    Code code;
    int http;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {Code::kInvalidArgument, 422, "Invalid"},
      {Code::kNotFound, 404, "NotFound"},
      {Code::kAlreadyExists, 409, "AlreadyExists"},
      {Code::kAborted, 409, "Conflict"},
      {Code::kFailedPrecondition, 409, "Conflict"},
      {Code::kUnauthenticated, 401, "Unauthorized"},
      {Code::kPermissionDenied, 403, "Forbidden"},
      {Code::kResourceExhausted, 413, "RequestEntityTooLarge"},
      {Code::kUnavailable, 503, "ServiceUnavailable"},
      {Code::kDeadlineExceeded, 504, "Timeout"},
      {Code::kInternal, 500, "InternalError"},
  };
  for (const Case& c : cases) {
    Response response = StatusResponse(Status(c.code, "failed"));
    EXPECT_EQ(response.status, c.http) << CodeName(c.code);
    nlohmann::json body = nlohmann::json::parse(response.body);
    EXPECT_EQ(body["code"], c.http) << CodeName(c.code);
    EXPECT_EQ(body["reason"], c.reason) << CodeName(c.code);
    EXPECT_EQ(body["message"], "failed");
    EXPECT_FALSE(body.contains("details")) << CodeName(c.code);
  }
}

TEST(StatusResponseTest, OkStatusBecomesInternalError) {
  Response response = StatusResponse(Status::Ok());
  EXPECT_EQ(response.status, 500);
  EXPECT_EQ(nlohmann::json::parse(response.body)["reason"], "InternalError");
}

TEST(StatusResponseTest, BadRequestIs400) {
  Response response = BadRequestResponse("the body is neither YAML nor JSON");
  EXPECT_EQ(response.status, 400);
  nlohmann::json body = nlohmann::json::parse(response.body);
  EXPECT_EQ(body["reason"], "BadRequest");
  EXPECT_EQ(body["code"], 400);
  EXPECT_EQ(body["message"], "the body is neither YAML nor JSON");
}

TEST(StatusResponseTest, MethodNotAllowedSetsAllowHeader) {
  Response response = MethodNotAllowedResponse("PATCH", "/hosts/a", "GET, PUT");
  EXPECT_EQ(response.status, 405);
  EXPECT_EQ(response.headers.at("Allow"), "GET, PUT");
  EXPECT_EQ(nlohmann::json::parse(response.body)["reason"], "MethodNotAllowed");
}

TEST(StatusResponseTest, InvalidUtf8InMessageStillSerializes) {
  Response response = StatusResponse(Status::NotFound("no host named \xff\xfe"));
  EXPECT_EQ(response.status, 404);
  nlohmann::json body = nlohmann::json::parse(response.body);
  EXPECT_EQ(body["message"], "no host named \xEF\xBF\xBD\xEF\xBF\xBD");
}

}  // namespace
}  // namespace svcd::server
