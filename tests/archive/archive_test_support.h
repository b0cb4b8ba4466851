// Shared set-up of the archive tests: a fresh store (SQLite, or MariaDB
// when SVCD_TEST_MYSQL_URL is set) holding one deploy with a master and two
// workers, a clock the test moves, and helpers to write log lines.

#ifndef SVCD_TESTS_ARCHIVE_ARCHIVE_TEST_SUPPORT_H_
#define SVCD_TESTS_ARCHIVE_ARCHIVE_TEST_SUPPORT_H_

#include <gtest/gtest.h>
#include <soci/soci.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "api/codec.h"
#include "store/runtime_store.h"
#include "store/store.h"
#include "tests/sql/scratch_database.h"

namespace svcd::archive_test {

inline constexpr char kUser[] = "alice";

inline store::TargetPlan MakePlan(int rank, int64_t generation = 1) {
  store::TargetPlan plan;
  plan.rank = rank;
  plan.role = rank == 0 ? "master" : "worker";
  plan.name = rank == 0 ? "master" : "worker-" + std::to_string(rank - 1);
  plan.host = "gpu-0" + std::to_string(rank + 1);
  plan.generation = generation;
  plan.env_rendered = "export SVCD_ROLE='" + plan.role + "'\n";
  plan.cmd_rendered = "#!/bin/sh\n" + plan.env_rendered + "exec python3 -m vllm --gen " +
                      std::to_string(generation) + "\n";
  plan.command_hash = "sha256:" + std::to_string(generation) + plan.name;
  return plan;
}

class ArchiveStoreFixture : public ::testing::TestWithParam<sql::Dialect> {
 protected:
  void SetUp() override {
    SVCD_SKIP_UNLESS_AVAILABLE(GetParam());
    scratch_ = std::make_unique<::svcd::testing::ScratchDatabase>(GetParam());
    store::StoreOptions options;
    options.now_ms = [this] { return now_ms_.load(); };
    StatusOr<std::unique_ptr<store::Store>> opened =
        store::OpenStore(scratch_->url().ToString(), scratch_->password(), options);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(*opened);
    inspector_ = scratch_->Open();
    ASSERT_NE(inspector_, nullptr);

    api::ServiceDeploy deploy;
    deploy.metadata.namespace_ = "eval";
    deploy.metadata.name = "qwen";
    deploy.spec.template_ref = "vllm-0-6";
    deploy.spec.model_name = "qwen2-7b";
    deploy.spec.master.host = "gpu-01";
    deploy.spec.workers = {api::NodeSpec{"gpu-02", {}, {}}, api::NodeSpec{"gpu-03", {}, {}}};
    StatusOr<store::WriteResult> created = store_->Create(deploy, kUser);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    deploy_ = api::MetaOf(created->object).uid;
    Status synced = runtime().SyncTargets(deploy_, {MakePlan(0), MakePlan(1), MakePlan(2)}, kUser);
    ASSERT_TRUE(synced.ok()) << synced.ToString();
  }

  store::RuntimeStore& runtime() { return store_->runtime(); }

  // Appends `count` agent lines "PREFIX-i" to `target`, one per call.
  void AddLines(const std::string& target, int count, const std::string& prefix = "line") {
    for (int i = 1; i <= count; ++i) {
      Status status = runtime().AppendAgentLog(deploy_, target, prefix + "-" + std::to_string(i));
      ASSERT_TRUE(status.ok()) << status.ToString();
    }
  }

  // Returns every stored line of `target`, oldest first.
  std::vector<store::LogLine> AllLines(const std::string& target) {
    StatusOr<std::vector<store::LogLine>> lines = runtime().ReadLogs(deploy_, target, 0, 0, 10000);
    EXPECT_TRUE(lines.ok()) << lines.status().ToString();
    return lines.ok() ? *lines : std::vector<store::LogLine>();
  }

  long long Count(const std::string& query) {
    long long count = -1;
    Status status = inspector_->Run("count", [&](soci::session& session) {
      session << query, soci::into(count);
      return Status::Ok();
    });
    EXPECT_TRUE(status.ok()) << status.ToString();
    return count;
  }

  Status RunSql(const std::string& statement) {
    return inspector_->Run("test statement", [&](soci::session& session) {
      session << statement;
      return Status::Ok();
    });
  }

  std::atomic<int64_t> now_ms_{1'700'000'000'000};
  std::unique_ptr<::svcd::testing::ScratchDatabase> scratch_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<store::Database> inspector_;
  std::string deploy_;
};

}  // namespace svcd::archive_test

#endif  // SVCD_TESTS_ARCHIVE_ARCHIVE_TEST_SUPPORT_H_
