#include "store/sql_store.h"

#include <soci/soci.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "api/codec.h"
#include "api/defaults.h"
#include "store/migrate.h"
#include "store/sql_util.h"

namespace svcd::store {
namespace {

// Copies the spec of `source` into `target`; both are of the same kind.
void CopySpec(api::Object& target, const api::Object& source) {
  std::visit(
      [&source](auto& typed) {
        using T = std::decay_t<decltype(typed)>;
        typed.spec = std::get<T>(source).spec;
      },
      target);
}

// Resets the status of `object` to its empty value.
void ClearStatus(api::Object& object) {
  if (auto* host = std::get_if<api::Host>(&object)) host->status = {};
  if (auto* deploy = std::get_if<api::ServiceDeploy>(&object)) deploy->status = {};
}

// Copies the status of `source` into `target`; both are of the same kind.
void CopyStatus(api::Object& target, const api::Object& source) {
  if (auto* host = std::get_if<api::Host>(&target))
    host->status = std::get<api::Host>(source).status;
  if (auto* deploy = std::get_if<api::ServiceDeploy>(&target)) {
    deploy->status = std::get<api::ServiceDeploy>(source).status;
  }
}

Cause FieldCause(std::string field, std::string message) {
  Cause cause;
  cause.field = std::move(field);
  cause.message = std::move(message);
  return cause;
}

// Checks and completes the name and namespace of an object to be written.
Status NormalizeKey(const KindTable& table, api::ObjectMeta& meta) {
  if (meta.name.empty()) {
    return Status::InvalidArgument(
        "metadata.name is missing",
        {FieldCause("metadata.name", "required: set the object's name")});
  }
  if (table.namespaced && meta.namespace_.empty()) meta.namespace_ = api::kDefaultNamespace;
  if (!table.namespaced && !meta.namespace_.empty()) {
    return Status::InvalidArgument(
        std::string(table.kind) + " is cluster-scoped",
        {FieldCause("metadata.namespace",
                    "this kind is cluster-scoped; remove metadata.namespace")});
  }
  return Status::Ok();
}

long long ParseVersion(const std::string& text) {
  try {
    return std::stoll(text);
  } catch (const std::exception&) {
    return -1;  // never equal to a stored version
  }
}

std::string JsonList(const std::vector<std::string>& items) { return nlohmann::json(items).dump(); }

// Adds the message prefix naming the object a batch write failed on.
Status Prefixed(const ObjectKey& key, const Status& status) {
  return Status(status.code(), key.ToString() + ": " + status.message(), status.causes());
}

// Returns the ObjectKey for a deploy.
ObjectKey DeployKey(const std::string& namespace_, const std::string& name) {
  return {api::kKindServiceDeploy, namespace_, name};
}

BatchOptions UserOnly(const std::string& user) {
  BatchOptions options;
  options.user = user;
  return options;
}

}  // namespace

std::string ObjectKey::ToString() const {
  return namespace_.empty() ? kind + " " + name : kind + " " + namespace_ + "/" + name;
}

ObjectKey KeyOf(const api::Object& object) {
  const api::ObjectMeta& meta = api::MetaOf(object);
  return {api::KindOf(object), meta.namespace_, meta.name};
}

std::map<std::string, std::string> AppliedAnnotations(const api::ObjectMeta& live,
                                                      const api::ObjectMeta& incoming) {
  std::map<std::string, std::string> annotations = incoming.annotations;
  auto marker = live.annotations.find(kRestartGenerationAnnotation);
  if (marker != live.annotations.end()) annotations.insert(*marker);
  return annotations;
}

const char* OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kCreated:
      return "created";
    case Outcome::kConfigured:
      return "configured";
    case Outcome::kUnchanged:
      return "unchanged";
    case Outcome::kDeleting:
      return "deleting";
    case Outcome::kDeleted:
      return "deleted";
  }
  return "unknown";
}

StatusOr<WriteResult> Store::Create(const api::Object& object, const std::string& user) {
  StatusOr<std::vector<WriteResult>> results =
      WriteBatch({{Write::Op::kCreate, object}}, UserOnly(user));
  if (!results.ok()) return results.status();
  return std::move(results->front());
}

StatusOr<WriteResult> Store::Update(const api::Object& object, const std::string& user) {
  StatusOr<std::vector<WriteResult>> results =
      WriteBatch({{Write::Op::kUpdate, object}}, UserOnly(user));
  if (!results.ok()) return results.status();
  return std::move(results->front());
}

StatusOr<WriteResult> Store::Delete(const ObjectKey& key, const std::string& user) {
  // Only kind, namespace and name of a delete's object are used.
  api::Object object;
  if (key.kind == api::kKindHost) object = api::Host{};
  if (key.kind == api::kKindServiceTemplate) object = api::ServiceTemplate{};
  if (key.kind == api::kKindServiceDeploy) object = api::ServiceDeploy{};
  if (KeyOf(object).kind != key.kind) return TableOf(key.kind).status();
  api::MetaOf(object).namespace_ = key.namespace_;
  api::MetaOf(object).name = key.name;
  StatusOr<std::vector<WriteResult>> results =
      WriteBatch({{Write::Op::kDelete, object}}, UserOnly(user));
  if (!results.ok()) return results.status();
  return std::move(results->front());
}

SqlStore::SqlStore(std::unique_ptr<Database> database, StoreOptions options)
    : database_(std::move(database)), options_(std::move(options)) {
  if (!options_.now_ms) options_.now_ms = SystemNowMs;
  runtime_ = std::make_unique<SqlRuntimeStore>(*database_, options_.now_ms);
}

const char* SqlStore::LockingRead() const { return store::LockingRead(database_->dialect()); }

int64_t SqlStore::NowMs() const { return options_.now_ms(); }

StatusOr<std::optional<SqlStore::StoredRow>> SqlStore::LoadLive(soci::session& session,
                                                                const KindTable& table,
                                                                const ObjectKey& key, bool lock) {
  std::string sql = std::string("SELECT object_doc, status_doc, resource_version FROM ") +
                    table.table + " WHERE name = :name";
  if (table.namespaced) sql += " AND namespace = :namespace AND data_status = 'ACTIVE'";
  if (lock) sql += LockingRead();

  std::string object_doc, status_doc;
  long long version = 0;
  std::string name = key.name;
  std::string namespace_ = key.namespace_.empty() ? api::kDefaultNamespace : key.namespace_;
  soci::statement statement =
      table.namespaced ? (session.prepare << sql, soci::into(object_doc), soci::into(status_doc),
                          soci::into(version), soci::use(name), soci::use(namespace_))
                       : (session.prepare << sql, soci::into(object_doc), soci::into(status_doc),
                          soci::into(version), soci::use(name));
  statement.execute();
  if (!statement.fetch()) return std::optional<StoredRow>();

  StatusOr<api::Object> object = DecodeDocuments(object_doc, status_doc);
  if (!object.ok()) return object.status();
  return std::optional<StoredRow>(StoredRow{&table, std::move(*object), version});
}

StatusOr<std::vector<api::Object>> SqlStore::LoadAllLive(soci::session& session,
                                                         const KindTable& table,
                                                         const std::string& namespace_) {
  std::string sql =
      std::string("SELECT object_doc, status_doc FROM ") + table.table + " WHERE 1 = 1";
  if (table.namespaced) sql += " AND data_status = 'ACTIVE'";
  bool by_namespace = table.namespaced && !namespace_.empty();
  if (by_namespace) sql += " AND namespace = :namespace";
  sql += table.namespaced ? " ORDER BY namespace, name" : " ORDER BY name";

  std::string object_doc, status_doc;
  std::string bound_namespace = namespace_;
  soci::statement statement =
      by_namespace ? (session.prepare << sql, soci::into(object_doc), soci::into(status_doc),
                      soci::use(bound_namespace))
                   : (session.prepare << sql, soci::into(object_doc), soci::into(status_doc));
  statement.execute();
  std::vector<api::Object> objects;
  while (statement.fetch()) {
    StatusOr<api::Object> object = DecodeDocuments(object_doc, status_doc);
    if (!object.ok()) return object.status();
    objects.push_back(std::move(*object));
  }
  return objects;
}

StatusOr<api::Object> SqlStore::Get(const ObjectKey& key) {
  StatusOr<const KindTable*> table = TableOf(key.kind);
  if (!table.ok()) return table.status();
  std::optional<StoredRow> row;
  Status status = database_->Run("reading " + key.ToString(), [&](soci::session& session) {
    StatusOr<std::optional<StoredRow>> loaded = LoadLive(session, **table, key, false);
    if (!loaded.ok()) return loaded.status();
    row = std::move(*loaded);
    return Status::Ok();
  });
  if (!status.ok()) return status;
  if (!row.has_value()) return Status::NotFound(key.ToString() + " not found");
  return std::move(row->object);
}

StatusOr<std::vector<api::Object>> SqlStore::List(const ListOptions& options) {
  StatusOr<const KindTable*> table = TableOf(options.kind);
  if (!table.ok()) return table.status();
  std::vector<api::Object> objects;
  Status status = database_->Run("listing " + options.kind, [&](soci::session& session) {
    StatusOr<std::vector<api::Object>> loaded = LoadAllLive(session, **table, options.namespace_);
    if (!loaded.ok()) return loaded.status();
    objects = std::move(*loaded);
    return Status::Ok();
  });
  if (!status.ok()) return status;
  // NOTE: label selectors are applied here, after reading every object of
  // the kind; fine for hundreds of objects, not for millions.
  std::erase_if(objects, [&](const api::Object& object) {
    return !options.selector.Matches(api::MetaOf(object).labels);
  });
  return objects;
}

StatusOr<std::vector<WriteResult>> SqlStore::WriteBatch(const std::vector<Write>& writes,
                                                        const BatchOptions& options) {
  std::vector<WriteResult> results;
  Status status = database_->RunInTransaction("writing objects", [&](soci::session& session) {
    results.clear();  // a retried transaction starts over
    for (const Write& write : writes) {
      ObjectKey key = KeyOf(write.object);
      StatusOr<WriteResult> result = Status::Internal("not run");
      try {
        result = ApplyWrite(session, write, options);
      } catch (const std::exception& error) {
        Status converted = database_->ErrorToStatus("writing " + key.ToString(), error);
        if (converted.code() == Code::kUnavailable) throw;  // let Database reconnect
        return converted;
      }
      if (!result.ok()) return Prefixed(key, result.status());
      results.push_back(std::move(*result));
    }
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return results;
}

StatusOr<WriteResult> SqlStore::ApplyWrite(soci::session& session, const Write& write,
                                           const BatchOptions& options) {
  StatusOr<const KindTable*> table = TableOf(api::KindOf(write.object));
  if (!table.ok()) return table.status();
  api::Object object = write.object;
  Status status = NormalizeKey(**table, api::MetaOf(object));
  if (!status.ok()) return status;

  ObjectKey key = KeyOf(object);
  StatusOr<std::optional<StoredRow>> current = LoadLive(session, **table, key, true);
  if (!current.ok()) return current.status();

  StatusOr<WriteResult> result = Status::Internal("unknown write operation");
  bool exists = current->has_value();
  if (write.op == Write::Op::kDelete) {
    if (!exists) return Status::NotFound("not found");
    result = DeleteRow(session, **current, options.user);
    if (result.ok() && !options.apply_set.empty()) {
      status = DropApplySetMember(session, options.apply_set, key);
      if (!status.ok()) return status;
    }
    return result;
  }
  if (write.op == Write::Op::kCreate && exists) return Status::AlreadyExists("already exists");
  if (write.op == Write::Op::kUpdate && !exists) return Status::NotFound("not found");
  result = exists ? UpdateRow(session, **current, object, options.user)
                  : CreateRow(session, **table, std::move(object), options.user);
  if (result.ok() && !options.apply_set.empty()) {
    status = RecordApplySetMember(session, options.apply_set, result->object);
    if (!status.ok()) return status;
  }
  return result;
}

StatusOr<SqlValue> SqlStore::TemplateIdOf(soci::session& session, const api::Object& object) {
  const auto* deploy = std::get_if<api::ServiceDeploy>(&object);
  if (deploy == nullptr) return SqlValue();
  std::string id;
  soci::indicator indicator = soci::i_null;
  std::string name = deploy->spec.template_ref;
  session << "SELECT template_id FROM svc_template WHERE name = :name", soci::into(id, indicator),
      soci::use(name);
  if (!session.got_data() || indicator != soci::i_ok) return SqlValue();
  return SqlValue(id);
}

StatusOr<WriteResult> SqlStore::CreateRow(soci::session& session, const KindTable& table,
                                          api::Object object, const std::string& user) {
  int64_t now = NowMs();
  api::ObjectMeta& meta = api::MetaOf(object);
  meta.uid = NewUuid();
  meta.generation = 1;
  meta.resource_version = "1";
  meta.creation_timestamp = FormatRfc3339(now);
  meta.deletion_timestamp.clear();
  ClearStatus(object);
  Documents documents = EncodeDocuments(object, /*include_status=*/false);

  std::vector<Column> columns = {{table.id_column, meta.uid},
                                 {"name", meta.name},
                                 {"object_doc", documents.object},
                                 {"status_doc", documents.status},
                                 {"generation", 1LL},
                                 {"resource_version", 1LL},
                                 {"create_time", now},
                                 {"update_time", now},
                                 {"create_owner", user},
                                 {"update_owner", user}};
  if (table.namespaced) {
    columns.push_back({"namespace", meta.namespace_});
    columns.push_back({"finalizers", JsonList(meta.finalizers)});
    StatusOr<SqlValue> template_id = TemplateIdOf(session, object);
    if (!template_id.ok()) return template_id.status();
    columns.push_back({"template_id", *template_id});
  }
  for (Column& column : ProjectionColumns(object)) columns.push_back(std::move(column));

  std::string names, placeholders;
  std::vector<SqlValue> values;
  for (size_t i = 0; i < columns.size(); ++i) {
    names += (i == 0 ? "" : ", ") + columns[i].name;
    placeholders += (i == 0 ? ":v" : ", :v") + std::to_string(i);
    values.push_back(columns[i].value);
  }
  Execute(
      session,
      std::string("INSERT INTO ") + table.table + " (" + names + ") VALUES (" + placeholders + ")",
      values);
  Status status = InsertAudit(session, table, "INSERT", user, nullptr, &object, "");
  if (!status.ok()) return status;
  return WriteResult{Outcome::kCreated, std::move(object)};
}

StatusOr<WriteResult> SqlStore::UpdateRow(soci::session& session, const StoredRow& current,
                                          const api::Object& incoming, const std::string& user) {
  const api::ObjectMeta& old_meta = api::MetaOf(current.object);
  const api::ObjectMeta& new_meta = api::MetaOf(incoming);
  if (!new_meta.resource_version.empty() &&
      ParseVersion(new_meta.resource_version) != current.resource_version) {
    return Status::Aborted("the object has been modified: resourceVersion " +
                           new_meta.resource_version + " is stale, the stored one is " +
                           std::to_string(current.resource_version) +
                           "; read the object again and reapply your change");
  }

  std::map<std::string, std::string> annotations = AppliedAnnotations(old_meta, new_meta);
  bool spec_changed = !api::SpecEquivalent(current.object, incoming);
  bool meta_changed = old_meta.labels != new_meta.labels || old_meta.annotations != annotations;
  if (!spec_changed && !meta_changed) return WriteResult{Outcome::kUnchanged, current.object};

  api::Object updated = current.object;
  api::ObjectMeta& meta = api::MetaOf(updated);
  meta.labels = new_meta.labels;
  meta.annotations = std::move(annotations);
  if (spec_changed) {
    CopySpec(updated, incoming);
    meta.generation += 1;
  }
  long long version = current.resource_version + 1;
  meta.resource_version = std::to_string(version);

  Status status = RewriteRow(session, current, updated, version, user, /*mark_deleted=*/false);
  if (!status.ok()) return status;
  status = InsertAudit(session, *current.table, "UPDATE", user, &current.object, &updated, "");
  if (!status.ok()) return status;
  return WriteResult{Outcome::kConfigured, std::move(updated)};
}

Status SqlStore::RewriteRow(soci::session& session, const StoredRow& current,
                            const api::Object& updated, long long new_version,
                            const std::string& user, bool mark_deleted) {
  const KindTable& table = *current.table;
  const api::ObjectMeta& meta = api::MetaOf(updated);
  int64_t now = NowMs();
  std::vector<Column> columns = {{"object_doc", EncodeDocuments(updated, false).object},
                                 {"generation", static_cast<long long>(meta.generation)},
                                 {"resource_version", new_version},
                                 {"update_time", now},
                                 {"update_owner", user}};
  if (table.namespaced) {
    columns.push_back({"finalizers", JsonList(meta.finalizers)});
    StatusOr<SqlValue> template_id = TemplateIdOf(session, updated);
    if (!template_id.ok()) return template_id.status();
    columns.push_back({"template_id", *template_id});
    if (mark_deleted) {
      columns.push_back({"data_status", std::string("DELETED")});
      columns.push_back({"deleted_time", now});
    }
  }
  for (Column& column : ProjectionColumns(updated)) columns.push_back(std::move(column));

  std::string assignments;
  std::vector<SqlValue> values;
  for (size_t i = 0; i < columns.size(); ++i) {
    assignments += (i == 0 ? "" : ", ") + columns[i].name + " = :v" + std::to_string(i);
    values.push_back(columns[i].value);
  }
  if (table.namespaced && !meta.deletion_timestamp.empty()) {
    // deletion_time keeps the time of the first deletion request.
    assignments += ", deletion_time = COALESCE(deletion_time, :deletion)";
    values.push_back(static_cast<long long>(now));
  }
  std::string sql = std::string("UPDATE ") + table.table + " SET " + assignments + " WHERE " +
                    table.id_column + " = :id AND resource_version = :version";
  values.push_back(meta.uid);
  values.push_back(current.resource_version);
  long long affected = 0;
  Execute(session, sql, values, &affected);
  if (affected != 1) {
    return Status::Aborted("the object was modified concurrently; read it again and retry");
  }
  return Status::Ok();
}

StatusOr<WriteResult> SqlStore::DeleteRow(soci::session& session, const StoredRow& current,
                                          const std::string& user) {
  const KindTable& table = *current.table;
  const api::ObjectMeta& meta = api::MetaOf(current.object);
  if (!table.keeps_history) {
    std::string sql =
        std::string("DELETE FROM ") + table.table + " WHERE " + table.id_column + " = :id";
    Execute(session, sql, {meta.uid});
    Status status = InsertAudit(session, table, "DELETE", user, &current.object, nullptr, "");
    if (!status.ok()) return status;
    return WriteResult{Outcome::kDeleted, current.object};
  }

  bool waiting = !meta.finalizers.empty();
  if (waiting && !meta.deletion_timestamp.empty()) {
    return WriteResult{Outcome::kDeleting, current.object};  // already requested
  }
  api::Object updated = current.object;
  api::ObjectMeta& new_meta = api::MetaOf(updated);
  if (new_meta.deletion_timestamp.empty()) new_meta.deletion_timestamp = FormatRfc3339(NowMs());
  long long version = current.resource_version + 1;
  new_meta.resource_version = std::to_string(version);

  Status status = RewriteRow(session, current, updated, version, user, !waiting);
  if (!status.ok()) return status;
  status = InsertAudit(session, table, "DELETE", user, &current.object, &updated,
                       waiting ? "deletion requested; waiting for finalizers" : "");
  if (!status.ok()) return status;
  return WriteResult{waiting ? Outcome::kDeleting : Outcome::kDeleted, std::move(updated)};
}

Status SqlStore::InsertAudit(soci::session& session, const KindTable& table, const char* operation,
                             const std::string& user, const api::Object* before,
                             const api::Object* after, const std::string& remark) {
  const api::Object& subject = after != nullptr ? *after : *before;
  const api::ObjectMeta& meta = api::MetaOf(subject);
  SqlValue changed, old_data, new_data, remark_value;
  if (before != nullptr && after != nullptr) changed = JsonList(ChangedFields(*before, *after));
  if (before != nullptr) old_data = api::EncodeJson(*before).dump();
  if (after != nullptr) new_data = api::EncodeJson(*after).dump();
  if (!remark.empty()) remark_value = remark;
  InsertAuditRow(session, {table.audit_entity, meta.uid, meta.namespace_, meta.name, operation,
                           user, changed, old_data, new_data, remark_value, NowMs()});
  return Status::Ok();
}

StatusOr<api::Object> SqlStore::UpdateStatus(const api::Object& object) {
  ObjectKey key = KeyOf(object);
  StatusOr<const KindTable*> table = TableOf(key.kind);
  if (!table.ok()) return table.status();
  if (!(*table)->has_status) {
    return Status::InvalidArgument(key.kind + " has no status to update");
  }
  api::Object stored;
  Status status = database_->RunInTransaction(
      "writing status of " + key.ToString(), [&](soci::session& session) {
        StatusOr<std::optional<StoredRow>> current = LoadLive(session, **table, key, true);
        if (!current.ok()) return current.status();
        if (!current->has_value()) return Status::NotFound(key.ToString() + " not found");
        stored = (*current)->object;
        CopyStatus(stored, object);
        std::vector<Column> columns = {{"status_doc", EncodeDocuments(stored, true).status},
                                       {"update_time", static_cast<long long>(NowMs())}};
        if (key.kind == api::kKindServiceDeploy) {
          for (Column& column : ProjectionColumns(stored)) {
            if (column.name == "phase") columns.push_back(std::move(column));
          }
        }
        std::string assignments;
        std::vector<SqlValue> values;
        for (size_t i = 0; i < columns.size(); ++i) {
          assignments += (i == 0 ? "" : ", ") + columns[i].name + " = :v" + std::to_string(i);
          values.push_back(columns[i].value);
        }
        values.push_back(api::MetaOf(stored).uid);
        Execute(session,
                std::string("UPDATE ") + (*table)->table + " SET " + assignments + " WHERE " +
                    (*table)->id_column + " = :id",
                values);
        return Status::Ok();
      });
  if (!status.ok()) return status;
  return stored;
}

StatusOr<WriteResult> SqlStore::RemoveFinalizer(const ObjectKey& key, const std::string& finalizer,
                                                const std::string& user) {
  StatusOr<const KindTable*> table = TableOf(key.kind);
  if (!table.ok()) return table.status();
  WriteResult result;
  Status status = database_->RunInTransaction(
      "removing finalizer of " + key.ToString(), [&](soci::session& session) {
        StatusOr<std::optional<StoredRow>> current = LoadLive(session, **table, key, true);
        if (!current.ok()) return current.status();
        if (!current->has_value()) return Status::NotFound(key.ToString() + " not found");
        const StoredRow& row = **current;
        api::Object updated = row.object;
        std::vector<std::string>& finalizers = api::MetaOf(updated).finalizers;
        auto removed = std::remove(finalizers.begin(), finalizers.end(), finalizer);
        if (removed == finalizers.end()) {
          result = {Outcome::kUnchanged, row.object};
          return Status::Ok();
        }
        finalizers.erase(removed, finalizers.end());
        bool finished = finalizers.empty() && !api::MetaOf(updated).deletion_timestamp.empty() &&
                        (*table)->keeps_history;
        long long version = row.resource_version + 1;
        api::MetaOf(updated).resource_version = std::to_string(version);
        Status written = RewriteRow(session, row, updated, version, user, finished);
        if (!written.ok()) return written;
        written = InsertAudit(session, **table, finished ? "DELETE" : "UPDATE", user, &row.object,
                              &updated, "removed finalizer " + finalizer);
        if (!written.ok()) return written;
        result = {finished ? Outcome::kDeleted : Outcome::kConfigured, std::move(updated)};
        return Status::Ok();
      });
  if (!status.ok()) return status;
  return result;
}

StatusOr<WriteResult> SqlStore::NewGeneration(const ObjectKey& key, const std::string& user,
                                              const std::string& reason) {
  StatusOr<const KindTable*> table = TableOf(key.kind);
  if (!table.ok()) return table.status();
  WriteResult result;
  Status status = database_->RunInTransaction(
      "starting a new generation of " + key.ToString(), [&](soci::session& session) {
        StatusOr<std::optional<StoredRow>> current = LoadLive(session, **table, key, true);
        if (!current.ok()) return current.status();
        if (!current->has_value()) return Status::NotFound(key.ToString() + " not found");
        const StoredRow& row = **current;
        if (!api::MetaOf(row.object).deletion_timestamp.empty()) {
          return Status::FailedPrecondition(key.ToString() +
                                            " is being deleted; it cannot be restarted");
        }
        api::Object updated = row.object;
        api::ObjectMeta& meta = api::MetaOf(updated);
        meta.generation += 1;
        meta.annotations[kRestartGenerationAnnotation] = std::to_string(meta.generation);
        const long long version = row.resource_version + 1;
        meta.resource_version = std::to_string(version);
        Status written = RewriteRow(session, row, updated, version, user, false);
        if (!written.ok()) return written;
        written = InsertAudit(session, **table, "UPDATE", user, &row.object, &updated, reason);
        if (!written.ok()) return written;
        result = {Outcome::kConfigured, std::move(updated)};
        return Status::Ok();
      });
  if (!status.ok()) return status;
  return result;
}

StatusOr<std::vector<ObjectKey>> SqlStore::DeploysUsingHost(const std::string& name) {
  ListOptions options;
  options.kind = api::kKindServiceDeploy;
  StatusOr<std::vector<api::Object>> deploys = List(options);
  if (!deploys.ok()) return deploys.status();
  // NOTE: host references live inside the spec documents, so this reads
  // every live deploy; a host_name projection would need its own table.
  std::vector<ObjectKey> keys;
  for (const api::Object& object : *deploys) {
    const auto& deploy = std::get<api::ServiceDeploy>(object);
    bool uses = deploy.spec.master.host == name ||
                std::any_of(deploy.spec.workers.begin(), deploy.spec.workers.end(),
                            [&](const api::NodeSpec& worker) { return worker.host == name; });
    if (uses) keys.push_back(KeyOf(object));
  }
  return keys;
}

StatusOr<std::vector<ObjectKey>> SqlStore::DeploysUsingTemplate(const std::string& name) {
  std::vector<ObjectKey> keys;
  Status status =
      database_->Run("finding deploys of template " + name, [&](soci::session& session) {
        std::string namespace_, deploy_name;
        std::string bound = name;
        soci::statement statement =
            (session.prepare << "SELECT namespace, name FROM svc_deploy WHERE template_name = :t "
                                "AND data_status = 'ACTIVE' ORDER BY namespace, name",
             soci::into(namespace_), soci::into(deploy_name), soci::use(bound));
        statement.execute();
        while (statement.fetch()) keys.push_back(DeployKey(namespace_, deploy_name));
        return Status::Ok();
      });
  if (!status.ok()) return status;
  return keys;
}

Status SqlStore::Ping() { return database_->Ping(); }

RuntimeStore& SqlStore::runtime() { return *runtime_; }

StatusOr<std::unique_ptr<Store>> OpenStore(const std::string& url, const std::string& password,
                                           StoreOptions options) {
  StatusOr<StoreUrl> parsed = ParseStoreUrl(url);
  if (!parsed.ok()) return parsed.status();
  StatusOr<std::unique_ptr<Database>> database =
      Database::Open(*parsed, password, options.database);
  if (!database.ok()) return database.status();
  StatusOr<MigrationReport> report = Migrate(**database);
  if (!report.ok()) return report.status();
  return std::unique_ptr<Store>(new SqlStore(std::move(*database), std::move(options)));
}

}  // namespace svcd::store
