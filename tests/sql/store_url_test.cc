// Tests of store URL parsing.

#include "store/store_url.h"

#include <gtest/gtest.h>

namespace svcd::store {
namespace {

TEST(StoreUrlTest, ParsesSqlitePath) {
  StatusOr<StoreUrl> url = ParseStoreUrl("sqlite:/var/lib/svcd/svcd.db");

  ASSERT_TRUE(url.ok()) << url.status().ToString();
  EXPECT_EQ(url->dialect, sql::Dialect::kSqlite);
  EXPECT_EQ(url->path, "/var/lib/svcd/svcd.db");
  EXPECT_EQ(url->ToString(), "sqlite:/var/lib/svcd/svcd.db");
}

TEST(StoreUrlTest, ParsesMysqlUrl) {
  StatusOr<StoreUrl> url = ParseStoreUrl("mysql://svcd@db.example:3307/svcd_prod");

  ASSERT_TRUE(url.ok()) << url.status().ToString();
  EXPECT_EQ(url->dialect, sql::Dialect::kMysql);
  EXPECT_EQ(url->user, "svcd");
  EXPECT_EQ(url->host, "db.example");
  EXPECT_EQ(url->port, 3307);
  EXPECT_EQ(url->database, "svcd_prod");
  EXPECT_EQ(url->ToString(), "mysql://svcd@db.example:3307/svcd_prod");
}

TEST(StoreUrlTest, DefaultsMysqlPortAndAcceptsIpv6) {
  StatusOr<StoreUrl> plain = ParseStoreUrl("mysql://svcd@127.0.0.1/svcd");
  StatusOr<StoreUrl> ipv6 = ParseStoreUrl("mysql://svcd@[::1]:3310/svcd");

  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_EQ(plain->port, 3306);
  ASSERT_TRUE(ipv6.ok()) << ipv6.status().ToString();
  EXPECT_EQ(ipv6->host, "::1");
  EXPECT_EQ(ipv6->port, 3310);
  EXPECT_EQ(ipv6->ToString(), "mysql://svcd@[::1]:3310/svcd");
}

TEST(StoreUrlTest, RejectsPasswordWithoutEchoingIt) {
  StatusOr<StoreUrl> url = ParseStoreUrl("mysql://svcd:hunter2@127.0.0.1:3306/svcd");

  ASSERT_FALSE(url.ok());
  EXPECT_EQ(url.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(url.status().message().find("hunter2"), std::string::npos);
  EXPECT_NE(url.status().message().find("SVCD_STORE_PASSWORD"), std::string::npos);
}

TEST(StoreUrlTest, RejectsMalformedUrls) {
  const char* kBad[] = {
      "",
      "sqlite:",
      "postgres://svcd@host/db",
      "mysql://host/db",
      "mysql://svcd@host",
      "mysql://svcd@host:0/db",
      "mysql://svcd@host:70000/db",
      "mysql://svcd@host:12ab/db",
      "mysql://svcd@/db",
      "mysql://svcd@host/",
      "mysql://svcd@host/db;drop",
      "mysql://svcd@[::1/db",
      "mysql://sv cd@host/db",
  };
  for (const char* text : kBad) {
    StatusOr<StoreUrl> url = ParseStoreUrl(text);
    EXPECT_FALSE(url.ok()) << text;
    if (!url.ok()) {
      EXPECT_EQ(url.status().code(), Code::kInvalidArgument) << text;
    }
  }
}

}  // namespace
}  // namespace svcd::store
