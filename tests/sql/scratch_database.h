// ScratchDatabase: a fresh, empty database for one test.
//
// SQLite: a file in a new temporary directory. MySQL/MariaDB: a database
// with a random name on the server that SVCD_TEST_MYSQL_URL names (password
// in SVCD_TEST_MYSQL_PASSWORD), dropped again when the object is destroyed.
// Tests call SkipUnlessAvailable first: without those variables MariaDB
// tests are skipped, or fail when SVCD_REQUIRE_MYSQL=1.

#ifndef SVCD_TESTS_SQL_SCRATCH_DATABASE_H_
#define SVCD_TESTS_SQL_SCRATCH_DATABASE_H_

#include <gtest/gtest.h>
#include <soci/soci.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>

#include "sql/migrations.h"
#include "store/database.h"
#include "store/store_url.h"

namespace svcd::testing {

inline const char* DialectName(sql::Dialect dialect) {
  return dialect == sql::Dialect::kSqlite ? "Sqlite" : "Mariadb";
}

inline std::string ParamName(const ::testing::TestParamInfo<sql::Dialect>& info) {
  return DialectName(info.param);
}

// Returns the reason MariaDB tests cannot run, or "" when they can.
inline std::string MysqlUnavailableReason() {
  if (std::getenv("SVCD_TEST_MYSQL_URL") == nullptr ||
      std::getenv("SVCD_TEST_MYSQL_PASSWORD") == nullptr) {
    return "SVCD_TEST_MYSQL_URL and SVCD_TEST_MYSQL_PASSWORD are not set; start a server with "
           "scripts/mariadb.sh start DIR and source DIR/env";
  }
  return "";
}

inline bool MysqlRequired() {
  const char* value = std::getenv("SVCD_REQUIRE_MYSQL");
  return value != nullptr && std::string(value) == "1";
}

// Skips (or fails, with SVCD_REQUIRE_MYSQL=1) a MariaDB test that has no server.
#define SVCD_SKIP_UNLESS_AVAILABLE(dialect)                           \
  do {                                                                \
    if ((dialect) == ::svcd::sql::Dialect::kMysql) {                  \
      std::string reason = ::svcd::testing::MysqlUnavailableReason(); \
      if (!reason.empty()) {                                          \
        if (::svcd::testing::MysqlRequired()) FAIL() << reason;       \
        GTEST_SKIP() << reason;                                       \
      }                                                               \
    }                                                                 \
  } while (false)

inline std::string RandomSuffix() {
  static std::mt19937_64 generator(std::random_device{}() ^ static_cast<uint64_t>(getpid()));
  const char kDigits[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string suffix;
  for (int i = 0; i < 12; ++i) suffix += kDigits[generator() % 36];
  return suffix;
}

class ScratchDatabase {
 public:
  // Creates the scratch database. Fails the calling test on error.
  explicit ScratchDatabase(sql::Dialect dialect) : dialect_(dialect) {
    if (dialect == sql::Dialect::kSqlite) {
      dir_ = std::filesystem::temp_directory_path() / ("svcd-store-test-" + RandomSuffix());
      std::filesystem::create_directories(dir_);
      url_.dialect = dialect;
      url_.path = (dir_ / "svcd.db").string();
      return;
    }
    StatusOr<store::StoreUrl> base = store::ParseStoreUrl(std::getenv("SVCD_TEST_MYSQL_URL"));
    EXPECT_TRUE(base.ok()) << base.status().ToString();
    if (!base.ok()) return;
    password_ = std::getenv("SVCD_TEST_MYSQL_PASSWORD");
    url_ = *base;
    url_.database = "svcd_t_" + RandomSuffix();
    admin_ = OpenOrDie(*base);
    if (admin_ == nullptr) return;
    Status status = admin_->Run("create scratch database", [this](soci::session& session) {
      session << "CREATE DATABASE " + url_.database + " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin";
      return Status::Ok();
    });
    EXPECT_TRUE(status.ok()) << status.ToString();
  }

  ~ScratchDatabase() {
    if (dialect_ == sql::Dialect::kSqlite) {
      std::error_code ignored;
      std::filesystem::remove_all(dir_, ignored);
    } else if (admin_ != nullptr) {
      Status status = admin_->Run("drop scratch database", [this](soci::session& session) {
        session << "DROP DATABASE IF EXISTS " + url_.database;
        return Status::Ok();
      });
      EXPECT_TRUE(status.ok()) << status.ToString();
    }
  }

  const store::StoreUrl& url() const { return url_; }
  const std::string& password() const { return password_; }

  // Opens a new connection to the scratch database; returns null and fails
  // the test on error.
  std::unique_ptr<store::Database> Open(const store::DatabaseOptions& options = {}) const {
    return OpenOrDie(url_, options);
  }

 private:
  std::unique_ptr<store::Database> OpenOrDie(const store::StoreUrl& url,
                                             const store::DatabaseOptions& options = {}) const {
    StatusOr<std::unique_ptr<store::Database>> database =
        store::Database::Open(url, password_, options);
    EXPECT_TRUE(database.ok()) << database.status().ToString();
    return database.ok() ? std::move(*database) : nullptr;
  }

  sql::Dialect dialect_;
  store::StoreUrl url_;
  std::string password_;
  std::filesystem::path dir_;
  std::unique_ptr<store::Database> admin_;
};

}  // namespace svcd::testing

#endif  // SVCD_TESTS_SQL_SCRATCH_DATABASE_H_
