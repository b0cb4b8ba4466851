// Tests of schema version 2, which the runtime store needs: rows written
// under version 1 survive it, its new rules hold, and on MySQL/MariaDB it
// can run again after a partial run.

#include <gtest/gtest.h>
#include <soci/soci.h>

#include "sql/migrations.h"
#include "store/migrate.h"
#include "tests/sql/scratch_database.h"

namespace svcd::store {
namespace {

using ::svcd::testing::ScratchDatabase;

class RuntimeMigrationTest : public ::testing::TestWithParam<sql::Dialect> {
 protected:
  void SetUp() override {
    SVCD_SKIP_UNLESS_AVAILABLE(GetParam());
    scratch_ = std::make_unique<ScratchDatabase>(GetParam());
    database_ = scratch_->Open();
    ASSERT_NE(database_, nullptr);
    const std::vector<sql::Migration>& all = sql::EmbeddedMigrations(GetParam());
    ASSERT_GE(all.size(), 2u);
    ASSERT_EQ(all[1].version, 2);
    StatusOr<MigrationReport> first = Migrate(*database_, {all[0]});
    ASSERT_TRUE(first.ok()) << first.status().ToString();
  }

  Status Exec(const std::string& sql) {
    return database_->Run("test statement", [&](soci::session& session) {
      session << sql;
      return Status::Ok();
    });
  }

  std::string QueryText(const std::string& query) {
    std::string value;
    soci::indicator indicator = soci::i_null;
    Status status = database_->Run("test query", [&](soci::session& session) {
      session << query, soci::into(value, indicator);
      return Status::Ok();
    });
    EXPECT_TRUE(status.ok()) << status.ToString();
    return indicator == soci::i_ok ? value : "<null>";
  }

  // Writes a deploy, a target, a dispatch, a probe config and one probe
  // result, as version 1 allows.
  void InsertVersionOneRows() {
    std::vector<std::string> statements = {
        "INSERT INTO svc_deploy (deploy_id, namespace, name, template_name, model_name, "
        "run_cmd_req, object_doc, status_doc, generation, resource_version, finalizers, "
        "create_time, update_time, create_owner, update_owner) VALUES ('d1', 'default', 'qwen', "
        "'tpl', 'qwen', '{}', '{}', '{}', 1, 1, '[]', 0, 0, 'test', 'test')",
        "INSERT INTO svc_deploy_target (target_id, deploy_id, target_name, role, node_rank, "
        "host_name, generation, create_time, update_time, create_owner, update_owner) VALUES "
        "('t1', 'd1', 'master', 'master', 0, 'gpu-01', 1, 0, 0, 'test', 'test')",
        "INSERT INTO job_dispatch (dispatch_id, target_id, attempt, lease_version, executor, "
        "secret_hash, submit_time) VALUES ('j1', 't1', 1, 1, 'local', 'hash', 0)",
        "INSERT INTO health_probe_cfg (probe_id, deploy_id, generation, role, method) VALUES "
        "('p1', 'd1', 1, 'master', 'http')",
        "INSERT INTO health_probe_event (event_id, probe_id, target_id, pass_flag, latency_ms, "
        "message, event_time) VALUES ('e1', 'p1', 't1', 1, 12, 'ok', 42)",
    };
    for (const std::string& statement : statements) {
      Status status = Exec(statement);
      ASSERT_TRUE(status.ok()) << status.ToString();
    }
  }

  std::unique_ptr<ScratchDatabase> scratch_;
  std::unique_ptr<Database> database_;
};

TEST_P(RuntimeMigrationTest, VersionTwoKeepsRows) {
  InsertVersionOneRows();

  StatusOr<MigrationReport> report = Migrate(*database_);

  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->to_version, sql::EmbeddedMigrations(GetParam()).back().version);
  EXPECT_EQ(QueryText("SELECT probe_id FROM health_probe_event WHERE event_id = 'e1'"), "p1");
  EXPECT_EQ(QueryText("SELECT target_id FROM health_probe_event WHERE event_id = 'e1'"), "t1");
  EXPECT_EQ(QueryText("SELECT message FROM health_probe_event WHERE event_id = 'e1'"), "ok");
  EXPECT_EQ(QueryText("SELECT log_bytes FROM job_dispatch WHERE dispatch_id = 'j1'"), "0");
  EXPECT_EQ(QueryText("SELECT log_partial FROM job_dispatch WHERE dispatch_id = 'j1'"), "<null>");
}

TEST_P(RuntimeMigrationTest, ProbeEventNeedsNoConfig) {
  InsertVersionOneRows();
  ASSERT_TRUE(Migrate(*database_).ok());

  Status without_config = Exec(
      "INSERT INTO health_probe_event (event_id, target_id, pass_flag, event_time) VALUES "
      "('e2', 't1', 0, 43)");
  Status unknown_config = Exec(
      "INSERT INTO health_probe_event (event_id, probe_id, target_id, pass_flag, "
      "event_time) VALUES ('e3', 'nope', 't1', 0, 44)");
  Status negative_bytes = Exec("UPDATE job_dispatch SET log_bytes = -1 WHERE dispatch_id = 'j1'");

  EXPECT_TRUE(without_config.ok()) << without_config.ToString();
  EXPECT_EQ(unknown_config.code(), Code::kFailedPrecondition) << unknown_config.ToString();
  EXPECT_EQ(negative_bytes.code(), Code::kInvalidArgument) << negative_bytes.ToString();
}

TEST_P(RuntimeMigrationTest, VersionTwoRunsAgainOnMysql) {
  if (GetParam() == sql::Dialect::kSqlite) {
    GTEST_SKIP() << "SQLite applies a migration in one transaction, so none runs partly";
  }
  ASSERT_TRUE(Migrate(*database_).ok());
  const sql::Migration& second = sql::EmbeddedMigrations(GetParam())[1];

  // The runner repeats the whole file after a failure; every statement must
  // succeed on a database where it already ran.
  for (const std::string& statement : SplitStatements(second.text)) {
    Status status = Exec(statement);
    EXPECT_TRUE(status.ok()) << statement << ": " << status.ToString();
  }
  EXPECT_EQ(QueryText("SELECT COUNT(*) FROM information_schema.COLUMNS WHERE "
                      "TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'job_dispatch' AND "
                      "COLUMN_NAME IN ('log_bytes', 'log_partial')"),
            "2");
}

INSTANTIATE_TEST_SUITE_P(Backends, RuntimeMigrationTest,
                         ::testing::Values(sql::Dialect::kSqlite, sql::Dialect::kMysql),
                         ::svcd::testing::ParamName);

}  // namespace
}  // namespace svcd::store
