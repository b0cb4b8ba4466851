// Parsing of store URLs: `sqlite:PATH` and `mysql://USER@HOST[:PORT]/DB`.
//
// A URL never carries a password. The MySQL password travels separately (an
// environment variable or a file), so it cannot leak through the process
// list, logs or error messages that echo the URL.

#ifndef SVCD_STORE_STORE_URL_H_
#define SVCD_STORE_STORE_URL_H_

#include <string>
#include <string_view>

#include "api/status.h"
#include "sql/migrations.h"

namespace svcd::store {

struct StoreUrl {
  sql::Dialect dialect = sql::Dialect::kSqlite;
  std::string path;      // SQLite: the database file
  std::string user;      // MySQL: the account name
  std::string host;      // MySQL: a name or IP literal, without brackets
  int port = 3306;       // MySQL: the TCP port
  std::string database;  // MySQL: the schema name

  // Formats the URL back into its text form, which contains no secret.
  std::string ToString() const;
};

// Parses `text`. Errors (InvalidArgument) name the part that is wrong and
// show the accepted forms. A URL with a password ("mysql://u:pw@...") is
// rejected with a message that does not repeat the URL.
StatusOr<StoreUrl> ParseStoreUrl(std::string_view text);

}  // namespace svcd::store

#endif  // SVCD_STORE_STORE_URL_H_
