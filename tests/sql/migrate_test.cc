// Tests of the migration runner against real SQLite and real MariaDB.

#include "store/migrate.h"

#include <gtest/gtest.h>
#include <soci/soci.h>

#include <set>
#include <thread>

#include "tests/sql/scratch_database.h"

namespace svcd::store {
namespace {

using ::svcd::testing::ScratchDatabase;

// Every table that migration 1 creates, plus schema_migrations.
const std::set<std::string> kTables = {"apply_set_member",   "env_host",     "health_probe_cfg",
                                       "health_probe_event", "job_dispatch", "log_archive",
                                       "log_archive_target", "log_event",    "op_audit_log",
                                       "powerjob_job",       "proc_monitor", "schema_migrations",
                                       "svc_artifact",       "svc_deploy",   "svc_deploy_target",
                                       "svc_event",          "svc_template", "svcd_lease"};

std::set<std::string> ListTables(Database& database) {
  std::set<std::string> tables;
  Status status = database.Run("list tables", [&](soci::session& session) {
    std::string query =
        database.dialect() == sql::Dialect::kSqlite
            ? "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            : "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()";
    soci::rowset<std::string> rows = session.prepare << query;
    for (const std::string& name : rows) tables.insert(name);
    return Status::Ok();
  });
  EXPECT_TRUE(status.ok()) << status.ToString();
  return tables;
}

int CountRows(Database& database, const std::string& table) {
  int count = -1;
  Status status = database.Run("count", [&](soci::session& session) {
    session << "SELECT COUNT(*) FROM " + table, soci::into(count);
    return Status::Ok();
  });
  EXPECT_TRUE(status.ok()) << status.ToString();
  return count;
}

// The embedded migrations plus one more, as a newer build would carry.
std::vector<sql::Migration> WithExtraMigration(sql::Dialect dialect, std::string_view name,
                                               std::string_view text) {
  std::vector<sql::Migration> migrations = sql::EmbeddedMigrations(dialect);
  migrations.push_back({static_cast<int>(migrations.size()) + 1, name, text});
  return migrations;
}

class MigrateTest : public ::testing::TestWithParam<sql::Dialect> {
 protected:
  void SetUp() override {
    SVCD_SKIP_UNLESS_AVAILABLE(GetParam());
    scratch_ = std::make_unique<ScratchDatabase>(GetParam());
    database_ = scratch_->Open();
    ASSERT_NE(database_, nullptr);
  }

  std::unique_ptr<ScratchDatabase> scratch_;
  std::unique_ptr<Database> database_;
};

TEST_P(MigrateTest, AppliesEveryMigration) {
  const auto& embedded = sql::EmbeddedMigrations(GetParam());
  ASSERT_FALSE(embedded.empty());

  StatusOr<MigrationReport> report = Migrate(*database_);

  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->from_version, 0);
  EXPECT_EQ(report->to_version, static_cast<int>(embedded.size()));
  EXPECT_EQ(report->applied.size(), embedded.size());
  EXPECT_EQ(ListTables(*database_), kTables);
  StatusOr<int> version = SchemaVersion(*database_);
  ASSERT_TRUE(version.ok()) << version.status().ToString();
  EXPECT_EQ(*version, static_cast<int>(embedded.size()));
}

TEST_P(MigrateTest, SecondRunIsNoOp) {
  ASSERT_TRUE(Migrate(*database_).ok());
  int recorded = CountRows(*database_, "schema_migrations");

  StatusOr<MigrationReport> again = Migrate(*database_);

  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(again->applied.empty());
  EXPECT_EQ(again->from_version, again->to_version);
  EXPECT_EQ(CountRows(*database_, "schema_migrations"), recorded);
}

TEST_P(MigrateTest, RejectsNewerSchema) {
  auto newer = WithExtraMigration(GetParam(), "future", "CREATE TABLE future_table (id INTEGER)");
  ASSERT_TRUE(Migrate(*database_, newer).ok());

  StatusOr<MigrationReport> report = Migrate(*database_);

  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), Code::kFailedPrecondition);
  std::string newer_version = std::to_string(newer.size());
  std::string known_version = std::to_string(newer.size() - 1);
  EXPECT_NE(report.status().message().find("version " + newer_version), std::string::npos)
      << report.status().message();
  EXPECT_NE(report.status().message().find("version " + known_version), std::string::npos)
      << report.status().message();
}

TEST_P(MigrateTest, RejectsRenamedVersion) {
  ASSERT_TRUE(Migrate(*database_).ok());
  std::vector<sql::Migration> renamed = sql::EmbeddedMigrations(GetParam());
  renamed[0].name = "something_else";

  StatusOr<MigrationReport> report = Migrate(*database_, renamed);

  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(report.status().message().find("something_else"), std::string::npos);
}

TEST_P(MigrateTest, RejectsGapInNumbering) {
  std::vector<sql::Migration> gap = sql::EmbeddedMigrations(GetParam());
  gap.push_back({static_cast<int>(gap.size()) + 2, "gap", "SELECT 1"});

  StatusOr<MigrationReport> report = Migrate(*database_, gap);

  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), Code::kInvalidArgument);
}

TEST_P(MigrateTest, FailedMigrationIsNotRecorded) {
  ASSERT_TRUE(Migrate(*database_).ok());
  int version_before = *SchemaVersion(*database_);
  auto broken = WithExtraMigration(GetParam(), "broken",
                                   "CREATE TABLE IF NOT EXISTS half_done (id INTEGER);\n"
                                   "CREATE TABLE no_such_syntax (;\n");

  StatusOr<MigrationReport> report = Migrate(*database_, broken);

  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.status().message().find("statement 2"), std::string::npos)
      << report.status().message();
  EXPECT_EQ(*SchemaVersion(*database_), version_before);
  bool half_done_exists = ListTables(*database_).count("half_done") > 0;
  if (GetParam() == sql::Dialect::kSqlite) {
    // SQLite DDL is transactional: the first statement was rolled back.
    EXPECT_FALSE(half_done_exists);
  } else {
    // MySQL commits DDL at once; the idempotent statement makes a rerun safe.
    EXPECT_TRUE(half_done_exists);
  }

  auto fixed = WithExtraMigration(GetParam(), "broken",
                                  "CREATE TABLE IF NOT EXISTS half_done (id INTEGER);\n"
                                  "CREATE TABLE IF NOT EXISTS now_fine (id INTEGER);\n");
  StatusOr<MigrationReport> rerun = Migrate(*database_, fixed);
  ASSERT_TRUE(rerun.ok()) << rerun.status().ToString();
  EXPECT_EQ(rerun->applied, std::vector<int>{version_before + 1});
  EXPECT_EQ(ListTables(*database_).count("now_fine"), 1u);
}

TEST_P(MigrateTest, ConcurrentRunsApplyEachVersionOnce) {
  std::unique_ptr<Database> other = scratch_->Open();
  ASSERT_NE(other, nullptr);

  StatusOr<MigrationReport> first = Status::Internal("not run");
  std::thread thread([&] { first = Migrate(*database_); });
  StatusOr<MigrationReport> second = Migrate(*other);
  thread.join();

  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(first->applied.size() + second->applied.size(),
            sql::EmbeddedMigrations(GetParam()).size());
  EXPECT_EQ(CountRows(*database_, "schema_migrations"),
            static_cast<int>(sql::EmbeddedMigrations(GetParam()).size()));
}

INSTANTIATE_TEST_SUITE_P(Backends, MigrateTest,
                         ::testing::Values(sql::Dialect::kSqlite, sql::Dialect::kMysql),
                         ::svcd::testing::ParamName);

TEST(SplitStatementsTest, IgnoresSemicolonsInQuotesAndComments) {
  std::vector<std::string> statements = SplitStatements(
      "-- a comment; with a semicolon\n"
      "INSERT INTO t VALUES ('a;b', \"c;d\", `e;f`);\n"
      "/* block; comment */ SELECT 'it''s; fine';\n"
      "  ;\n"
      "SELECT 'back\\'slash;'");

  ASSERT_EQ(statements.size(), 3u);
  EXPECT_NE(statements[0].find("('a;b', \"c;d\", `e;f`)"), std::string::npos);
  EXPECT_NE(statements[1].find("'it''s; fine'"), std::string::npos);
  EXPECT_NE(statements[2].find("'back\\'slash;'"), std::string::npos);
}

TEST(SplitStatementsTest, EmbeddedMigrationsSplitIntoWholeStatements) {
  for (sql::Dialect dialect : {sql::Dialect::kSqlite, sql::Dialect::kMysql}) {
    for (const sql::Migration& migration : sql::EmbeddedMigrations(dialect)) {
      const std::vector<std::string> statements = SplitStatements(migration.text);
      EXPECT_FALSE(statements.empty()) << migration.name;
      for (const std::string& statement : statements) {
        // Every piece starts with an SQL verb: a split inside a statement
        // would leave a fragment such as a column list.
        const size_t start = statement.find_first_not_of(" \t\n");
        ASSERT_NE(start, std::string::npos) << migration.name << ": blank statement";
        const std::string head = statement.substr(start, 12);
        const bool known_verb = head.rfind("CREATE", 0) == 0 || head.rfind("ALTER", 0) == 0 ||
                                head.rfind("INSERT", 0) == 0 || head.rfind("DROP", 0) == 0 ||
                                head.rfind("SET", 0) == 0 || head.rfind("PREPARE", 0) == 0 ||
                                head.rfind("EXECUTE", 0) == 0 || head.rfind("DEALLOCATE", 0) == 0 ||
                                head.rfind("UPDATE", 0) == 0 || head.rfind("PRAGMA", 0) == 0;
        EXPECT_TRUE(known_verb) << migration.name << ": " << statement.substr(0, 80);
      }
    }
  }
}

}  // namespace
}  // namespace svcd::store
