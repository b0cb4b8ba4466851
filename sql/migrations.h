// The SQL migrations of svcd, embedded into the binary at build time.
//
// sql/CMakeLists.txt turns every file sql/<dialect>/NNNN_name.sql into an
// entry here, so svcd needs no source tree at run time. Versions start at 1,
// have no gaps, and the list is ordered by version.

#ifndef SVCD_SQL_MIGRATIONS_H_
#define SVCD_SQL_MIGRATIONS_H_

#include <string_view>
#include <vector>

namespace svcd::sql {

enum class Dialect { kSqlite, kMysql };

struct Migration {
  int version = 0;        // NNNN of the file name
  std::string_view name;  // the rest of the file name, without ".sql"
  std::string_view text;  // the file contents, byte for byte
};

// Returns the embedded migrations of `dialect`, ordered by version. The
// returned storage is static and lives as long as the program.
const std::vector<Migration>& EmbeddedMigrations(Dialect dialect);

}  // namespace svcd::sql

#endif  // SVCD_SQL_MIGRATIONS_H_
