#include "store/database.h"

#include <soci/mysql/soci-mysql.h>
#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <algorithm>
#include <regex>
#include <thread>

namespace svcd::store {
namespace {

// MySQL and MariaDB server and client error numbers that the store handles.
constexpr unsigned kErDupEntry = 1062;
constexpr unsigned kErRowIsReferenced = 1451;
constexpr unsigned kErNoReferencedRow = 1452;
constexpr unsigned kErRowIsReferencedOld = 1217;
constexpr unsigned kErNoReferencedRowOld = 1216;
constexpr unsigned kErCheckMysql = 3819;
constexpr unsigned kErCheckMariadb = 4025;
constexpr unsigned kErBadNull = 1048;
constexpr unsigned kErDataTooLong = 1406;
constexpr unsigned kErOutOfRange = 1264;
constexpr unsigned kErTruncatedValue = 1366;
constexpr unsigned kErJsonSyntaxMariadb = 4038;
constexpr unsigned kErJsonSyntaxMysql = 3141;
constexpr unsigned kErLockWaitTimeout = 1205;
constexpr unsigned kErDeadlock = 1213;
constexpr unsigned kCrConnectionError = 2002;
constexpr unsigned kCrConnHostError = 2003;
constexpr unsigned kCrServerGone = 2006;
constexpr unsigned kCrServerLost = 2013;
constexpr unsigned kCrServerLostExtended = 2055;
constexpr unsigned kErServerShutdown = 1053;
constexpr unsigned kErConnectionKilled = 1927;

// SQLite primary result codes.
constexpr int kSqliteBusy = 5;
constexpr int kSqliteLocked = 6;
constexpr int kSqliteConstraint = 19;

bool IsMysqlConnectionError(unsigned code) {
  return code == kCrConnectionError || code == kCrConnHostError || code == kCrServerGone ||
         code == kCrServerLost || code == kCrServerLostExtended || code == kErServerShutdown ||
         code == kErConnectionKilled;
}

bool IsConnectionError(const std::exception& error) {
  if (const auto* mysql = dynamic_cast<const soci::mysql_soci_error*>(&error)) {
    return IsMysqlConnectionError(mysql->err_num_);
  }
  if (const auto* soci_error = dynamic_cast<const soci::soci_error*>(&error)) {
    return soci_error->get_error_category() == soci::soci_error::connection_error;
  }
  return false;
}

Code MysqlCode(unsigned number) {
  switch (number) {
    case kErDupEntry:
      return Code::kAlreadyExists;
    case kErRowIsReferenced:
    case kErNoReferencedRow:
    case kErRowIsReferencedOld:
    case kErNoReferencedRowOld:
      return Code::kFailedPrecondition;
    case kErCheckMysql:
    case kErCheckMariadb:
    case kErBadNull:
    case kErDataTooLong:
    case kErOutOfRange:
    case kErTruncatedValue:
    case kErJsonSyntaxMariadb:
    case kErJsonSyntaxMysql:
      return Code::kInvalidArgument;
    case kErLockWaitTimeout:
    case kErDeadlock:
      return Code::kAborted;
    default:
      return IsMysqlConnectionError(number) ? Code::kUnavailable : Code::kInternal;
  }
}

Code SqliteCode(int result, const std::string& message) {
  if (result == kSqliteBusy || result == kSqliteLocked) return Code::kUnavailable;
  if (message.find("malformed JSON") != std::string::npos) return Code::kInvalidArgument;
  if (result != kSqliteConstraint) return Code::kInternal;
  if (message.find("UNIQUE constraint") != std::string::npos) return Code::kAlreadyExists;
  if (message.find("PRIMARY KEY constraint") != std::string::npos) return Code::kAlreadyExists;
  if (message.find("FOREIGN KEY constraint") != std::string::npos) {
    return Code::kFailedPrecondition;
  }
  return Code::kInvalidArgument;  // CHECK and NOT NULL
}

// Quotes a connect-string value for SOCI 4.0, which has no escapes: its
// MySQL backend accepts only '...' and its SQLite backend only "...".
StatusOr<std::string> QuoteParameter(const std::string& value, char quote, std::string_view what) {
  if (value.find(quote) == std::string::npos) return quote + value + quote;
  return Status::InvalidArgument(std::string(what) + " contains the character " + quote +
                                 ", which SOCI cannot pass in a connect string; choose one "
                                 "without it");
}

}  // namespace

Database::Database(StoreUrl url, std::string password, DatabaseOptions options)
    : url_(std::move(url)), password_(std::move(password)), options_(options) {}

Database::~Database() = default;

StatusOr<std::unique_ptr<Database>> Database::Open(const StoreUrl& url, std::string password,
                                                   const DatabaseOptions& options) {
  std::unique_ptr<Database> database(new Database(url, std::move(password), options));
  std::lock_guard<std::mutex> lock(database->mutex_);
  Status status = database->Connect();
  if (!status.ok()) return status;
  return database;
}

Status Database::Connect() {
  session_.reset();
  std::string connect_string;
  if (url_.dialect == sql::Dialect::kSqlite) {
    StatusOr<std::string> path = QuoteParameter(url_.path, '"', "the SQLite path");
    if (!path.ok()) return path.status();
    connect_string = "db=" + *path;
  } else {
    StatusOr<std::string> password = QuoteParameter(password_, '\'', "the store password");
    if (!password.ok()) return password.status();
    connect_string = "host=" + url_.host + " port=" + std::to_string(url_.port) +
                     " dbname=" + url_.database + " user=" + url_.user + " password=" + *password +
                     " charset=utf8mb4 connect_timeout=" +
                     std::to_string(options_.mysql_connect_timeout_seconds) +
                     " read_timeout=" + std::to_string(options_.mysql_io_timeout_seconds) +
                     " write_timeout=" + std::to_string(options_.mysql_io_timeout_seconds);
  }

  try {
    auto session = url_.dialect == sql::Dialect::kSqlite
                       ? std::make_unique<soci::session>(soci::sqlite3, connect_string)
                       : std::make_unique<soci::session>(soci::mysql, connect_string);
    if (url_.dialect == sql::Dialect::kSqlite) {
      // journal_mode and busy_timeout return a row, so read it.
      std::string mode;
      *session << "PRAGMA journal_mode=WAL", soci::into(mode);
      int timeout = 0;
      *session << "PRAGMA busy_timeout=" + std::to_string(options_.sqlite_busy_timeout_ms),
          soci::into(timeout);
      *session << "PRAGMA foreign_keys=ON";
      int foreign_keys = 0;
      *session << "PRAGMA foreign_keys", soci::into(foreign_keys);
      if (foreign_keys != 1) return Status::Internal("SQLite refused to enforce foreign keys");
    } else {
      *session << "SET SESSION sql_mode = "
                  "'STRICT_ALL_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'";
    }
    session_ = std::move(session);
    return Status::Ok();
  } catch (const std::exception& error) {
    Status status = ErrorToStatus("cannot open store " + url_.ToString(), error);
    // Every failure to open is reported as Unavailable: the store is not usable yet.
    return Status::Unavailable(status.message());
  }
}

Status Database::Reconnect() { return Connect(); }

std::string Database::Scrub(std::string text) const {
  static const std::regex kPasswordParameter(R"(password\s*=\s*('[^']*'|"[^"]*"|\S+))",
                                             std::regex::icase);
  text = std::regex_replace(text, kPasswordParameter, "password=***");
  if (!password_.empty()) {
    for (size_t at = text.find(password_); at != std::string::npos;
         at = text.find(password_, at + 3)) {
      text.replace(at, password_.size(), "***");
    }
  }
  return text;
}

Status Database::ErrorToStatus(std::string_view context, const std::exception& error) const {
  Code code = Code::kInternal;
  std::string detail = error.what();
  if (const auto* mysql = dynamic_cast<const soci::mysql_soci_error*>(&error)) {
    code = MysqlCode(mysql->err_num_);
    detail = mysql->get_error_message();
  } else if (const auto* sqlite = dynamic_cast<const soci::sqlite3_soci_error*>(&error)) {
    detail = sqlite->get_error_message();
    code = SqliteCode(sqlite->result(), detail);
  } else if (const auto* soci_error = dynamic_cast<const soci::soci_error*>(&error)) {
    detail = soci_error->get_error_message();
    if (IsConnectionError(error)) code = Code::kUnavailable;
  }
  // Trim the trailing newline some backends add.
  while (!detail.empty() && (detail.back() == '\n' || detail.back() == ' ')) detail.pop_back();
  return Status(code, Scrub(std::string(context) + ": " + detail));
}

Status Database::RunOnce(std::string_view context, const SessionWork& work, bool transaction,
                         bool& retryable) {
  soci::session& session = *session_;
  bool committing = false;
  try {
    if (transaction) {
      session << (url_.dialect == sql::Dialect::kSqlite ? "BEGIN IMMEDIATE" : "START TRANSACTION");
    }
    Status status = work(session);
    if (!status.ok()) {
      if (transaction) session << "ROLLBACK";
      return status;
    }
    if (transaction) {
      committing = true;
      session << "COMMIT";
    }
    return Status::Ok();
  } catch (const std::exception& error) {
    bool lost = IsConnectionError(error);
    if (transaction && !lost) {
      try {
        session << "ROLLBACK";
      } catch (const std::exception&) {
        lost = true;  // the session is in an unknown state: start afresh next time
      }
    }
    if (lost) session_.reset();
    Status status = ErrorToStatus(context, error);
    if (lost && committing) {
      return Status::Unavailable(status.message() +
                                 " (the connection was lost during COMMIT, so whether the "
                                 "write took effect is unknown)");
    }
    retryable = lost;
    return status;
  }
}

Status Database::RunLocked(std::string_view context, const SessionWork& work, bool transaction) {
  std::chrono::milliseconds backoff = options_.reconnect_backoff;
  Status status;
  for (int attempt = 0;; ++attempt) {
    bool retryable = false;
    if (session_ == nullptr) {
      status = Reconnect();
      retryable = !status.ok();
    }
    if (session_ != nullptr) status = RunOnce(context, work, transaction, retryable);
    if (!retryable || attempt >= options_.reconnect_attempts) break;

    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, options_.max_reconnect_backoff);
  }
  if (status.code() == Code::kUnavailable || session_ == nullptr) {
    return Status::Unavailable(status.message());
  }
  return status;
}

Status Database::Run(std::string_view context, const SessionWork& work) {
  std::lock_guard<std::mutex> lock(mutex_);
  return RunLocked(context, work, /*transaction=*/false);
}

Status Database::RunInTransaction(std::string_view context, const SessionWork& work) {
  std::lock_guard<std::mutex> lock(mutex_);
  return RunLocked(context, work, /*transaction=*/true);
}

Status Database::Ping() {
  return Run("store ping", [](soci::session& session) {
    int one = 0;
    session << "SELECT 1", soci::into(one);
    return one == 1 ? Status::Ok()
                    : Status::Internal("store ping: SELECT 1 returned " + std::to_string(one));
  });
}

}  // namespace svcd::store
