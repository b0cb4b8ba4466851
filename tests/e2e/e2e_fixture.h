// The fixture of the end-to-end tests: a fresh store (an SQLite file, or a
// new database on the MariaDB server that SVCD_TEST_MYSQL_URL names), a
// temporary data dir, and the real svcd binary serving on 127.0.0.1.
//
// Each test suite derived from E2eTest is instantiated for both stores.
// MariaDB instances are skipped when SVCD_TEST_MYSQL_URL and
// SVCD_TEST_MYSQL_PASSWORD are unset, and fail then when
// SVCD_REQUIRE_MYSQL=1.

#ifndef SVCD_TESTS_E2E_E2E_FIXTURE_H_
#define SVCD_TESTS_E2E_E2E_FIXTURE_H_

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sql/migrations.h"
#include "tests/e2e/process.h"
#include "tests/e2e/svcd_server.h"
#include "tests/sql/scratch_database.h"

namespace svcd::e2e {

inline constexpr char kApiPrefix[] = "/apis/svcd.io/v1alpha1";

// One row of op_audit_log.
struct AuditRow {
  std::string operation;  // operation_type: CREATE, UPDATE, DELETE, ...
  std::string user;       // operator_user_id
};

class E2eTest : public ::testing::TestWithParam<sql::Dialect> {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Lets a suite change svcd's flags before it starts.
  virtual void ConfigureServer(SvcdOptions& options) {}

  // Returns the options svcd was started with (store, data dir, flags).
  const SvcdOptions& options() const { return options_; }
  SvcdServer& server() { return server_; }
  const std::filesystem::path& temp_dir() const { return temp_dir_; }

  // Writes `contents` to `name` in the test's temporary directory.
  std::string WriteTempFile(const std::string& name, const std::string& contents) const;

  // Sends a request to svcd; `path` starts with '/'. Uses token_ unless
  // `request.token` is set.
  HttpReply Http(const std::string& method, const std::string& path, std::string_view body = {},
                 RequestOptions request = {}) const;

  // POSTs `yaml` to the apply endpoint; `query` is appended after '?'.
  HttpReply Apply(const std::string& yaml, const std::string& query = "") const;

  // Returns the stored object at `path` (under kApiPrefix), or a discarded
  // value when the GET does not return 200.
  nlohmann::json Stored(const std::string& path) const;

  // Runs svcctl against this svcd with `args` after the global --server flag.
  // SVCD_TOKEN is token_ unless `token` is given.
  CommandResult Svcctl(const std::vector<std::string>& args, std::string_view input = {},
                       const std::string* token = nullptr) const;

  // Returns the op_audit_log rows of the objects named `name`, oldest first,
  // read from the store with a separate connection.
  std::vector<AuditRow> AuditRows(const std::string& name) const;

  std::string token_;  // sent with every request when set

 private:
  std::unique_ptr<svcd::testing::ScratchDatabase> scratch_;
  std::filesystem::path temp_dir_;
  SvcdOptions options_;
  SvcdServer server_;
};

// Manifests for the tests; every call returns one YAML document. Host
// addresses are in 192.0.2.0/24 (TEST-NET-1, RFC 5737), which is never
// routed, so nothing a test creates can reach a real machine.
std::string HostYaml(const std::string& name, const std::string& labels = "{}",
                     const std::string& address = "192.0.2.11");
std::string TemplateYaml(const std::string& name);
// A deploy of template `tmpl` with its master on `host`. `extra_spec` is
// appended to the spec, indented by two spaces per line.
std::string DeployYaml(const std::string& name, const std::string& ns, const std::string& tmpl,
                       const std::string& host, const std::string& extra_spec = "",
                       const std::string& labels = "{}");

// Returns the "field" of every cause in a Status body.
std::vector<std::string> CauseFields(const nlohmann::json& status);

// Returns the names in a list body's items, in order.
std::vector<std::string> ItemNames(const nlohmann::json& list);

// Percent-encodes `text` for a URL query value.
std::string UrlEncode(std::string_view text);

// Joins `documents` into one multi-document YAML stream.
std::string YamlStream(const std::vector<std::string>& documents);

// The store names that test names carry: Sqlite and Mariadb.
std::string StoreName(const ::testing::TestParamInfo<sql::Dialect>& info);

}  // namespace svcd::e2e

// Instantiates `suite` once per store.
#define SVCD_E2E_INSTANTIATE(suite)                                                   \
  INSTANTIATE_TEST_SUITE_P(                                                           \
      Stores, suite,                                                                  \
      ::testing::Values(::svcd::sql::Dialect::kSqlite, ::svcd::sql::Dialect::kMysql), \
      ::svcd::e2e::StoreName)

#endif  // SVCD_TESTS_E2E_E2E_FIXTURE_H_
