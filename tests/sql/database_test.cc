// Tests of opening a store database: session settings, ping and secrecy of
// the password.

#include "store/database.h"

#include <gtest/gtest.h>
#include <soci/soci.h>

#include "tests/sql/scratch_database.h"

namespace svcd::store {
namespace {

using ::svcd::testing::ScratchDatabase;

class DatabaseTest : public ::testing::TestWithParam<sql::Dialect> {
 protected:
  void SetUp() override {
    SVCD_SKIP_UNLESS_AVAILABLE(GetParam());
    scratch_ = std::make_unique<ScratchDatabase>(GetParam());
  }

  std::unique_ptr<ScratchDatabase> scratch_;
};

TEST_P(DatabaseTest, PingSucceeds) {
  std::unique_ptr<Database> database = scratch_->Open();
  ASSERT_NE(database, nullptr);

  Status status = database->Ping();

  EXPECT_TRUE(status.ok()) << status.ToString();
}

TEST_P(DatabaseTest, WorkErrorRollsBackTransaction) {
  std::unique_ptr<Database> database = scratch_->Open();
  ASSERT_NE(database, nullptr);
  ASSERT_TRUE(database
                  ->Run("create",
                        [](soci::session& session) {
                          session << "CREATE TABLE t (id INTEGER NOT NULL PRIMARY KEY)";
                          return Status::Ok();
                        })
                  .ok());

  Status status = database->RunInTransaction("insert twice", [](soci::session& session) {
    session << "INSERT INTO t (id) VALUES (1)";
    session << "INSERT INTO t (id) VALUES (1)";
    return Status::Ok();
  });
  int count = -1;
  Status counted = database->Run("count", [&](soci::session& session) {
    session << "SELECT COUNT(*) FROM t", soci::into(count);
    return Status::Ok();
  });

  EXPECT_EQ(status.code(), Code::kAlreadyExists) << status.ToString();
  EXPECT_NE(status.message().find("insert twice"), std::string::npos) << status.message();
  ASSERT_TRUE(counted.ok()) << counted.ToString();
  EXPECT_EQ(count, 0);
}

// Fixtures for the tests that apply to one backend only.
class SqliteDatabaseTest : public ::testing::Test {
 protected:
  SqliteDatabaseTest() : scratch_(sql::Dialect::kSqlite) {}

  ScratchDatabase scratch_;
};

class MysqlDatabaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SVCD_SKIP_UNLESS_AVAILABLE(sql::Dialect::kMysql);
    scratch_ = std::make_unique<ScratchDatabase>(sql::Dialect::kMysql);
  }

  std::unique_ptr<ScratchDatabase> scratch_;
};

TEST_F(SqliteDatabaseTest, SessionUsesWalAndForeignKeys) {
  std::unique_ptr<Database> database = scratch_.Open();
  ASSERT_NE(database, nullptr);
  std::string mode;
  int foreign_keys = 0;
  int busy_timeout = 0;

  Status status = database->Run("pragmas", [&](soci::session& session) {
    session << "PRAGMA journal_mode", soci::into(mode);
    session << "PRAGMA foreign_keys", soci::into(foreign_keys);
    session << "PRAGMA busy_timeout", soci::into(busy_timeout);
    return Status::Ok();
  });

  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(mode, "wal");
  EXPECT_EQ(foreign_keys, 1);
  EXPECT_EQ(busy_timeout, DatabaseOptions().sqlite_busy_timeout_ms);
}

TEST_F(MysqlDatabaseTest, WrongPasswordIsNotEchoed) {
  const std::string secret = "Wr0ng-secret-7f3a9";

  StatusOr<std::unique_ptr<Database>> database = Database::Open(scratch_->url(), secret);

  ASSERT_FALSE(database.ok());
  EXPECT_EQ(database.status().code(), Code::kUnavailable);
  EXPECT_EQ(database.status().message().find(secret), std::string::npos)
      << database.status().message();
  EXPECT_NE(database.status().message().find(scratch_->url().ToString()), std::string::npos)
      << database.status().message();
}

TEST_F(MysqlDatabaseTest, PasswordWithQuoteIsRejected) {
  StatusOr<std::unique_ptr<Database>> database = Database::Open(scratch_->url(), "it's-secret");

  ASSERT_FALSE(database.ok());
  EXPECT_EQ(database.status().message().find("it's-secret"), std::string::npos);
  EXPECT_NE(database.status().message().find("password"), std::string::npos);
}

TEST(SqliteOpenTest, MissingDirectoryIsUnavailable) {
  StoreUrl url;
  url.path = "/nonexistent-dir-for-svcd-test/svcd.db";

  StatusOr<std::unique_ptr<Database>> database = Database::Open(url, "");

  ASSERT_FALSE(database.ok());
  EXPECT_EQ(database.status().code(), Code::kUnavailable);
  EXPECT_NE(database.status().message().find(url.path), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Backends, DatabaseTest,
                         ::testing::Values(sql::Dialect::kSqlite, sql::Dialect::kMysql),
                         ::svcd::testing::ParamName);

}  // namespace
}  // namespace svcd::store
