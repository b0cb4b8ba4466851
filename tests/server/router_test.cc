#include "server/router.h"

#include <gtest/gtest.h>

namespace svcd::server {
namespace {

constexpr char kDeployPattern[] = "/apis/svcd.io/v1alpha1/namespaces/{ns}/servicedeploys/{name}";

Handler Named(std::string name) {
  return [name](const Request&, const PathParams&) {
    Response response;
    response.body = name;
    return response;
  };
}

std::vector<std::string> Split(std::string_view path) {
  StatusOr<std::vector<std::string>> segments = SplitPath(path);
  EXPECT_TRUE(segments.ok()) << segments.status().ToString();
  return segments.ok() ? *segments : std::vector<std::string>{};
}

std::string Call(const RouteLookup& lookup) {
  if (!lookup.match) return "<none>";
  return (*lookup.match->handler)(Request{}, lookup.match->params).body;
}

TEST(RouterTest, MatchesLiteralsAndParams) {
  Router router;
  ASSERT_TRUE(router.Add("GET", kDeployPattern, Named("get"), AccessRule::kViewer).ok());

  RouteLookup lookup =
      router.Match("GET", Split("/apis/svcd.io/v1alpha1/namespaces/eval/servicedeploys/qwen-tp2"));
  ASSERT_TRUE(lookup.match.has_value());
  EXPECT_EQ(Call(lookup), "get");
  EXPECT_EQ(lookup.match->params.at("ns"), "eval");
  EXPECT_EQ(lookup.match->params.at("name"), "qwen-tp2");
  EXPECT_EQ(lookup.match->access, AccessRule::kViewer);
  EXPECT_EQ(lookup.match->pattern, kDeployPattern);
}

TEST(RouterTest, PrefersLiteralSegmentOverParam) {
  Router router;
  ASSERT_TRUE(router.Add("GET", "/hosts/{name}", Named("one"), AccessRule::kViewer).ok());
  ASSERT_TRUE(router.Add("GET", "/hosts/all", Named("all"), AccessRule::kViewer).ok());

  EXPECT_EQ(Call(router.Match("GET", Split("/hosts/all"))), "all");
  EXPECT_EQ(Call(router.Match("GET", Split("/hosts/gpu-01"))), "one");
}

TEST(RouterTest, ListsAllowedMethodsWhenMethodDiffers) {
  Router router;
  ASSERT_TRUE(router.Add("GET", "/hosts/{name}", Named("get"), AccessRule::kViewer).ok());
  ASSERT_TRUE(router.Add("DELETE", "/hosts/{name}", Named("delete"), AccessRule::kEditor).ok());

  RouteLookup lookup = router.Match("POST", Split("/hosts/gpu-01"));
  EXPECT_FALSE(lookup.match.has_value());
  EXPECT_EQ(lookup.allowed, (std::vector<std::string>{"GET", "DELETE"}));
}

TEST(RouterTest, UnknownPathHasNoMatchAndNoMethods) {
  Router router;
  ASSERT_TRUE(router.Add("GET", "/hosts", Named("list"), AccessRule::kViewer).ok());

  for (std::string_view path : {"/hostsx", "/hosts/a/b", "/", "/HOSTS"}) {
    RouteLookup lookup = router.Match("GET", Split(path));
    EXPECT_FALSE(lookup.match.has_value()) << path;
    EXPECT_TRUE(lookup.allowed.empty()) << path;
  }
}

TEST(RouterTest, EscapedSlashStaysInsideOneSegment) {
  Router router;
  ASSERT_TRUE(router.Add("GET", "/hosts/{name}", Named("get"), AccessRule::kViewer).ok());

  RouteLookup lookup = router.Match("GET", Split("/hosts/a%2Fb"));
  ASSERT_TRUE(lookup.match.has_value());
  EXPECT_EQ(lookup.match->params.at("name"), "a/b");
}

TEST(RouterTest, IgnoresOneTrailingSlash) {
  Router router;
  ASSERT_TRUE(router.Add("GET", "/hosts", Named("list"), AccessRule::kViewer).ok());

  EXPECT_EQ(Call(router.Match("GET", Split("/hosts/"))), "list");
  EXPECT_EQ(Call(router.Match("GET", Split("/hosts//"))), "<none>");
}

TEST(RouterTest, ParamDoesNotMatchEmptySegment) {
  Router router;
  ASSERT_TRUE(router.Add("GET", "/hosts/{name}/status", Named("status"), AccessRule::kViewer).ok());

  EXPECT_EQ(Call(router.Match("GET", Split("/hosts//status"))), "<none>");
}

TEST(RouterTest, RejectsMalformedPatterns) {
  const std::vector<std::string> bad = {
      "",         "hosts",    "/hosts/", "/hosts//x", "/{}",      "/{1name}",
      "/{a}/{a}", "/x{name}", "/{name",  "/name}",    "/{na-me}",
  };
  for (const std::string& pattern : bad) {
    Router router;
    Status added = router.Add("GET", pattern, Named("x"), AccessRule::kViewer);
    EXPECT_EQ(added.code(), Code::kInvalidArgument) << pattern;
    EXPECT_NE(added.message().find(pattern.empty() ? "route GET" : pattern), std::string::npos)
        << added.message();
  }
}

TEST(RouterTest, RejectsMissingHandler) {
  Router router;
  EXPECT_EQ(router.Add("GET", "/hosts", Handler(), AccessRule::kViewer).code(),
            Code::kInvalidArgument);
}

TEST(RouterTest, RejectsEquivalentRoute) {
  Router router;
  ASSERT_TRUE(router.Add("GET", "/hosts/{name}", Named("a"), AccessRule::kViewer).ok());

  Status added = router.Add("GET", "/hosts/{other}", Named("b"), AccessRule::kViewer);
  EXPECT_EQ(added.code(), Code::kInvalidArgument);
  EXPECT_NE(added.message().find("conflicts with route GET /hosts/{name}"), std::string::npos)
      << added.message();
  EXPECT_TRUE(router.Add("PUT", "/hosts/{other}", Named("c"), AccessRule::kEditor).ok());
}

TEST(SplitPathTest, RejectsMalformedPaths) {
  for (std::string_view path : {"", "hosts", "/a%zz", "/a%2", "/a%00b"}) {
    StatusOr<std::vector<std::string>> segments = SplitPath(path);
    EXPECT_EQ(segments.status().code(), Code::kInvalidArgument) << path;
  }
}

TEST(PercentDecodeTest, DecodesEscapesAndPlus) {
  EXPECT_EQ(PercentDecode("a%20b+c%2b", true).value(), "a b c+");
  EXPECT_EQ(PercentDecode("a+b", false).value(), "a+b");
  EXPECT_EQ(PercentDecode("%e4%BD%a0", false).value(), "\xe4\xbd\xa0");
}

TEST(PercentDecodeTest, NamesOffsetOfMalformedEscape) {
  StatusOr<std::string> decoded = PercentDecode("abc%g1", false);
  ASSERT_FALSE(decoded.ok());
  EXPECT_NE(decoded.status().message().find("offset 3"), std::string::npos)
      << decoded.status().message();
}

TEST(ParseQueryTest, DecodesPairsAndKeepsFirstValue) {
  StatusOr<std::map<std::string, std::string>> query =
      ParseQuery("labelSelector=team%3Dperf&dryRun=All&flag&dryRun=None&&x=a+b");
  ASSERT_TRUE(query.ok()) << query.status().ToString();
  EXPECT_EQ(query->at("labelSelector"), "team=perf");
  EXPECT_EQ(query->at("dryRun"), "All");
  EXPECT_EQ(query->at("flag"), "");
  EXPECT_EQ(query->at("x"), "a b");
  EXPECT_EQ(query->size(), 4u);
}

TEST(ParseQueryTest, RejectsMalformedEscape) {
  EXPECT_EQ(ParseQuery("a=%").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(ParseQuery("%zz=1").status().code(), Code::kInvalidArgument);
}

TEST(RoleTest, RoleSatisfiesRule) {
  EXPECT_TRUE(RoleSatisfies(Role::kViewer, AccessRule::kPublic));
  EXPECT_TRUE(RoleSatisfies(Role::kViewer, AccessRule::kViewer));
  EXPECT_FALSE(RoleSatisfies(Role::kViewer, AccessRule::kEditor));
  EXPECT_TRUE(RoleSatisfies(Role::kEditor, AccessRule::kEditor));
  EXPECT_FALSE(RoleSatisfies(Role::kEditor, AccessRule::kAdmin));
  EXPECT_TRUE(RoleSatisfies(Role::kAdmin, AccessRule::kAdmin));
  EXPECT_STREQ(RoleName(Role::kEditor), "editor");
}

}  // namespace
}  // namespace svcd::server
