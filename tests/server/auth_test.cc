#include "server/auth.h"

#include <gtest/gtest.h>

#include "tests/server/http_test_client.h"

namespace svcd::server {
namespace {

constexpr char kTokens[] =
    "# svcd tokens\n"
    "\n"
    "s3cret-viewer,alice,viewer\n"
    "  s3cret-editor , bob , editor  \r\n"
    "   # indented comment\n"
    "s3cret-admin,carol,admin\n"
    "s3cret-bob-2,bob,viewer";

TEST(TokenAuthenticatorTest, ParsesTokensCommentsAndBlankLines) {
  StatusOr<TokenAuthenticator> auth = TokenAuthenticator::Parse(kTokens, "tokens.csv");
  ASSERT_TRUE(auth.ok()) << auth.status().ToString();
  EXPECT_EQ(auth->size(), 4u);

  StatusOr<Principal> bob = auth->Authenticate("Bearer s3cret-editor");
  ASSERT_TRUE(bob.ok()) << bob.status().ToString();
  EXPECT_EQ(bob->user, "bob");
  EXPECT_EQ(bob->role, Role::kEditor);

  StatusOr<Principal> bob_again = auth->Authenticate("Bearer s3cret-bob-2");
  ASSERT_TRUE(bob_again.ok());
  EXPECT_EQ(bob_again->role, Role::kViewer);
}

TEST(TokenAuthenticatorTest, SchemeIsCaseInsensitive) {
  StatusOr<TokenAuthenticator> auth = TokenAuthenticator::Parse(kTokens, "tokens.csv");
  ASSERT_TRUE(auth.ok());
  for (std::string header :
       {"bearer s3cret-admin", "BEARER   s3cret-admin", "Bearer\ts3cret-admin"}) {
    StatusOr<Principal> carol = auth->Authenticate(header);
    ASSERT_TRUE(carol.ok()) << header;
    EXPECT_EQ(carol->user, "carol");
    EXPECT_EQ(carol->role, Role::kAdmin);
  }
}

TEST(TokenAuthenticatorTest, RejectsMissingOtherSchemeAndUnknownToken) {
  StatusOr<TokenAuthenticator> auth = TokenAuthenticator::Parse(kTokens, "tokens.csv");
  ASSERT_TRUE(auth.ok());
  struct Case {
    std::string header;
    std::string message_part;
  };
  const std::vector<Case> cases = {
      {"", "missing bearer token"},
      {"   ", "missing bearer token"},
      {"Basic czNjcmV0LWFkbWlu", "unsupported Authorization scheme"},
      {"Bearer", "unsupported Authorization scheme"},
      {"Bearers3cret-admin", "unsupported Authorization scheme"},
      {"Bearer s3cret-admin2", "invalid bearer token"},
      {"Bearer s3cret-admi", "invalid bearer token"},
      {"Bearer S3CRET-ADMIN", "invalid bearer token"},
  };
  for (const Case& c : cases) {
    StatusOr<Principal> principal = auth->Authenticate(c.header);
    ASSERT_FALSE(principal.ok()) << c.header;
    EXPECT_EQ(principal.status().code(), Code::kUnauthenticated) << c.header;
    EXPECT_NE(principal.status().message().find(c.message_part), std::string::npos)
        << principal.status().message();
    EXPECT_EQ(principal.status().message().find("s3cret"), std::string::npos)
        << "the message echoes the token: " << principal.status().message();
  }
}

TEST(TokenAuthenticatorTest, MalformedLineErrorNamesFileAndLine) {
  struct Case {
    std::string contents;
    std::string message_part;
  };
  const std::vector<Case> cases = {
      {"# header\ntok1,alice\n", "tokens.csv line 2: expected 3 comma-separated fields"},
      {"tok1,alice,viewer,extra\n", "line 1: expected 3 comma-separated fields"},
      {"\n\ntok1,alice,owner\n", "line 3: unknown role \"owner\""},
      {"tok1,alice,Viewer\n", "line 1: unknown role \"Viewer\""},
      {" ,alice,viewer\n", "line 1: the token must be non-empty"},
      {"tok 1,alice,viewer\n", "line 1: the token must be non-empty printable ASCII"},
      {"tok\x01,alice,viewer\n", "line 1: the token must be non-empty printable ASCII"},
      {"tok1, ,viewer\n", "line 1: the user name is empty"},
      {"tok1,alice,viewer\ntok1,bob,admin\n", "line 2: repeats the token of line 1"},
      {"# only comments\n\n", "contains no tokens"},
      {"", "contains no tokens"},
  };
  for (const Case& c : cases) {
    StatusOr<TokenAuthenticator> auth = TokenAuthenticator::Parse(c.contents, "tokens.csv");
    ASSERT_FALSE(auth.ok()) << c.contents;
    EXPECT_EQ(auth.status().code(), Code::kInvalidArgument) << c.contents;
    EXPECT_NE(auth.status().message().find(c.message_part), std::string::npos)
        << auth.status().message();
    EXPECT_EQ(auth.status().message().find("tok1"), std::string::npos)
        << "the message echoes a token: " << auth.status().message();
  }
}

TEST(TokenAuthenticatorTest, LoadsFileFromDisk) {
  std::string path = testing::WriteFile("tokens-ok.csv", kTokens);
  StatusOr<TokenAuthenticator> auth = TokenAuthenticator::LoadFile(path);
  ASSERT_TRUE(auth.ok()) << auth.status().ToString();
  EXPECT_EQ(auth->size(), 4u);
  EXPECT_TRUE(auth->Authenticate("Bearer s3cret-viewer").ok());
}

TEST(TokenAuthenticatorTest, MissingFileIsNotFound) {
  StatusOr<TokenAuthenticator> auth = TokenAuthenticator::LoadFile("/nonexistent/svcd/tokens.csv");
  EXPECT_EQ(auth.status().code(), Code::kNotFound);
  EXPECT_NE(auth.status().message().find("/nonexistent/svcd/tokens.csv"), std::string::npos);
}

TEST(TokenAuthenticatorTest, OversizedFileIsRejected) {
  std::string contents;
  while (contents.size() <= (1 << 20)) contents += "# padding padding padding padding\n";
  std::string path = testing::WriteFile("tokens-big.csv", contents + "tok,alice,viewer\n");
  StatusOr<TokenAuthenticator> auth = TokenAuthenticator::LoadFile(path);
  EXPECT_EQ(auth.status().code(), Code::kInvalidArgument);
  EXPECT_NE(auth.status().message().find("larger than 1 MiB"), std::string::npos);
}

TEST(ParseRoleTest, AcceptsOnlyTheThreeRoles) {
  EXPECT_EQ(ParseRole("viewer").value(), Role::kViewer);
  EXPECT_EQ(ParseRole("editor").value(), Role::kEditor);
  EXPECT_EQ(ParseRole("admin").value(), Role::kAdmin);
  EXPECT_FALSE(ParseRole("root").ok());
  EXPECT_FALSE(ParseRole("").ok());
}

}  // namespace
}  // namespace svcd::server
