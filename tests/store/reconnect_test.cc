// Tests of the store's behaviour when its MariaDB connection breaks.

#include <gtest/gtest.h>
#include <soci/soci.h>

#include <chrono>

#include "store/store.h"
#include "tests/sql/scratch_database.h"

namespace svcd::store {
namespace {

using ::svcd::testing::ScratchDatabase;

class ReconnectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SVCD_SKIP_UNLESS_AVAILABLE(sql::Dialect::kMysql);
    scratch_ = std::make_unique<ScratchDatabase>(sql::Dialect::kMysql);
    admin_ = scratch_->Open();
    ASSERT_NE(admin_, nullptr);
  }

  // Kills every connection to the scratch database except the admin's own.
  void KillStoreConnections() {
    Status status = admin_->Run("kill", [&](soci::session& session) {
      std::vector<long long> ids;
      long long id = 0;
      std::string database = scratch_->url().database;
      soci::statement statement =
          (session.prepare << "SELECT id FROM information_schema.processlist WHERE db = :d AND "
                              "id <> CONNECTION_ID()",
           soci::into(id), soci::use(database));
      statement.execute();
      while (statement.fetch()) ids.push_back(id);
      for (long long victim : ids) session << "KILL " + std::to_string(victim);
      EXPECT_FALSE(ids.empty());
      return Status::Ok();
    });
    ASSERT_TRUE(status.ok()) << status.ToString();
  }

  StoreOptions FastOptions() {
    StoreOptions options;
    options.database.reconnect_attempts = 3;
    options.database.reconnect_backoff = std::chrono::milliseconds(20);
    options.database.max_reconnect_backoff = std::chrono::milliseconds(100);
    return options;
  }

  std::unique_ptr<ScratchDatabase> scratch_;
  std::unique_ptr<Database> admin_;
};

TEST_F(ReconnectTest, ReconnectsAfterKilledConnection) {
  StatusOr<std::unique_ptr<Store>> store =
      OpenStore(scratch_->url().ToString(), scratch_->password(), FastOptions());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  api::Host host;
  host.metadata.name = "gpu-01";
  host.spec.address = "127.0.0.1";
  host.spec.executor = "local";
  ASSERT_TRUE((*store)->Create(host, "alice").ok());

  KillStoreConnections();
  StatusOr<api::Object> got = (*store)->Get({api::kKindHost, "", "gpu-01"});

  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_TRUE((*store)->Ping().ok());
}

TEST_F(ReconnectTest, UnavailableWhenReconnectFails) {
  StatusOr<std::unique_ptr<Store>> store =
      OpenStore(scratch_->url().ToString(), scratch_->password(), FastOptions());
  ASSERT_TRUE(store.ok()) << store.status().ToString();

  // Without its database, every reconnect attempt fails.
  Status dropped = admin_->Run("drop database", [&](soci::session& session) {
    session << "DROP DATABASE " + scratch_->url().database;
    return Status::Ok();
  });
  ASSERT_TRUE(dropped.ok()) << dropped.ToString();
  KillStoreConnections();
  auto start = std::chrono::steady_clock::now();
  Status ping = (*store)->Ping();
  auto elapsed = std::chrono::steady_clock::now() - start;

  EXPECT_EQ(ping.code(), Code::kUnavailable) << ping.ToString();
  EXPECT_NE(ping.message().find(scratch_->url().database), std::string::npos) << ping.message();
  EXPECT_EQ(ping.message().find(scratch_->password()), std::string::npos) << ping.message();
  EXPECT_LT(elapsed, std::chrono::seconds(10));
  StatusOr<api::Object> got = (*store)->Get({api::kKindHost, "", "gpu-01"});
  EXPECT_EQ(got.status().code(), Code::kUnavailable) << got.status().ToString();
}

}  // namespace
}  // namespace svcd::store
