// SqlRuntimeStore: log archives (log_archive, log_archive_target), artifacts
// (svc_artifact) and log retention.

#include <soci/soci.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "store/sql_runtime_store.h"
#include "store/sql_util.h"

namespace svcd::store {
namespace {

// log_archive.remarks is VARCHAR(500); svc_artifact.uri and
// log_archive.storage_url are VARCHAR(1024); checksum is VARCHAR(80).
constexpr size_t kMaxReasonBytes = 500;
constexpr size_t kMaxUrlBytes = 1024;
constexpr size_t kMaxChecksumBytes = 80;

Status FieldError(const std::string& field, const std::string& message) {
  Cause cause;
  cause.field = field;
  cause.message = message;
  return Status::InvalidArgument(field + ": " + message, {cause});
}

bool IsUuid(const std::string& text) {
  static const std::regex kUuid("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$");
  return std::regex_match(text, kUuid);
}

bool IsLowerHex(const std::string& text, size_t length) {
  return text.size() == length && text.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// The byte length of log_event.content: SQLite's length() counts the
// characters of TEXT, MySQL's LENGTH() counts bytes.
std::string ContentBytes(sql::Dialect dialect, const std::string& column) {
  return dialect == sql::Dialect::kSqlite ? "length(CAST(" + column + " AS BLOB))"
                                          : "LENGTH(" + column + ")";
}

// MySQL's SUM() returns DECIMAL, which SOCI does not read into an integer.
std::string IntegerSum(sql::Dialect dialect, const std::string& expression) {
  return std::string("CAST(COALESCE(SUM(") + expression + "), 0) AS " +
         (dialect == sql::Dialect::kSqlite ? "INTEGER)" : "SIGNED)");
}

Status ValidateArchive(const ArchiveRecord& archive) {
  if (!IsUuid(archive.archive_id)) {
    return FieldError("archive.archive_id", "\"" + archive.archive_id +
                                                "\" is not a lowercase UUID such as "
                                                "123e4567-e89b-42d3-a456-426614174000");
  }
  if (archive.storage_url.rfind("file:///", 0) != 0 || archive.storage_url.size() > kMaxUrlBytes) {
    return FieldError("archive.storage_url",
                      "must be a file:///ABSOLUTE/PATH URL of at most 1024 bytes");
  }
  if (archive.bytes < 0) return FieldError("archive.bytes", "must not be negative");
  if (!IsLowerHex(archive.md5, 32)) {
    return FieldError("archive.md5", "must be 32 lowercase hex digits");
  }
  if (archive.reason.size() > kMaxReasonBytes) {
    return FieldError("archive.reason", "is longer than 500 bytes");
  }
  for (size_t i = 0; i < archive.targets.size(); ++i) {
    const ArchiveCoverage& coverage = archive.targets[i];
    const std::string path = "archive.targets[" + std::to_string(i) + "]";
    if (coverage.first_seq < 1 || coverage.last_seq < coverage.first_seq || coverage.lines < 1) {
      return FieldError(path, "covers no lines; give 1 <= first_seq <= last_seq and lines >= 1");
    }
  }
  return Status::Ok();
}

Status ValidateArtifacts(const std::vector<ArtifactRecord>& artifacts) {
  static const std::set<std::string> kKinds = {"SCRIPT", "ENV_FILE", "ARCHIVE", "OTHER"};
  for (size_t i = 0; i < artifacts.size(); ++i) {
    const ArtifactRecord& artifact = artifacts[i];
    const std::string path = "artifacts[" + std::to_string(i) + "]";
    if (kKinds.count(artifact.kind) == 0) {
      return FieldError(
          path + ".kind",
          "\"" + artifact.kind + "\" is unknown; use SCRIPT, ENV_FILE, ARCHIVE or OTHER");
    }
    if (artifact.checksum.empty() || artifact.checksum.size() > kMaxChecksumBytes) {
      return FieldError(path + ".checksum", "must be 1 to 80 characters, such as sha256:<hex>");
    }
    if (artifact.uri.empty() && artifact.content.empty()) {
      return FieldError(path, "has neither uri nor content; give one of them");
    }
    if (artifact.uri.size() > kMaxUrlBytes) {
      return FieldError(path + ".uri", "is longer than 1024 bytes");
    }
    if (artifact.size_bytes < 0) return FieldError(path + ".size_bytes", "must not be negative");
  }
  return Status::Ok();
}

// Reads archive rows matching `condition` (on log_archive a, one bound
// value), newest first, with their coverage rows. Throws SOCI exceptions.
std::vector<ArchiveRecord> QueryArchives(soci::session& session, const std::string& condition,
                                         const std::string& value) {
  std::vector<ArchiveRecord> archives;
  std::map<std::string, size_t> index;
  {
    ArchiveRecord record;
    long long bytes = 0, created = 0;
    std::string bound = value;
    soci::statement statement =
        (session.prepare
             << "SELECT a.archive_id, a.deploy_id, a.storage_url, COALESCE(a.bytes, 0), "
                "COALESCE(a.md5, ''), a.created_at, COALESCE(a.remarks, '') "
                "FROM log_archive a WHERE " +
                    condition + " ORDER BY a.created_at DESC, a.archive_id DESC",
         soci::into(record.archive_id), soci::into(record.deploy_uid),
         soci::into(record.storage_url), soci::into(bytes), soci::into(record.md5),
         soci::into(created), soci::into(record.reason), soci::use(bound));
    statement.execute();
    while (statement.fetch()) {
      record.bytes = bytes;
      record.created_ms = created;
      index[record.archive_id] = archives.size();
      archives.push_back(record);
    }
  }
  if (archives.empty()) return archives;

  std::string archive_id;
  ArchiveCoverage coverage;
  long long first = 0, last = 0, lines = 0;
  std::string bound = value;
  soci::statement statement =
      (session.prepare << "SELECT c.archive_id, t.target_name, c.first_seq, c.last_seq, "
                          "c.line_count FROM log_archive_target c "
                          "JOIN log_archive a ON a.archive_id = c.archive_id "
                          "JOIN svc_deploy_target t ON t.target_id = c.target_id WHERE " +
                              condition + " ORDER BY t.node_rank",
       soci::into(archive_id), soci::into(coverage.target), soci::into(first), soci::into(last),
       soci::into(lines), soci::use(bound));
  statement.execute();
  while (statement.fetch()) {
    auto it = index.find(archive_id);
    if (it == index.end()) continue;
    coverage.first_seq = first;
    coverage.last_seq = last;
    coverage.lines = lines;
    archives[it->second].targets.push_back(coverage);
  }
  return archives;
}

}  // namespace

StatusOr<DeployHistory> SqlRuntimeStore::ReadDeployHistory(const std::string& deploy_uid) {
  DeployHistory history;
  Status status = database_.Run(
      "reading the history of deploy " + deploy_uid, [&](soci::session& session) -> Status {
        history = DeployHistory();
        history.deploy_uid = deploy_uid;
        std::string bound = deploy_uid, data_status;
        session << "SELECT namespace, name, data_status FROM svc_deploy WHERE deploy_id = :d",
            soci::into(history.namespace_), soci::into(history.name), soci::into(data_status),
            soci::use(bound);
        if (!session.got_data()) return Status::NotFound("deploy " + deploy_uid + " not found");
        history.deleted = data_status == "DELETED";

        TargetHistory target;
        long long generation = 0;
        std::string live, latest;
        soci::indicator latest_indicator = soci::i_null;
        soci::statement statement =
            (session.prepare
                 << "SELECT t.target_id, t.target_name, t.role, t.node_rank, t.host_name, "
                    "t.generation, COALESCE(t.command_hash, ''), COALESCE(t.env_rendered, ''), "
                    "COALESCE(t.cmd_rendered, ''), t.data_status, (SELECT d.dispatch_id FROM "
                    "job_dispatch d WHERE d.target_id = t.target_id ORDER BY d.attempt DESC "
                    "LIMIT 1) FROM svc_deploy_target t WHERE t.deploy_id = :d ORDER BY t.node_rank",
             soci::into(target.target_id), soci::into(target.name), soci::into(target.role),
             soci::into(target.rank), soci::into(target.host), soci::into(generation),
             soci::into(target.command_hash), soci::into(target.env_rendered),
             soci::into(target.cmd_rendered), soci::into(live),
             soci::into(latest, latest_indicator), soci::use(bound));
        statement.execute();
        while (statement.fetch()) {
          target.generation = generation;
          target.live = live == "ACTIVE";
          target.latest_dispatch_id = latest_indicator == soci::i_ok ? latest : "";
          history.targets.push_back(target);
        }
        return Status::Ok();
      });
  if (!status.ok()) return status;
  return history;
}

StatusOr<std::vector<ArtifactRecord>> SqlRuntimeStore::ListArtifacts(
    const std::string& deploy_uid) {
  std::vector<ArtifactRecord> artifacts;
  Status status = database_.Run(
      "listing artifacts of deploy " + deploy_uid, [&](soci::session& session) -> Status {
        artifacts.clear();
        ArtifactRecord artifact;
        long long size = 0, created = 0;
        std::string bound = deploy_uid;
        soci::statement statement =
            (session.prepare << "SELECT a.artifact_id, COALESCE(t.target_name, ''), "
                                "COALESCE(a.dispatch_id, ''), a.kind, COALESCE(a.uri, ''), "
                                "COALESCE(a.content, ''), a.checksum, a.size_bytes, a.created_at "
                                "FROM svc_artifact a LEFT JOIN svc_deploy_target t "
                                "ON t.target_id = a.target_id WHERE a.deploy_id = :d "
                                "ORDER BY a.created_at, a.artifact_id",
             soci::into(artifact.artifact_id), soci::into(artifact.target),
             soci::into(artifact.dispatch_id), soci::into(artifact.kind), soci::into(artifact.uri),
             soci::into(artifact.content), soci::into(artifact.checksum), soci::into(size),
             soci::into(created), soci::use(bound));
        statement.execute();
        while (statement.fetch()) {
          artifact.size_bytes = size;
          artifact.created_ms = created;
          artifacts.push_back(artifact);
        }
        return Status::Ok();
      });
  if (!status.ok()) return status;
  return artifacts;
}

Status SqlRuntimeStore::RecordArchive(const ArchiveRecord& archive,
                                      const std::vector<ArtifactRecord>& artifacts,
                                      const std::string& user) {
  Status valid = ValidateArchive(archive);
  if (valid.ok()) valid = ValidateArtifacts(artifacts);
  if (!valid.ok()) return valid;

  return database_.RunInTransaction(
      "recording archive " + archive.archive_id + " of deploy " + archive.deploy_uid,
      [&](soci::session& session) -> Status {
        std::string bound = archive.deploy_uid, ns, name;
        session << "SELECT namespace, name FROM svc_deploy WHERE deploy_id = :d", soci::into(ns),
            soci::into(name), soci::use(bound);
        if (!session.got_data()) {
          return Status::NotFound("deploy " + archive.deploy_uid + " not found");
        }
        std::map<std::string, std::string> target_ids;  // name to id
        {
          std::string id, target_name;
          soci::statement statement =
              (session.prepare << "SELECT target_id, target_name FROM svc_deploy_target "
                                  "WHERE deploy_id = :d",
               soci::into(id), soci::into(target_name), soci::use(bound));
          statement.execute();
          while (statement.fetch()) target_ids[target_name] = id;
        }
        auto target_id = [&](const std::string& target_name) -> StatusOr<std::string> {
          auto it = target_ids.find(target_name);
          if (it == target_ids.end()) {
            return Status::NotFound("target " + target_name + " of deploy " + archive.deploy_uid +
                                    " not found");
          }
          return it->second;
        };

        const long long now = NowMs();
        Execute(session,
                "INSERT INTO log_archive (archive_id, deploy_id, storage_url, bytes, md5, "
                "created_at, remarks) VALUES (:i, :d, :u, :b, :m, :c, :r)",
                {archive.archive_id, archive.deploy_uid, archive.storage_url,
                 static_cast<long long>(archive.bytes), archive.md5, now,
                 archive.reason.empty() ? SqlValue() : SqlValue(archive.reason)});
        nlohmann::json covered = nlohmann::json::array();
        for (const ArchiveCoverage& coverage : archive.targets) {
          StatusOr<std::string> id = target_id(coverage.target);
          if (!id.ok()) return id.status();
          Execute(
              session,
              "INSERT INTO log_archive_target (archive_id, target_id, first_seq, last_seq, "
              "line_count) VALUES (:a, :t, :f, :l, :n)",
              {archive.archive_id, *id, static_cast<long long>(coverage.first_seq),
               static_cast<long long>(coverage.last_seq), static_cast<long long>(coverage.lines)});
          covered.push_back({{"target", coverage.target},
                             {"firstSeq", coverage.first_seq},
                             {"lastSeq", coverage.last_seq},
                             {"lines", coverage.lines}});
        }
        for (const ArtifactRecord& artifact : artifacts) {
          SqlValue artifact_target;
          if (!artifact.target.empty()) {
            StatusOr<std::string> id = target_id(artifact.target);
            if (!id.ok()) return id.status();
            artifact_target = *id;
          }
          if (!artifact.dispatch_id.empty()) {
            std::string owner, bound_dispatch = artifact.dispatch_id;
            session << "SELECT target_id FROM job_dispatch WHERE dispatch_id = :d",
                soci::into(owner), soci::use(bound_dispatch);
            if (!session.got_data() ||
                (!artifact.target.empty() && owner != target_ids[artifact.target])) {
              return Status::NotFound("dispatch " + artifact.dispatch_id + " of target " +
                                      artifact.target + " not found");
            }
          }
          Execute(session,
                  "INSERT INTO svc_artifact (artifact_id, deploy_id, target_id, dispatch_id, kind, "
                  "uri, content, checksum, size_bytes, created_at) "
                  "VALUES (:i, :d, :t, :p, :k, :u, :c, :s, :b, :w)",
                  {NewUuid(), archive.deploy_uid, artifact_target,
                   artifact.dispatch_id.empty() ? SqlValue() : SqlValue(artifact.dispatch_id),
                   artifact.kind, artifact.uri.empty() ? SqlValue() : SqlValue(artifact.uri),
                   artifact.content.empty() ? SqlValue() : SqlValue(artifact.content),
                   artifact.checksum, static_cast<long long>(artifact.size_bytes), now});
        }

        AuditRow audit;
        audit.entity_type = "ARCHIVE";
        audit.entity_id = archive.archive_id;
        audit.entity_namespace = ns;
        audit.entity_name = name;
        audit.operation = "ARCHIVE";
        audit.user = user;
        audit.new_data = nlohmann::json({{"deployUid", archive.deploy_uid},
                                         {"storageUrl", archive.storage_url},
                                         {"bytes", archive.bytes},
                                         {"md5", archive.md5},
                                         {"targets", covered},
                                         {"artifacts", artifacts.size()}})
                             .dump();
        if (!archive.reason.empty()) audit.remark = archive.reason;
        audit.time_ms = now;
        InsertAuditRow(session, audit);
        return Status::Ok();
      });
}

StatusOr<std::vector<ArchiveRecord>> SqlRuntimeStore::ListArchives(const std::string& deploy_uid) {
  std::vector<ArchiveRecord> archives;
  Status status = database_.Run("listing archives of deploy " + deploy_uid,
                                [&](soci::session& session) -> Status {
                                  archives = QueryArchives(session, "a.deploy_id = :d", deploy_uid);
                                  return Status::Ok();
                                });
  if (!status.ok()) return status;
  return archives;
}

StatusOr<ArchiveRecord> SqlRuntimeStore::GetArchive(const std::string& archive_id) {
  std::vector<ArchiveRecord> archives;
  Status status =
      database_.Run("reading archive " + archive_id, [&](soci::session& session) -> Status {
        archives = QueryArchives(session, "a.archive_id = :i", archive_id);
        return Status::Ok();
      });
  if (!status.ok()) return status;
  if (archives.empty()) return Status::NotFound("archive " + archive_id + " not found");
  return archives.front();
}

StatusOr<std::vector<LogUsage>> SqlRuntimeStore::ReadLogUsage(const std::string& deploy_uid) {
  const sql::Dialect dialect = database_.dialect();
  std::vector<LogUsage> usages;
  Status status = database_.Run(
      "reading the log usage of deploy " + deploy_uid, [&](soci::session& session) -> Status {
        usages.clear();
        LogUsage usage;
        usage.deploy_uid = deploy_uid;
        long long lines = 0, bytes = 0, first = 0, last = 0, archived = 0;
        std::string bound = deploy_uid;
        soci::statement statement =
            (session.prepare
                 << "SELECT t.target_name, COUNT(l.seq), " +
                        IntegerSum(dialect, ContentBytes(dialect, "l.content")) +
                        ", COALESCE(MIN(l.seq), 0), COALESCE(MAX(l.seq), 0), "
                        "(SELECT COALESCE(MAX(c.last_seq), 0) FROM log_archive_target c "
                        "WHERE c.target_id = t.target_id) "
                        "FROM svc_deploy_target t LEFT JOIN log_event l "
                        "ON l.target_id = t.target_id WHERE t.deploy_id = :d "
                        "GROUP BY t.target_id, t.target_name, t.node_rank "
                        "ORDER BY t.node_rank",
             soci::into(usage.target), soci::into(lines), soci::into(bytes), soci::into(first),
             soci::into(last), soci::into(archived), soci::use(bound));
        statement.execute();
        while (statement.fetch()) {
          usage.lines = lines;
          usage.bytes = bytes;
          usage.first_seq = first;
          usage.last_seq = last;
          usage.archived_seq = archived;
          usages.push_back(usage);
        }
        return Status::Ok();
      });
  if (!status.ok()) return status;
  return usages;
}

StatusOr<std::vector<std::string>> SqlRuntimeStore::ListDeploysOverRetention(
    const LogRetention& retention) {
  if (retention.max_lines < 1) return FieldError("retention.max_lines", "must be at least 1");
  if (retention.max_bytes < 1) return FieldError("retention.max_bytes", "must be at least 1");
  const sql::Dialect dialect = database_.dialect();
  std::vector<std::string> uids;
  Status status = database_.Run(
      "listing deploys over the log retention", [&](soci::session& session) -> Status {
        uids.clear();
        std::string uid;
        long long max_lines = retention.max_lines, max_bytes = retention.max_bytes;
        soci::statement statement =
            (session.prepare << "SELECT DISTINCT u.deploy_id FROM (SELECT l.deploy_id, "
                                "COUNT(*) AS line_count, " +
                                    IntegerSum(dialect, ContentBytes(dialect, "l.content")) +
                                    " AS byte_count FROM log_event l "
                                    "GROUP BY l.deploy_id, l.target_id) u "
                                    "WHERE u.line_count > :l OR u.byte_count > :b",
             soci::into(uid), soci::use(max_lines), soci::use(max_bytes));
        statement.execute();
        while (statement.fetch()) uids.push_back(uid);
        return Status::Ok();
      });
  if (!status.ok()) return status;
  return uids;
}

StatusOr<int64_t> SqlRuntimeStore::PruneArchivedLogs(const std::string& deploy_uid,
                                                     const LogRetention& retention,
                                                     const std::string& user) {
  if (retention.max_lines < 1) return FieldError("retention.max_lines", "must be at least 1");
  if (retention.max_bytes < 1) return FieldError("retention.max_bytes", "must be at least 1");
  const sql::Dialect dialect = database_.dialect();
  int64_t deleted_total = 0;
  Status status = database_.RunInTransaction(
      "pruning archived logs of deploy " + deploy_uid, [&](soci::session& session) -> Status {
        deleted_total = 0;
        struct Candidate {
          std::string target_id, name;
          long long archived = 0;
        };
        std::vector<Candidate> candidates;
        std::string ns, name;
        {
          std::string bound = deploy_uid;
          session << "SELECT namespace, name FROM svc_deploy WHERE deploy_id = :d", soci::into(ns),
              soci::into(name), soci::use(bound);
          Candidate candidate;
          soci::statement statement =
              (session.prepare << "SELECT t.target_id, t.target_name, MAX(c.last_seq) "
                                  "FROM svc_deploy_target t JOIN log_archive_target c "
                                  "ON c.target_id = t.target_id WHERE t.deploy_id = :d "
                                  "GROUP BY t.target_id, t.target_name, t.node_rank "
                                  "ORDER BY t.node_rank",
               soci::into(candidate.target_id), soci::into(candidate.name),
               soci::into(candidate.archived), soci::use(bound));
          statement.execute();
          while (statement.fetch()) candidates.push_back(candidate);
        }

        for (Candidate& candidate : candidates) {
          // The newest row past the line bound, and the newest row at which
          // the bytes counted from the newest row pass the byte bound: rows
          // up to the higher of the two are past the bound.
          long long past_lines = 0, past_bytes = 0, offset = retention.max_lines;
          long long max_bytes = retention.max_bytes;
          std::string bound = candidate.target_id;
          session << "SELECT seq FROM log_event WHERE target_id = :t ORDER BY seq DESC "
                     "LIMIT 1 OFFSET :o",
              soci::into(past_lines), soci::use(bound), soci::use(offset);
          if (!session.got_data()) past_lines = 0;
          session << "SELECT COALESCE(MAX(w.seq), 0) FROM (SELECT seq, SUM(" +
                         ContentBytes(dialect, "content") +
                         ") OVER (ORDER BY seq DESC) AS total FROM log_event "
                         "WHERE target_id = :t) w WHERE w.total > :b",
              soci::into(past_bytes), soci::use(bound), soci::use(max_bytes);
          const long long cut = std::min(std::max(past_lines, past_bytes), candidate.archived);
          if (cut < 1) continue;

          long long deleted = 0;
          Execute(session, "DELETE FROM log_event WHERE target_id = :t AND seq <= :s",
                  {candidate.target_id, cut}, &deleted);
          if (deleted == 0) continue;
          deleted_total += deleted;
          AuditRow audit;
          audit.entity_type = "ARCHIVE";
          audit.entity_id = candidate.target_id;
          audit.entity_namespace = ns;
          audit.entity_name = name;
          audit.operation = "DELETE";
          audit.user = user;
          audit.remark = "deleted " + std::to_string(deleted) + " archived log lines of target " +
                         candidate.name + " up to seq " + std::to_string(cut) +
                         " past the retention of " + std::to_string(retention.max_lines) +
                         " lines or " + std::to_string(retention.max_bytes) + " bytes";
          audit.time_ms = NowMs();
          InsertAuditRow(session, audit);
        }
        return Status::Ok();
      });
  if (!status.ok()) return status;
  return deleted_total;
}

}  // namespace svcd::store
