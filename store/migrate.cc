#include "store/migrate.h"

#include <soci/soci.h>

#include <chrono>
#include <map>

namespace svcd::store {
namespace {

constexpr char kMysqlBootstrap[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INT NOT NULL, name VARCHAR(255) NOT NULL, applied_time BIGINT NOT NULL,"
    " PRIMARY KEY (version)"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin";
constexpr char kSqliteBootstrap[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_time INTEGER NOT NULL"
    ") STRICT";
constexpr char kMysqlLockName[] = "svcd.schema_migrations";
constexpr int kMysqlLockTimeoutSeconds = 60;

int64_t NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Skips a quoted string that starts at script[i]; returns the index after it.
size_t SkipQuoted(std::string_view script, size_t i) {
  char quote = script[i];
  for (++i; i < script.size(); ++i) {
    if (script[i] == '\\' && quote != '`') {
      ++i;  // MySQL's backslash escape; harmless for SQLite scripts without one
    } else if (script[i] == quote) {
      if (i + 1 < script.size() && script[i + 1] == quote) {
        ++i;  // a doubled quote stands for one quote character
      } else {
        return i + 1;
      }
    }
  }
  return i;
}

bool IsBlank(const std::string& text) {
  return text.find_first_not_of(" \t\r\n") == std::string::npos;
}

StatusOr<std::map<int, std::string>> ReadRecorded(soci::session& session) {
  std::map<int, std::string> recorded;
  soci::rowset<soci::row> rows = (session.prepare << "SELECT version, name FROM schema_migrations");
  for (const soci::row& row : rows) {
    recorded[row.get<int>(0)] = row.get<std::string>(1);
  }
  return recorded;
}

Status CheckNumbering(const std::vector<sql::Migration>& migrations) {
  for (size_t i = 0; i < migrations.size(); ++i) {
    if (migrations[i].version != static_cast<int>(i) + 1) {
      return Status::InvalidArgument("migration " + std::string(migrations[i].name) +
                                     " has version " + std::to_string(migrations[i].version) +
                                     ", expected " + std::to_string(i + 1) +
                                     ": migrations must be numbered 1..N without gaps");
    }
  }
  return Status::Ok();
}

// Checks that the database records no version this binary does not know and
// that the names of known versions agree.
Status CheckRecorded(const std::map<int, std::string>& recorded,
                     const std::vector<sql::Migration>& migrations) {
  int known = static_cast<int>(migrations.size());
  if (!recorded.empty() && recorded.rbegin()->first > known) {
    return Status::FailedPrecondition(
        "the database schema is at version " + std::to_string(recorded.rbegin()->first) +
        ", newer than version " + std::to_string(known) +
        ", the newest this svcd knows; run a newer svcd against this database");
  }
  for (const auto& [version, name] : recorded) {
    std::string_view expected = migrations[version - 1].name;
    if (name != expected) {
      return Status::FailedPrecondition("the database records schema version " +
                                        std::to_string(version) + " as \"" + name +
                                        "\" but this svcd names it \"" + std::string(expected) +
                                        "\"; the database was migrated by a different build");
    }
  }
  return Status::Ok();
}

// Runs every statement of `migration` and records its version.
Status ApplyStatements(Database& database, soci::session& session,
                       const sql::Migration& migration) {
  std::vector<std::string> statements = SplitStatements(migration.text);
  for (size_t i = 0; i < statements.size(); ++i) {
    try {
      session << statements[i];
    } catch (const soci::soci_error& error) {
      return database.ErrorToStatus("migration " + std::to_string(migration.version) + " (" +
                                        std::string(migration.name) + "), statement " +
                                        std::to_string(i + 1),
                                    error);
    }
  }
  int version = migration.version;
  std::string name(migration.name);
  int64_t now = NowMillis();
  session << "INSERT INTO schema_migrations (version, name, applied_time) VALUES (:v, :n, :t)",
      soci::use(version), soci::use(name), soci::use(now);
  return Status::Ok();
}

// Applies one migration unless another process recorded it meanwhile.
StatusOr<bool> ApplyOne(Database& database, const sql::Migration& migration) {
  bool applied = false;
  auto work = [&](soci::session& session) -> Status {
    int count = 0;
    int version = migration.version;
    session << "SELECT COUNT(*) FROM schema_migrations WHERE version = :v", soci::into(count),
        soci::use(version);
    if (count > 0) return Status::Ok();
    Status status = ApplyStatements(database, session, migration);
    applied = status.ok();
    return status;
  };
  std::string context = "applying migration " + std::to_string(migration.version);
  Status status = database.dialect() == sql::Dialect::kSqlite
                      ? database.RunInTransaction(context, work)
                      : database.Run(context, work);
  if (!status.ok()) return status;
  return applied;
}

Status LockMysql(Database& database, bool lock) {
  return database.Run("schema migration lock", [lock](soci::session& session) -> Status {
    std::string name = kMysqlLockName;
    if (!lock) {
      session << "DO RELEASE_LOCK(:n)", soci::use(name);
      return Status::Ok();
    }
    soci::indicator indicator = soci::i_ok;
    int got = 0;
    int timeout = kMysqlLockTimeoutSeconds;
    session << "SELECT GET_LOCK(:n, :t)", soci::into(got, indicator), soci::use(name),
        soci::use(timeout);
    if (indicator == soci::i_ok && got == 1) return Status::Ok();
    return Status::Unavailable("another svcd has been migrating this database for " +
                               std::to_string(kMysqlLockTimeoutSeconds) + " s; try again later");
  });
}

StatusOr<MigrationReport> MigrateLocked(Database& database,
                                        const std::vector<sql::Migration>& migrations) {
  std::map<int, std::string> recorded;
  Status status = database.Run("reading schema_migrations", [&](soci::session& session) {
    StatusOr<std::map<int, std::string>> rows = ReadRecorded(session);
    if (!rows.ok()) return rows.status();
    recorded = std::move(*rows);
    return Status::Ok();
  });
  if (!status.ok()) return status;
  status = CheckRecorded(recorded, migrations);
  if (!status.ok()) return status;

  MigrationReport report;
  report.from_version = recorded.empty() ? 0 : recorded.rbegin()->first;
  for (const sql::Migration& migration : migrations) {
    if (recorded.count(migration.version) > 0) continue;
    StatusOr<bool> applied = ApplyOne(database, migration);
    if (!applied.ok()) return applied.status();
    if (*applied) report.applied.push_back(migration.version);
  }
  report.to_version = static_cast<int>(migrations.size());
  return report;
}

}  // namespace

std::vector<std::string> SplitStatements(std::string_view script) {
  std::vector<std::string> statements;
  std::string current;
  size_t i = 0;
  while (i < script.size()) {
    char c = script[i];
    if (c == '-' && i + 1 < script.size() && script[i + 1] == '-') {
      i = script.find('\n', i);
      if (i == std::string_view::npos) i = script.size();
    } else if (c == '/' && i + 1 < script.size() && script[i + 1] == '*') {
      size_t end = script.find("*/", i + 2);
      i = end == std::string_view::npos ? script.size() : end + 2;
      current += ' ';
    } else if (c == '\'' || c == '"' || c == '`') {
      size_t end = SkipQuoted(script, i);
      current.append(script.substr(i, end - i));
      i = end;
    } else if (c == ';') {
      if (!IsBlank(current)) statements.push_back(current);
      current.clear();
      ++i;
    } else {
      current += c;
      ++i;
    }
  }
  if (!IsBlank(current)) statements.push_back(current);
  return statements;
}

StatusOr<int> SchemaVersion(Database& database) {
  int version = 0;
  Status status = database.Run("reading the schema version", [&](soci::session& session) {
    session << (database.dialect() == sql::Dialect::kSqlite ? kSqliteBootstrap : kMysqlBootstrap);
    soci::indicator indicator = soci::i_ok;
    session << "SELECT MAX(version) FROM schema_migrations", soci::into(version, indicator);
    if (indicator != soci::i_ok) version = 0;
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return version;
}

StatusOr<MigrationReport> Migrate(Database& database,
                                  const std::vector<sql::Migration>& migrations) {
  Status status = CheckNumbering(migrations);
  if (!status.ok()) return status;
  bool mysql = database.dialect() == sql::Dialect::kMysql;
  status = database.Run("creating schema_migrations", [mysql](soci::session& session) {
    session << (mysql ? kMysqlBootstrap : kSqliteBootstrap);
    return Status::Ok();
  });
  if (!status.ok()) return status;

  if (mysql) {
    status = LockMysql(database, true);
    if (!status.ok()) return status;
  }
  StatusOr<MigrationReport> report = MigrateLocked(database, migrations);
  if (mysql) {
    Status unlock = LockMysql(database, false);
    if (report.ok() && !unlock.ok()) return unlock;
  }
  return report;
}

StatusOr<MigrationReport> Migrate(Database& database) {
  return Migrate(database, sql::EmbeddedMigrations(database.dialect()));
}

}  // namespace svcd::store
