// SqlStore: the Store over SOCI, shared by SQLite and MySQL/MariaDB.
//
// The SQL is the same for both backends. The differences live in two
// places. Database decides how a transaction begins and how errors map to
// codes. LockingRead adds FOR UPDATE on MySQL and nothing on SQLite, whose
// BEGIN IMMEDIATE already takes the write lock.

#ifndef SVCD_STORE_SQL_STORE_H_
#define SVCD_STORE_SQL_STORE_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "store/database.h"
#include "store/object_rows.h"
#include "store/sql_runtime_store.h"
#include "store/sql_util.h"
#include "store/store.h"

namespace soci {
class session;
}

namespace svcd::store {

class SqlStore : public Store {
 public:
  // Uses `database`, which must be migrated already.
  SqlStore(std::unique_ptr<Database> database, StoreOptions options);

  StatusOr<api::Object> Get(const ObjectKey& key) override;
  StatusOr<std::vector<api::Object>> List(const ListOptions& options) override;
  StatusOr<std::vector<WriteResult>> WriteBatch(const std::vector<Write>& writes,
                                                const BatchOptions& options) override;
  StatusOr<api::Object> UpdateStatus(const api::Object& object) override;
  StatusOr<WriteResult> NewGeneration(const ObjectKey& key, const std::string& user,
                                      const std::string& reason) override;
  StatusOr<WriteResult> RemoveFinalizer(const ObjectKey& key, const std::string& finalizer,
                                        const std::string& user) override;
  StatusOr<std::vector<ObjectKey>> DeploysUsingHost(const std::string& name) override;
  StatusOr<std::vector<ObjectKey>> DeploysUsingTemplate(const std::string& name) override;
  StatusOr<std::vector<ApplySetMember>> ListApplySet(const std::string& name) override;
  Status RemoveApplySetMember(const std::string& name, const ObjectKey& key) override;
  StatusOr<Lease> AcquireLease(
      const std::string& holder,
      const std::function<bool(const std::string&)>& holder_is_gone = {}) override;
  StatusOr<Lease> RenewLease(const std::string& holder) override;
  Status ReleaseLease(const std::string& holder) override;
  StatusOr<Event> AppendEvent(const Event& event) override;
  StatusOr<std::vector<Event>> ListEvents(const std::string& uid) override;
  StatusOr<std::vector<Event>> ListRecentEvents(const std::string& namespace_, int limit) override;
  Status Ping() override;
  RuntimeStore& runtime() override;

 private:
  // A live object row as read inside a write transaction.
  struct StoredRow {
    const KindTable* table = nullptr;
    api::Object object;
    long long resource_version = 0;
  };

  // Object rows (sql_store.cc).
  StatusOr<std::optional<StoredRow>> LoadLive(soci::session& session, const KindTable& table,
                                              const ObjectKey& key, bool lock);
  StatusOr<std::vector<api::Object>> LoadAllLive(soci::session& session, const KindTable& table,
                                                 const std::string& namespace_);
  StatusOr<WriteResult> ApplyWrite(soci::session& session, const Write& write,
                                   const BatchOptions& options);
  StatusOr<WriteResult> CreateRow(soci::session& session, const KindTable& table,
                                  api::Object object, const std::string& user);
  StatusOr<WriteResult> UpdateRow(soci::session& session, const StoredRow& current,
                                  const api::Object& incoming, const std::string& user);
  StatusOr<WriteResult> DeleteRow(soci::session& session, const StoredRow& current,
                                  const std::string& user);
  Status RewriteRow(soci::session& session, const StoredRow& current, const api::Object& updated,
                    long long new_version, const std::string& user, bool mark_deleted);
  Status InsertAudit(soci::session& session, const KindTable& table, const char* operation,
                     const std::string& user, const api::Object* before, const api::Object* after,
                     const std::string& remark);
  StatusOr<SqlValue> TemplateIdOf(soci::session& session, const api::Object& object);

  // Records (sql_store_records.cc).
  Status RecordApplySetMember(soci::session& session, const std::string& name,
                              const api::Object& object);
  Status DropApplySetMember(soci::session& session, const std::string& name, const ObjectKey& key);
  StatusOr<std::optional<Lease>> LoadLease(soci::session& session);

  // Returns " FOR UPDATE" on MySQL, "" on SQLite.
  const char* LockingRead() const;
  int64_t NowMs() const;

  std::unique_ptr<Database> database_;
  StoreOptions options_;
  std::unique_ptr<SqlRuntimeStore> runtime_;  // over *database_
};

}  // namespace svcd::store

#endif  // SVCD_STORE_SQL_STORE_H_
