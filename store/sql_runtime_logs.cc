// SqlRuntimeStore: log lines (log_event) and probe results
// (health_probe_event).

#include <soci/soci.h>

#include <algorithm>
#include <climits>
#include <optional>
#include <string>
#include <vector>

#include "store/log_text.h"
#include "store/sql_runtime_store.h"
#include "store/sql_util.h"

namespace svcd::store {
namespace {

// Rows per multi-row INSERT into log_event on MySQL, where each statement
// is one round trip to the server.
constexpr size_t kLinesPerInsert = 500;
// health_probe_event.message is VARCHAR(500).
constexpr size_t kMaxProbeMessageBytes = 500;

Status FieldError(const std::string& field, const std::string& message) {
  Cause cause;
  cause.field = field;
  cause.message = message;
  return Status::InvalidArgument(field + ": " + message, {cause});
}

Status ValidateLimit(int limit) {
  if (limit < 1 || limit > SqlRuntimeStore::kMaxReadLimit) {
    return FieldError("limit", std::to_string(limit) + " is out of range; use 1 to " +
                                   std::to_string(SqlRuntimeStore::kMaxReadLimit));
  }
  return Status::Ok();
}

// The conditions of one ReadLogs call.
struct LogQuery {
  std::string deploy_uid;
  std::string target;  // empty: every target
  long long after_seq = 0;
  long long attempt = 0;  // 0: every attempt
  long long limit = 0;
  long long since_ms = 0;  // 0: any time
};

// Returns whether the deploy has a target row named `name`, live or deleted.
bool TargetExists(soci::session& session, const std::string& deploy_uid, const std::string& name) {
  long long count = 0;
  std::string bound_deploy = deploy_uid, bound_name = name;
  session << "SELECT COUNT(*) FROM svc_deploy_target WHERE deploy_id = :d AND target_name = :n",
      soci::into(count), soci::use(bound_deploy), soci::use(bound_name);
  return count > 0;
}

// Returns the FROM and WHERE clauses that `query` selects, binding its
// values to `statement` in order.
std::string LogConditions(soci::statement& statement, LogQuery& query) {
  std::string sql =
      " FROM log_event l JOIN svc_deploy_target t ON t.target_id = l.target_id "
      "WHERE l.deploy_id = :d AND l.seq > :s";
  statement.exchange(soci::use(query.deploy_uid));
  statement.exchange(soci::use(query.after_seq));
  if (!query.target.empty()) {
    sql += " AND t.target_name = :n";
    statement.exchange(soci::use(query.target));
  }
  if (query.attempt > 0) {
    sql += " AND l.attempt = :a";
    statement.exchange(soci::use(query.attempt));
  }
  if (query.since_ms > 0) {
    sql += " AND l.ts >= :w";
    statement.exchange(soci::use(query.since_ms));
  }
  return sql;
}

// Appends the log lines that `query` selects to `lines`. Throws SOCI exceptions.
void QueryLogLines(soci::session& session, LogQuery& query, std::vector<LogLine>& lines) {
  LogLine line;
  long long seq = 0, time = 0;
  soci::statement statement(session);
  statement.exchange(soci::into(seq));
  statement.exchange(soci::into(line.attempt));
  statement.exchange(soci::into(line.target));
  statement.exchange(soci::into(line.source));
  statement.exchange(soci::into(line.content));
  statement.exchange(soci::into(time));

  std::string sql = "SELECT l.seq, l.attempt, t.target_name, l.source, l.content, l.ts" +
                    LogConditions(statement, query) + " ORDER BY t.node_rank, l.seq LIMIT :l";
  statement.exchange(soci::use(query.limit));

  statement.alloc();
  statement.prepare(sql);
  statement.define_and_bind();
  statement.execute();
  while (statement.fetch()) {
    line.seq = seq;
    line.time_ms = time;
    lines.push_back(line);
  }
}

}  // namespace

void SqlRuntimeStore::InsertLines(soci::session& session, TargetRow& target, int attempt,
                                  const std::vector<NewLine>& lines) {
  if (lines.empty()) return;
  if (database_.dialect() == sql::Dialect::kMysql) {
    InsertLinesBatched(session, target, attempt, lines);
  } else {
    InsertLinesPrepared(session, target, attempt, lines);
  }
  Execute(session, "UPDATE svc_deploy_target SET next_log_seq = :n WHERE target_id = :t",
          {static_cast<long long>(target.next_log_seq), target.target_id});
}

void SqlRuntimeStore::InsertLinesPrepared(soci::session& session, TargetRow& target, int attempt,
                                          const std::vector<NewLine>& lines) {
  std::string deploy_id = target.deploy_id, target_id = target.target_id;
  std::string source, level, content;
  long long seq = 0, bound_attempt = attempt, now = NowMs();
  soci::statement statement =
      (session.prepare << "INSERT INTO log_event (deploy_id, target_id, seq, attempt, source, "
                          "level, content, ts) VALUES (:d, :t, :q, :a, :s, :l, :c, :w)",
       soci::use(deploy_id), soci::use(target_id), soci::use(seq), soci::use(bound_attempt),
       soci::use(source), soci::use(level), soci::use(content), soci::use(now));
  for (const NewLine& line : lines) {
    seq = target.next_log_seq++;
    source = line.source;
    level = line.level;
    content = line.content;
    statement.execute(true);
  }
}

void SqlRuntimeStore::InsertLinesBatched(soci::session& session, TargetRow& target, int attempt,
                                         const std::vector<NewLine>& lines) {
  long long now = NowMs();
  for (size_t first = 0; first < lines.size(); first += kLinesPerInsert) {
    size_t last = std::min(lines.size(), first + kLinesPerInsert);
    std::string sql =
        "INSERT INTO log_event (deploy_id, target_id, seq, attempt, source, level, content, ts) "
        "VALUES ";
    std::vector<SqlValue> values;
    for (size_t i = first; i < last; ++i) {
      std::string n = std::to_string(i - first);
      sql += (i == first ? "(" : ", (") + std::string(":d") + n + ", :t" + n + ", :q" + n + ", :a" +
             n + ", :s" + n + ", :l" + n + ", :c" + n + ", :w" + n + ")";
      values.insert(values.end(),
                    {target.deploy_id, target.target_id,
                     static_cast<long long>(target.next_log_seq++), static_cast<long long>(attempt),
                     lines[i].source, lines[i].level, lines[i].content, now});
    }
    Execute(session, sql, values);
  }
}

void SqlRuntimeStore::StoreOutput(soci::session& session, LockedDispatch& dispatch, int64_t offset,
                                  const std::string& bytes, bool flush) {
  int64_t stored = dispatch.log_bytes;
  int64_t end = offset + static_cast<int64_t>(bytes.size());
  std::string_view fresh = bytes;
  std::string buffer = dispatch.log_partial;
  std::vector<NewLine> lines;
  auto add_service_lines = [&lines](std::vector<std::string> texts) {
    for (std::string& text : texts) lines.push_back({"SERVICE", "INFO", std::move(text)});
  };

  if (offset < stored) {
    // A resend: the bytes before the stored end were stored already.
    fresh.remove_prefix(static_cast<size_t>(std::min(end, stored) - offset));
  } else if (offset > stored) {
    // A gap: the buffered partial line lost its end, so it is stored as it
    // is, followed by a line that gives the missing byte range.
    add_service_lines(SplitLogLines(buffer, /*flush=*/true, kMaxLogLineBytes).lines);
    buffer.clear();
    lines.push_back({"AGENT", "WARN",
                     "output lost: bytes " + std::to_string(stored) + " to " +
                         std::to_string(offset) + " of output.log (" +
                         std::to_string(offset - stored) + " bytes) never arrived"});
  }
  buffer.append(fresh);
  LogSplit split = SplitLogLines(buffer, flush, kMaxLogLineBytes);
  add_service_lines(std::move(split.lines));

  int64_t new_bytes = std::max(stored, end);
  if (lines.empty() && new_bytes == stored && split.partial == dispatch.log_partial) return;
  InsertLines(session, dispatch.target, dispatch.attempt, lines);
  Execute(session,
          "UPDATE job_dispatch SET log_bytes = :b, log_partial = :p WHERE dispatch_id = :d",
          {static_cast<long long>(new_bytes),
           split.partial.empty() ? SqlValue() : SqlValue(split.partial), dispatch.dispatch_id});
  dispatch.log_bytes = new_bytes;
  dispatch.log_partial = split.partial;
}

Status SqlRuntimeStore::AppendLog(const std::string& dispatch_id, int64_t lease, int64_t offset,
                                  const std::string& bytes) {
  if (offset < 0) return FieldError("offset", "must not be negative");
  if (bytes.size() > kMaxLogChunkBytes) {
    return Status::ResourceExhausted("a log chunk of " + std::to_string(bytes.size()) +
                                     " bytes is over the limit of " +
                                     std::to_string(kMaxLogChunkBytes) + "; send smaller chunks");
  }
  if (offset > INT64_MAX - static_cast<int64_t>(bytes.size())) {
    return FieldError("offset", "is too large");
  }
  // The last output of an attempt that is being stopped is kept: its
  // launcher sends it after the stop raised the target's lease.
  return RunFenced(
      "appending output", dispatch_id, lease,
      [&](soci::session& session, LockedDispatch& dispatch) -> Status {
        // Output that arrives after the exit report has no successor bytes,
        // so its partial line is stored at once.
        StoreOutput(session, dispatch, offset, bytes, /*flush=*/dispatch.ended);
        return Status::Ok();
      },
      /*stopped_ok=*/true);
}

Status SqlRuntimeStore::AppendAgentLog(const std::string& deploy_uid, const std::string& target,
                                       const std::string& line) {
  if (line.size() > kMaxLogChunkBytes) {
    return Status::ResourceExhausted("an agent log line of " + std::to_string(line.size()) +
                                     " bytes is over the limit of " +
                                     std::to_string(kMaxLogChunkBytes));
  }
  std::vector<NewLine> lines;
  for (std::string& text : SplitLogLines(line, /*flush=*/true, kMaxLogLineBytes).lines) {
    lines.push_back({"AGENT", "INFO", std::move(text)});
  }
  if (lines.empty()) return FieldError("line", "is empty; write the message to store");

  return database_.RunInTransaction(
      "appending an agent log line of target " + target + " of deploy " + deploy_uid,
      [&](soci::session& session) -> Status {
        // Removed targets still take agent lines, such as the report of their stop.
        std::optional<TargetRow> row = LockTarget(session, deploy_uid, target);
        if (!row.has_value()) {
          return Status::NotFound("target " + target + " of deploy " + deploy_uid + " not found");
        }
        // Before the first dispatch, lines belong to the attempt about to start.
        int attempt = std::max(1, LatestAttempt(session, row->target_id));
        InsertLines(session, *row, attempt, lines);
        return Status::Ok();
      });
}

StatusOr<std::vector<LogLine>> SqlRuntimeStore::ReadLogs(const std::string& deploy_uid,
                                                         const std::string& target,
                                                         int64_t after_seq, int attempt,
                                                         int limit) {
  Status valid = ValidateLimit(limit);
  if (!valid.ok()) return valid;
  if (after_seq < 0) return FieldError("after_seq", "must not be negative");
  if (attempt < 0) return FieldError("attempt", "must not be negative; 0 reads every attempt");

  LogQuery query{deploy_uid, target, after_seq, attempt, limit};
  std::vector<LogLine> lines;
  Status status =
      database_.Run("reading logs of deploy " + deploy_uid, [&](soci::session& session) -> Status {
        lines.clear();
        if (!target.empty() && !TargetExists(session, deploy_uid, target)) {
          return Status::NotFound("target " + target + " of deploy " + deploy_uid + " not found");
        }
        QueryLogLines(session, query, lines);
        return Status::Ok();
      });
  if (!status.ok()) return status;
  return lines;
}

// Returns the seq of the `tail`-th newest line that `query` selects for
// its one target, or nullopt when it selects fewer lines. Throws SOCI
// exceptions.
std::optional<long long> TailStart(soci::session& session, LogQuery& query, long long tail) {
  long long seq = 0;
  long long offset = tail - 1;
  soci::indicator found = soci::i_null;
  soci::statement statement(session);
  statement.exchange(soci::into(seq, found));
  std::string sql =
      "SELECT l.seq" + LogConditions(statement, query) + " ORDER BY l.seq DESC LIMIT 1 OFFSET :o";
  statement.exchange(soci::use(offset));
  statement.alloc();
  statement.prepare(sql);
  statement.define_and_bind();
  if (!statement.execute(true) || found != soci::i_ok) return std::nullopt;
  return seq;
}

// Returns the names of the deploy's target rows, live and removed, by rank.
std::vector<std::string> TargetNamesByRank(soci::session& session, const std::string& deploy_uid) {
  std::vector<std::string> names;
  std::string name;
  long long rank = 0;
  std::string bound = deploy_uid;
  soci::statement statement =
      (session.prepare << "SELECT target_name, MIN(node_rank) AS r FROM svc_deploy_target "
                          "WHERE deploy_id = :d GROUP BY target_name ORDER BY r, target_name",
       soci::into(name), soci::into(rank), soci::use(bound));
  statement.execute();
  while (statement.fetch()) names.push_back(name);
  return names;
}

// Appends each target's newest `tail` lines that `query` selects, target by
// target, until `query.limit` lines are read. Throws SOCI exceptions.
void QueryLogTails(soci::session& session, const LogQuery& query, long long tail,
                   std::vector<LogLine>& lines) {
  if (tail == 0) return;
  std::vector<std::string> names;
  if (query.target.empty()) {
    names = TargetNamesByRank(session, query.deploy_uid);
  } else {
    names.push_back(query.target);
  }
  for (const std::string& name : names) {
    if (static_cast<long long>(lines.size()) >= query.limit) return;
    LogQuery target_query = query;
    target_query.target = name;
    std::optional<long long> start = TailStart(session, target_query, tail);
    if (start.has_value()) target_query.after_seq = *start - 1;
    target_query.limit = query.limit - static_cast<long long>(lines.size());
    QueryLogLines(session, target_query, lines);
  }
}

StatusOr<std::vector<LogLine>> SqlRuntimeStore::ReadLogsFiltered(const std::string& deploy_uid,
                                                                 const LogFilter& filter,
                                                                 int limit) {
  Status valid = ValidateLimit(limit);
  if (!valid.ok()) return valid;
  if (filter.after_seq < 0) return FieldError("filter.after_seq", "must not be negative");
  if (filter.attempt < 0) {
    return FieldError("filter.attempt", "must not be negative; 0 reads every attempt");
  }
  if (filter.since_ms < 0) {
    return FieldError("filter.since_ms", "must not be negative; 0 reads lines of any time");
  }
  if (filter.tail < -1) {
    return FieldError("filter.tail", "must be -1 (every line) or a count of 0 or more");
  }

  LogQuery query{deploy_uid,     filter.target, filter.after_seq,
                 filter.attempt, limit,         filter.since_ms};
  std::vector<LogLine> lines;
  Status status =
      database_.Run("reading logs of deploy " + deploy_uid, [&](soci::session& session) -> Status {
        lines.clear();
        if (!filter.target.empty() && !TargetExists(session, deploy_uid, filter.target)) {
          return Status::NotFound("target " + filter.target + " of deploy " + deploy_uid +
                                  " not found");
        }
        if (filter.tail >= 0) {
          QueryLogTails(session, query, filter.tail, lines);
        } else {
          QueryLogLines(session, query, lines);
        }
        return Status::Ok();
      });
  if (!status.ok()) return status;
  return lines;
}

Status SqlRuntimeStore::AppendProbeEvent(const std::string& deploy_uid, const std::string& target,
                                         const ProbeEventRecord& event, int keep) {
  if (keep < 1) return FieldError("keep", "must be at least 1");
  if (event.latency_ms < 0) return FieldError("event.latency_ms", "must not be negative");
  if (event.time_ms < 0) return FieldError("event.time_ms", "must not be negative");
  std::string message(TruncateUtf8(ValidUtf8(event.message), kMaxProbeMessageBytes));
  long long latency = std::min<int64_t>(event.latency_ms, INT_MAX);  // an INT column

  return database_.RunInTransaction(
      "storing a probe result of target " + target + " of deploy " + deploy_uid,
      [&](soci::session& session) -> Status {
        StatusOr<TargetRow> row = LockLiveTarget(session, deploy_uid, target);
        if (!row.ok()) return row.status();
        long long time = event.time_ms > 0 ? event.time_ms : NowMs();
        Execute(session,
                "INSERT INTO health_probe_event (event_id, target_id, pass_flag, latency_ms, "
                "message, event_time) VALUES (:i, :t, :p, :l, :m, :w)",
                {NewUuid(), row->target_id, static_cast<long long>(event.passed ? 1 : 0), latency,
                 message.empty() ? SqlValue() : SqlValue(message), time});

        // Find the newest result past the `keep` newest and drop it and every
        // older one.
        // NOTE: results of one target with the same event_time are ordered
        // by their random event_id, so which of them is kept is arbitrary.
        std::string cut_id;
        long long cut_time = 0;
        std::string bound = row->target_id;
        long long offset = keep;
        session << "SELECT event_time, event_id FROM health_probe_event WHERE target_id = :t "
                   "ORDER BY event_time DESC, event_id DESC LIMIT 1 OFFSET :o",
            soci::into(cut_time), soci::into(cut_id), soci::use(bound), soci::use(offset);
        if (!session.got_data()) return Status::Ok();
        Execute(session,
                "DELETE FROM health_probe_event WHERE target_id = :t AND (event_time < :a OR "
                "(event_time = :b AND event_id <= :c))",
                {row->target_id, cut_time, cut_time, cut_id});
        return Status::Ok();
      });
}

StatusOr<std::vector<ProbeEventRecord>> SqlRuntimeStore::RecentProbeEvents(
    const std::string& deploy_uid, int limit) {
  Status valid = ValidateLimit(limit);
  if (!valid.ok()) return valid;
  std::vector<ProbeEventRecord> events;
  Status status = database_.Run(
      "reading probe results of deploy " + deploy_uid, [&](soci::session& session) -> Status {
        events.clear();
        ProbeEventRecord event;
        int passed = 0;
        long long latency = 0, time = 0;
        std::string bound = deploy_uid;
        long long bound_limit = limit;
        soci::statement statement =
            (session.prepare << "SELECT t.target_name, e.pass_flag, COALESCE(e.latency_ms, 0), "
                                "COALESCE(e.message, ''), e.event_time FROM health_probe_event e "
                                "JOIN svc_deploy_target t ON t.target_id = e.target_id "
                                "WHERE t.deploy_id = :d AND t.data_status = 'ACTIVE' "
                                "ORDER BY e.event_time DESC, e.event_id DESC LIMIT :l",
             soci::into(event.target), soci::into(passed), soci::into(latency),
             soci::into(event.message), soci::into(time), soci::use(bound), soci::use(bound_limit));
        statement.execute();
        while (statement.fetch()) {
          event.passed = passed != 0;
          event.latency_ms = latency;
          event.time_ms = time;
          events.push_back(event);
        }
        return Status::Ok();
      });
  if (!status.ok()) return status;
  return events;
}

}  // namespace svcd::store
