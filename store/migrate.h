// The schema migration runner.
//
// Versions are recorded in the table schema_migrations (version, name,
// applied_time in epoch milliseconds), which the runner creates itself
// because it must exist before any version can be read.

#ifndef SVCD_STORE_MIGRATE_H_
#define SVCD_STORE_MIGRATE_H_

#include <string>
#include <string_view>
#include <vector>

#include "api/status.h"
#include "sql/migrations.h"
#include "store/database.h"

namespace svcd::store {

struct MigrationReport {
  int from_version = 0;      // the schema version found, 0 for an empty database
  int to_version = 0;        // the schema version after the run
  std::vector<int> applied;  // versions applied by this run, in order
};

// Applies the migrations of `migrations` that `database` has not recorded,
// in version order. `migrations` must be numbered 1..N without gaps.
//
// SQLite: each migration and its schema_migrations row commit in one
// transaction, so a failed migration leaves nothing behind. MySQL/MariaDB
// commit DDL implicitly, so every statement of a migration must be safe to
// run again (CREATE TABLE IF NOT EXISTS and the like). The version is
// recorded after the last statement succeeds, and a run after a failure
// repeats the whole migration. A MySQL named lock keeps two svcd from
// migrating at once.
//
// Errors: FailedPrecondition when the database records a version newer
// than N (the message names both versions) or records a different name for
// a known version; InvalidArgument when `migrations` is not numbered 1..N;
// the statement's error, with the migration and statement number, when a
// statement fails.
StatusOr<MigrationReport> Migrate(Database& database,
                                  const std::vector<sql::Migration>& migrations);

// Applies the migrations embedded in the binary for the database's dialect.
StatusOr<MigrationReport> Migrate(Database& database);

// Returns the highest recorded schema version, 0 when none is recorded.
// Creates an empty schema_migrations table when there is none.
StatusOr<int> SchemaVersion(Database& database);

// Splits a SQL script into statements at semicolons outside quotes and
// comments, and drops comments and empty statements.
// NOTE: a statement with an inner semicolon (a trigger body) is not supported.
std::vector<std::string> SplitStatements(std::string_view script);

}  // namespace svcd::store

#endif  // SVCD_STORE_MIGRATE_H_
