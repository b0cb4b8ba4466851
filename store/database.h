// Database: one SOCI session to SQLite or MySQL/MariaDB, with error
// translation and reconnection.
//
// Thread-safety: every call takes an internal mutex, so one Database may be
// shared by many threads. Calls run one at a time on the single session,
// which costs little because SQLite serializes writers anyway and the
// store's calls are short.

#ifndef SVCD_STORE_DATABASE_H_
#define SVCD_STORE_DATABASE_H_

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "api/status.h"
#include "sql/migrations.h"
#include "store/store_url.h"

namespace soci {
class session;
}

namespace svcd::store {

struct DatabaseOptions {
  // Reconnect attempts after a lost MySQL connection before a call fails
  // with Unavailable. The first wait is `reconnect_backoff`, doubled after
  // each attempt up to `max_reconnect_backoff`.
  int reconnect_attempts = 4;
  std::chrono::milliseconds reconnect_backoff{100};
  std::chrono::milliseconds max_reconnect_backoff{2000};
  // SQLite: how long a writer waits for another connection's lock.
  int sqlite_busy_timeout_ms = 5000;
  // MySQL: connect timeout and per-read/per-write network timeouts.
  int mysql_connect_timeout_seconds = 5;
  int mysql_io_timeout_seconds = 30;
};

// The work that Run and RunInTransaction perform on the session. It may
// throw SOCI exceptions; they become a Status.
using SessionWork = std::function<Status(soci::session&)>;

class Database {
 public:
  // Opens a session to `url`. `password` is used for MySQL only and never
  // appears in a returned message. SQLite sessions run with WAL journaling,
  // foreign keys enforced and a busy timeout. Errors: InvalidArgument for an
  // unusable password, Unavailable when the server cannot be reached.
  static StatusOr<std::unique_ptr<Database>> Open(const StoreUrl& url, std::string password,
                                                  const DatabaseOptions& options = {});
  ~Database();

  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  sql::Dialect dialect() const { return url_.dialect; }
  const StoreUrl& url() const { return url_; }

  // Runs `work` under the mutex without a transaction. SOCI exceptions
  // become a Status whose message starts with `context`. When a MySQL
  // connection is lost, reconnects with bounded backoff and runs `work`
  // again, so `work` must be safe to repeat.
  Status Run(std::string_view context, const SessionWork& work);

  // Runs `work` in a transaction: BEGIN IMMEDIATE on SQLite (the write lock
  // is taken at once), START TRANSACTION on MySQL. Commits when `work`
  // returns OK and rolls back otherwise, so a failed call leaves nothing
  // behind. A lost connection before COMMIT is retried like Run; a lost
  // connection during COMMIT returns Unavailable, because the outcome is
  // unknown.
  Status RunInTransaction(std::string_view context, const SessionWork& work);

  // Checks that the database responds to a trivial query, reconnecting if
  // needed. Returns Unavailable with the reason otherwise.
  Status Ping();

  // Converts an exception thrown by SOCI into a Status. Constraint
  // violations map to AlreadyExists (unique), FailedPrecondition (foreign
  // key) and InvalidArgument (check); connection errors to Unavailable; the
  // rest to Internal. The password never appears in the message.
  Status ErrorToStatus(std::string_view context, const std::exception& error) const;

 private:
  Database(StoreUrl url, std::string password, DatabaseOptions options);

  Status Connect();
  Status Reconnect();
  Status RunLocked(std::string_view context, const SessionWork& work, bool transaction);
  Status RunOnce(std::string_view context, const SessionWork& work, bool transaction,
                 bool& connection_lost);
  std::string Scrub(std::string text) const;

  const StoreUrl url_;
  const std::string password_;
  const DatabaseOptions options_;

  std::mutex mutex_;
  std::unique_ptr<soci::session> session_;  // guarded by mutex_
};

}  // namespace svcd::store

#endif  // SVCD_STORE_DATABASE_H_
