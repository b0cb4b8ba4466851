// Helpers shared by the SOCI stores (SqlStore and SqlRuntimeStore): bound
// statements, UUIDs, the system clock, locking reads and audit rows.
// Internal to the store.

#ifndef SVCD_STORE_SQL_UTIL_H_
#define SVCD_STORE_SQL_UTIL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "sql/migrations.h"
#include "store/object_rows.h"

namespace soci {
class session;
}

namespace svcd::store {

// Runs `sql` with `values` bound to its placeholders in order. Stores the
// number of affected rows in `affected` when it is not null. Throws SOCI
// exceptions, which Database turns into a Status.
void Execute(soci::session& session, const std::string& sql, const std::vector<SqlValue>& values,
             long long* affected = nullptr);

// Returns a new random (version 4) UUID in its 36-character text form.
// Thread-safe.
std::string NewUuid();

// Returns the system clock in milliseconds since the Unix epoch.
int64_t SystemNowMs();

// Returns " FOR UPDATE" on MySQL, "" on SQLite, whose BEGIN IMMEDIATE
// already holds the write lock for the whole transaction.
const char* LockingRead(sql::Dialect dialect);

// One row of op_audit_log. NULL values leave the column NULL.
struct AuditRow {
  std::string entity_type;  // HOST TEMPLATE DEPLOY TARGET JOB PROC PROBE ARCHIVE
  std::string entity_id;    // the uid of the object or row
  std::string entity_namespace;
  std::string entity_name;
  std::string operation;  // INSERT UPDATE DELETE CANCEL RETRY ARCHIVE
  std::string user;
  SqlValue changed_fields;  // JSON array of field paths
  SqlValue old_data;        // JSON document before the change
  SqlValue new_data;        // JSON document after the change
  SqlValue remark;
  int64_t time_ms = 0;
};

// Inserts `row` with a new audit_id. Throws SOCI exceptions.
void InsertAuditRow(soci::session& session, const AuditRow& row);

}  // namespace svcd::store

#endif  // SVCD_STORE_SQL_UTIL_H_
