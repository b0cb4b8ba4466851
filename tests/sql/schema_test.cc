// Tests that the schema itself enforces its rules, on real SQLite and real
// MariaDB: each test writes rows straight into the tables and tries to break
// a rule.

#include <gtest/gtest.h>
#include <soci/soci.h>

#include "store/migrate.h"
#include "tests/sql/scratch_database.h"

namespace svcd::store {
namespace {

using ::svcd::testing::ScratchDatabase;

constexpr char kDoc[] = "'{}'";

class SchemaTest : public ::testing::TestWithParam<sql::Dialect> {
 protected:
  void SetUp() override {
    SVCD_SKIP_UNLESS_AVAILABLE(GetParam());
    scratch_ = std::make_unique<ScratchDatabase>(GetParam());
    database_ = scratch_->Open();
    ASSERT_NE(database_, nullptr);
    StatusOr<MigrationReport> report = Migrate(*database_);
    ASSERT_TRUE(report.ok()) << report.status().ToString();
  }

  Status Exec(const std::string& statement) {
    return database_->Run("test statement", [&](soci::session& session) {
      session << statement;
      return Status::Ok();
    });
  }

  std::string QueryText(const std::string& query) {
    std::string value;
    soci::indicator indicator = soci::i_ok;
    Status status = database_->Run("test query", [&](soci::session& session) {
      session << query, soci::into(value, indicator);
      return Status::Ok();
    });
    EXPECT_TRUE(status.ok()) << status.ToString();
    return indicator == soci::i_ok ? value : "<null>";
  }

  Status InsertHost(const std::string& id, const std::string& name,
                    const std::string& labels = "{}") {
    return Exec(
        "INSERT INTO env_host (host_id, name, hostname, ip_addr, executor, labels, object_doc, "
        "status_doc, generation, resource_version, create_time, update_time, create_owner, "
        "update_owner) VALUES ('" +
        id + "', '" + name + "', '', '10.0.0.1', 'local', '" + labels + "', " + kDoc + ", " + kDoc +
        ", 1, 1, 0, 0, 'test', 'test')");
  }

  Status InsertTemplate(const std::string& id, const std::string& name) {
    return Exec(
        "INSERT INTO svc_template (template_id, name, scene_type, model_backend, backend_version, "
        "fixed_prefix, object_doc, status_doc, generation, resource_version, create_time, "
        "update_time, create_owner, update_owner) VALUES ('" +
        id + "', '" + name + "', 'vllm', 'vllm', '0.6', 'python3', " + kDoc + ", " + kDoc +
        ", 1, 1, 0, 0, 'test', 'test')");
  }

  // Inserts a deploy; `deleted` rows get data_status DELETED.
  Status InsertDeploy(const std::string& id, const std::string& name, bool deleted = false) {
    return Exec(
        "INSERT INTO svc_deploy (deploy_id, namespace, name, template_name, model_name, "
        "run_cmd_req, object_doc, status_doc, generation, resource_version, finalizers, "
        "data_status, deleted_time, create_time, update_time, create_owner, update_owner) "
        "VALUES ('" +
        id + "', 'default', '" + name + "', 'tpl', 'qwen', '{}', " + kDoc + ", " + kDoc +
        ", 1, 1, '[]', " + (deleted ? "'DELETED', 5" : "'ACTIVE', NULL") +
        ", 0, 0, 'test', 'test')");
  }

  Status InsertTarget(const std::string& id, const std::string& deploy_id, const std::string& role,
                      int rank, const std::string& name, const std::string& host_id = "h1") {
    return Exec(
        "INSERT INTO svc_deploy_target (target_id, deploy_id, target_name, role, node_rank, "
        "host_id, host_name, generation, create_time, update_time, create_owner, update_owner) "
        "VALUES ('" +
        id + "', '" + deploy_id + "', '" + name + "', '" + role + "', " + std::to_string(rank) +
        ", '" + host_id + "', 'host', 1, 0, 0, 'test', 'test')");
  }

  Status InsertLog(const std::string& deploy_id, const std::string& target_id, int seq) {
    return Exec(
        "INSERT INTO log_event (deploy_id, target_id, seq, attempt, source, content, ts) "
        "VALUES ('" +
        deploy_id + "', '" + target_id + "', " + std::to_string(seq) +
        ", 1, 'SERVICE', 'line', 0)");
  }

  // Creates host h1 and deploy d1 for target tests.
  void InsertHostAndDeploy() {
    ASSERT_TRUE(InsertHost("h1", "gpu-01").ok());
    ASSERT_TRUE(InsertDeploy("d1", "qwen").ok());
  }

  std::unique_ptr<ScratchDatabase> scratch_;
  std::unique_ptr<Database> database_;
};

TEST_P(SchemaTest, RejectsSecondMasterInDeploy) {
  InsertHostAndDeploy();
  ASSERT_TRUE(InsertTarget("t1", "d1", "master", 0, "master").ok());

  Status status = InsertTarget("t2", "d1", "master", 0, "master");

  EXPECT_EQ(status.code(), Code::kAlreadyExists) << status.ToString();
}

TEST_P(SchemaTest, RejectsRankThatDoesNotMatchRole) {
  InsertHostAndDeploy();

  Status master_rank_one = InsertTarget("t1", "d1", "master", 1, "master");
  Status worker_rank_zero = InsertTarget("t2", "d1", "worker", 0, "worker-0");
  Status misnamed_worker = InsertTarget("t3", "d1", "worker", 1, "worker-1");
  Status unknown_role = InsertTarget("t4", "d1", "leader", 0, "master");

  EXPECT_EQ(master_rank_one.code(), Code::kInvalidArgument) << master_rank_one.ToString();
  EXPECT_EQ(worker_rank_zero.code(), Code::kInvalidArgument) << worker_rank_zero.ToString();
  EXPECT_EQ(misnamed_worker.code(), Code::kInvalidArgument) << misnamed_worker.ToString();
  EXPECT_EQ(unknown_role.code(), Code::kInvalidArgument) << unknown_role.ToString();
}

TEST_P(SchemaTest, AcceptsMasterAndWorkers) {
  InsertHostAndDeploy();

  EXPECT_TRUE(InsertTarget("t1", "d1", "master", 0, "master").ok());
  EXPECT_TRUE(InsertTarget("t2", "d1", "worker", 1, "worker-0").ok());
  EXPECT_TRUE(InsertTarget("t3", "d1", "worker", 2, "worker-1").ok());
  Status duplicate_worker = InsertTarget("t4", "d1", "worker", 2, "worker-1");
  EXPECT_EQ(duplicate_worker.code(), Code::kAlreadyExists) << duplicate_worker.ToString();
}

TEST_P(SchemaTest, RejectsTargetOfMissingDeploy) {
  ASSERT_TRUE(InsertHost("h1", "gpu-01").ok());

  Status status = InsertTarget("t1", "no-such-deploy", "master", 0, "master");

  EXPECT_EQ(status.code(), Code::kFailedPrecondition) << status.ToString();
}

TEST_P(SchemaTest, RejectsTargetOfMissingHost) {
  InsertHostAndDeploy();

  Status status = InsertTarget("t1", "d1", "master", 0, "master", "no-such-host");

  EXPECT_EQ(status.code(), Code::kFailedPrecondition) << status.ToString();
}

TEST_P(SchemaTest, DeletingHostKeepsTargetHistory) {
  InsertHostAndDeploy();
  ASSERT_TRUE(InsertTarget("t1", "d1", "master", 0, "master").ok());

  Status status = Exec("DELETE FROM env_host WHERE host_id = 'h1'");

  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(QueryText("SELECT host_id FROM svc_deploy_target WHERE target_id = 't1'"), "<null>");
  EXPECT_EQ(QueryText("SELECT host_name FROM svc_deploy_target WHERE target_id = 't1'"), "host");
}

TEST_P(SchemaTest, RejectsDuplicateHostName) {
  ASSERT_TRUE(InsertHost("h1", "gpu-01").ok());

  Status status = InsertHost("h2", "gpu-01");

  EXPECT_EQ(status.code(), Code::kAlreadyExists) << status.ToString();
}

TEST_P(SchemaTest, RejectsDuplicateTemplateName) {
  ASSERT_TRUE(InsertTemplate("p1", "vllm").ok());

  Status status = InsertTemplate("p2", "vllm");

  EXPECT_EQ(status.code(), Code::kAlreadyExists) << status.ToString();
}

TEST_P(SchemaTest, RejectsTwoLiveDeploysWithOneName) {
  ASSERT_TRUE(InsertDeploy("d1", "qwen").ok());

  Status status = InsertDeploy("d2", "qwen");

  EXPECT_EQ(status.code(), Code::kAlreadyExists) << status.ToString();
}

TEST_P(SchemaTest, AcceptsLiveDeployBesideDeletedOnes) {
  ASSERT_TRUE(InsertDeploy("d1", "qwen", /*deleted=*/true).ok());
  ASSERT_TRUE(InsertDeploy("d2", "qwen", /*deleted=*/true).ok());

  Status status = InsertDeploy("d3", "qwen");

  EXPECT_TRUE(status.ok()) << status.ToString();
}

TEST_P(SchemaTest, FreesNameWhenDeployIsMarkedDeleted) {
  ASSERT_TRUE(InsertDeploy("d1", "qwen").ok());
  ASSERT_EQ(InsertDeploy("d2", "qwen").code(), Code::kAlreadyExists);

  ASSERT_TRUE(
      Exec("UPDATE svc_deploy SET data_status = 'DELETED', deleted_time = 7 WHERE deploy_id = 'd1'")
          .ok());

  EXPECT_TRUE(InsertDeploy("d2", "qwen").ok());
}

TEST_P(SchemaTest, RejectsDeletedDeployWithoutDeletedTime) {
  ASSERT_TRUE(InsertDeploy("d1", "qwen").ok());

  Status status = Exec("UPDATE svc_deploy SET data_status = 'DELETED' WHERE deploy_id = 'd1'");

  EXPECT_EQ(status.code(), Code::kInvalidArgument) << status.ToString();
}

TEST_P(SchemaTest, RejectsDuplicateLogSeqPerTarget) {
  InsertHostAndDeploy();
  ASSERT_TRUE(InsertTarget("t1", "d1", "master", 0, "master").ok());
  ASSERT_TRUE(InsertTarget("t2", "d1", "worker", 1, "worker-0").ok());
  ASSERT_TRUE(InsertLog("d1", "t1", 1).ok());

  Status duplicate = InsertLog("d1", "t1", 1);
  Status other_target = InsertLog("d1", "t2", 1);
  Status zero = InsertLog("d1", "t1", 0);

  EXPECT_EQ(duplicate.code(), Code::kAlreadyExists) << duplicate.ToString();
  EXPECT_TRUE(other_target.ok()) << other_target.ToString();
  EXPECT_EQ(zero.code(), Code::kInvalidArgument) << zero.ToString();
}

TEST_P(SchemaTest, RejectsUnknownStageAndState) {
  InsertHostAndDeploy();
  ASSERT_TRUE(InsertTarget("t1", "d1", "master", 0, "master").ok());

  Status stage = Exec("UPDATE svc_deploy_target SET stage = 'LAUNCH' WHERE target_id = 't1'");
  Status state = Exec("UPDATE svc_deploy_target SET state = 'SUCCEEDED' WHERE target_id = 't1'");
  Status ready = Exec(
      "UPDATE svc_deploy_target SET stage = 'HEALTH_CHECK', state = 'READY' WHERE target_id = "
      "'t1'");

  EXPECT_EQ(stage.code(), Code::kInvalidArgument) << stage.ToString();
  EXPECT_EQ(state.code(), Code::kInvalidArgument) << state.ToString();
  EXPECT_TRUE(ready.ok()) << ready.ToString();
}

TEST_P(SchemaTest, RejectsInvalidJsonDocuments) {
  Status labels = InsertHost("h1", "gpu-01", "{not json");

  EXPECT_EQ(labels.code(), Code::kInvalidArgument) << labels.ToString();
}

TEST_P(SchemaTest, QueriesLabelColumnThroughIndex) {
  ASSERT_TRUE(InsertHost("h1", "gpu-01", R"({"accel":"A100","room":"A3"})").ok());
  ASSERT_TRUE(InsertHost("h2", "gpu-02", R"({"accel":"H100"})").ok());
  ASSERT_TRUE(InsertHost("h3", "gpu-03", R"({"room":"A3"})").ok());

  EXPECT_EQ(QueryText("SELECT name FROM env_host WHERE label_accel = 'A100'"), "gpu-01");
  EXPECT_EQ(QueryText("SELECT name FROM env_host WHERE label_accel = 'H100'"), "gpu-02");
  EXPECT_EQ(QueryText("SELECT label_accel FROM env_host WHERE name = 'gpu-03'"), "<null>");

  if (GetParam() == sql::Dialect::kSqlite) {
    std::string plan;
    Status status = database_->Run("explain", [&](soci::session& session) {
      soci::rowset<soci::row> rows =
          session.prepare << "EXPLAIN QUERY PLAN SELECT name FROM env_host WHERE label_accel = 'x'";
      for (const soci::row& row : rows) plan += row.get<std::string>(3) + "\n";
      return Status::Ok();
    });
    ASSERT_TRUE(status.ok()) << status.ToString();
    EXPECT_NE(plan.find("idx_host_label_accel"), std::string::npos) << plan;
  } else {
    EXPECT_EQ(QueryText("SELECT column_name FROM information_schema.statistics WHERE "
                        "table_schema = DATABASE() AND index_name = 'idx_host_label_accel'"),
              "label_accel");
    std::string possible_keys;
    Status status = database_->Run("explain", [&](soci::session& session) {
      soci::rowset<soci::row> rows = session.prepare
                                     << "EXPLAIN SELECT name FROM env_host WHERE label_accel = 'x'";
      for (const soci::row& row : rows) {
        for (size_t i = 0; i < row.size(); ++i) {
          if (row.get_properties(i).get_name() == "possible_keys" &&
              row.get_indicator(i) == soci::i_ok) {
            possible_keys += row.get<std::string>(i);
          }
        }
      }
      return Status::Ok();
    });
    ASSERT_TRUE(status.ok()) << status.ToString();
    EXPECT_NE(possible_keys.find("idx_host_label_accel"), std::string::npos) << possible_keys;
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, SchemaTest,
                         ::testing::Values(sql::Dialect::kSqlite, sql::Dialect::kMysql),
                         ::svcd::testing::ParamName);

}  // namespace
}  // namespace svcd::store
