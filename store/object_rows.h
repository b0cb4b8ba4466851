// Mapping between api::Object and the rows of env_host, svc_template and
// svc_deploy: which table stores a kind, the JSON documents and the
// projection columns. Internal to the SOCI store.

#ifndef SVCD_STORE_OBJECT_ROWS_H_
#define SVCD_STORE_OBJECT_ROWS_H_

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "api/status.h"
#include "api/types.h"

namespace svcd::store {

// A value bound to a statement: NULL, text or a 64-bit integer.
using SqlValue = std::variant<std::monostate, std::string, long long>;

struct Column {
  std::string name;
  SqlValue value;
};

// The storage of one kind: its table, key column and row rules.
struct KindTable {
  const char* kind;
  const char* table;
  const char* id_column;
  const char* audit_entity;  // op_audit_log.entity_type
  bool namespaced;           // ServiceDeploy: rows have a namespace
  bool keeps_history;        // ServiceDeploy: deleted rows stay, marked DELETED
  bool has_status;           // ServiceTemplate has none
};

// Returns the table of `kind`, or InvalidArgument naming the known kinds.
StatusOr<const KindTable*> TableOf(const std::string& kind);

// The object's JSON documents as stored: metadata and spec (with apiVersion
// and kind) in `object`, the status in `status`.
struct Documents {
  std::string object;
  std::string status;
};

// Splits `object` into its stored documents. `include_status` false stores
// an empty status, as a create does.
Documents EncodeDocuments(const api::Object& object, bool include_status);

// Rebuilds an object from its stored documents. Internal when they cannot
// be decoded, which means the row was written by something else.
StatusOr<api::Object> DecodeDocuments(const std::string& object_doc, const std::string& status_doc);

// Returns the columns derived from the object for queries (such as ip_addr,
// template_name, phase); the documents stay the source of truth.
std::vector<Column> ProjectionColumns(const api::Object& object);

// Returns the dotted paths of the top-level metadata and spec fields that
// differ between `before` and `after`, such as "metadata.labels" or
// "spec.master".
std::vector<std::string> ChangedFields(const api::Object& before, const api::Object& after);

// Formats milliseconds since the Unix epoch as RFC 3339 UTC with seconds,
// such as "2024-05-01T12:00:00Z".
std::string FormatRfc3339(int64_t epoch_ms);

}  // namespace svcd::store

#endif  // SVCD_STORE_OBJECT_ROWS_H_
