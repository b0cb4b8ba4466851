// The records of SqlStore around its objects: apply sets, the controller
// lease and the event timeline.

#include <soci/soci.h>

#include <algorithm>

#include "api/codec.h"
#include "store/log_text.h"
#include "store/sql_store.h"

namespace svcd::store {
namespace {

constexpr char kLeaseName[] = "controllers";

}  // namespace

Status SqlStore::RecordApplySetMember(soci::session& session, const std::string& name,
                                      const api::Object& object) {
  ObjectKey key = KeyOf(object);
  Status status = DropApplySetMember(session, name, key);
  if (!status.ok()) return status;
  Execute(session,
          "INSERT INTO apply_set_member (apply_set, object_kind, object_namespace, object_name, "
          "object_uid, added_time) VALUES (:s, :k, :n, :o, :u, :t)",
          {name, key.kind, key.namespace_, key.name, api::MetaOf(object).uid,
           static_cast<long long>(NowMs())});
  return Status::Ok();
}

Status SqlStore::DropApplySetMember(soci::session& session, const std::string& name,
                                    const ObjectKey& key) {
  Execute(session,
          "DELETE FROM apply_set_member WHERE apply_set = :s AND object_kind = :k AND "
          "object_namespace = :n AND object_name = :o",
          {name, key.kind, key.namespace_, key.name});
  return Status::Ok();
}

StatusOr<std::vector<ApplySetMember>> SqlStore::ListApplySet(const std::string& name) {
  std::vector<ApplySetMember> members;
  Status status = database_->Run("reading apply set " + name, [&](soci::session& session) {
    members.clear();
    ApplySetMember member;
    std::string bound = name;
    soci::statement statement =
        (session.prepare << "SELECT object_kind, object_namespace, object_name, object_uid FROM "
                            "apply_set_member WHERE apply_set = :s "
                            "ORDER BY object_kind, object_namespace, object_name",
         soci::into(member.kind), soci::into(member.namespace_), soci::into(member.name),
         soci::into(member.uid), soci::use(bound));
    statement.execute();
    while (statement.fetch()) members.push_back(member);
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return members;
}

Status SqlStore::RemoveApplySetMember(const std::string& name, const ObjectKey& key) {
  return database_->RunInTransaction("updating apply set " + name, [&](soci::session& session) {
    return DropApplySetMember(session, name, key);
  });
}

StatusOr<std::optional<Lease>> SqlStore::LoadLease(soci::session& session) {
  Lease lease;
  std::string name = kLeaseName;
  long long acquired = 0, renewed = 0, version = 0;
  session << std::string(
                 "SELECT holder, acquired_time, renewed_time, lease_version FROM "
                 "svcd_lease WHERE lease_name = :n") +
                 LockingRead(),
      soci::into(lease.holder), soci::into(acquired), soci::into(renewed), soci::into(version),
      soci::use(name);
  if (!session.got_data()) return std::optional<Lease>();
  lease.acquired_ms = acquired;
  lease.renewed_ms = renewed;
  lease.version = version;
  return std::optional<Lease>(lease);
}

StatusOr<Lease> SqlStore::AcquireLease(
    const std::string& holder, const std::function<bool(const std::string&)>& holder_is_gone) {
  if (holder.empty()) return Status::InvalidArgument("lease holder is empty; name the svcd");
  Lease result;
  Status status = database_->RunInTransaction("acquiring the lease", [&](soci::session& session) {
    StatusOr<std::optional<Lease>> current = LoadLease(session);
    if (!current.ok()) return current.status();
    long long now = NowMs();
    if (!current->has_value()) {
      result = {holder, now, now, 1};
      Execute(session,
              "INSERT INTO svcd_lease (lease_name, holder, acquired_time, renewed_time, "
              "lease_version) VALUES (:n, :h, :a, :r, :v)",
              {std::string(kLeaseName), holder, now, now, 1LL});
      return Status::Ok();
    }
    const Lease& lease = **current;
    long long idle = now - lease.renewed_ms;
    const bool dead = holder_is_gone && lease.holder != holder && holder_is_gone(lease.holder);
    if (lease.holder != holder && idle < options_.lease_ttl.count() && !dead) {
      return Status::FailedPrecondition(
          "the store is in use by svcd \"" + lease.holder + "\" (lease renewed " +
          std::to_string(idle / 1000) + " s ago, expires after " +
          std::to_string(options_.lease_ttl.count() / 1000) +
          " s without renewal); stop that svcd or wait for its lease to expire");
    }
    bool takeover = lease.holder != holder;
    result = {holder, takeover ? now : lease.acquired_ms, now,
              takeover ? lease.version + 1 : lease.version};
    Execute(session,
            "UPDATE svcd_lease SET holder = :h, acquired_time = :a, renewed_time = :r, "
            "lease_version = :v WHERE lease_name = :n",
            {holder, static_cast<long long>(result.acquired_ms),
             static_cast<long long>(result.renewed_ms), static_cast<long long>(result.version),
             std::string(kLeaseName)});
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return result;
}

StatusOr<Lease> SqlStore::RenewLease(const std::string& holder) {
  Lease result;
  Status status = database_->RunInTransaction("renewing the lease", [&](soci::session& session) {
    StatusOr<std::optional<Lease>> current = LoadLease(session);
    if (!current.ok()) return current.status();
    if (!current->has_value()) {
      return Status::FailedPrecondition("the lease is not held by anyone; acquire it again");
    }
    if ((*current)->holder != holder) {
      return Status::FailedPrecondition("the lease was taken over by svcd \"" + (*current)->holder +
                                        "\"");
    }
    result = **current;
    result.renewed_ms = NowMs();
    Execute(session,
            "UPDATE svcd_lease SET renewed_time = :r WHERE lease_name = :n AND holder = :h",
            {static_cast<long long>(result.renewed_ms), std::string(kLeaseName), holder});
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return result;
}

Status SqlStore::ReleaseLease(const std::string& holder) {
  return database_->RunInTransaction("releasing the lease", [&](soci::session& session) {
    Execute(session, "DELETE FROM svcd_lease WHERE lease_name = :n AND holder = :h",
            {std::string(kLeaseName), holder});
    return Status::Ok();
  });
}

StatusOr<Event> SqlStore::AppendEvent(const Event& event) {
  if (event.type != "Normal" && event.type != "Warning") {
    return Status::InvalidArgument("invalid event type \"" + event.type +
                                   "\"; use Normal or Warning");
  }
  if (event.object_uid.empty() || event.reason.empty()) {
    return Status::InvalidArgument("an event needs the object's uid and a reason");
  }
  Event stored = event;
  stored.time_ms = NowMs();
  // Messages quote peers' output; the events route must be able to send
  // them as JSON text.
  stored.message = ValidUtf8(stored.message);
  stored.reason = ValidUtf8(stored.reason);
  Status status = database_->RunInTransaction("appending an event", [&](soci::session& session) {
    // A repeat replaces the earlier row, so the list order (by id) stays
    // the order of the newest occurrence.
    long long repeated_id = 0, repeated_count = 0, first_time = 0;
    long long since = stored.time_ms - kEventRepeatWindowMs;
    session << "SELECT event_id, event_count, first_time FROM svc_event WHERE object_uid = :u "
               "AND type = :t AND reason = :r AND message = :m AND event_time >= :w "
               "ORDER BY event_id DESC LIMIT 1",
        soci::into(repeated_id), soci::into(repeated_count), soci::into(first_time),
        soci::use(stored.object_uid), soci::use(stored.type), soci::use(stored.reason),
        soci::use(stored.message), soci::use(since);
    stored.count = 1;
    stored.first_time_ms = stored.time_ms;
    if (session.got_data()) {
      Execute(session, "DELETE FROM svc_event WHERE event_id = :i", {repeated_id});
      stored.count = repeated_count + 1;
      stored.first_time_ms = first_time;
    }
    Execute(session,
            "INSERT INTO svc_event (object_uid, object_kind, object_namespace, object_name, type, "
            "reason, message, event_time, event_count, first_time) "
            "VALUES (:u, :k, :n, :o, :t, :r, :m, :w, :c, :f)",
            {stored.object_uid, stored.object_kind, stored.object_namespace, stored.object_name,
             stored.type, stored.reason, stored.message, static_cast<long long>(stored.time_ms),
             static_cast<long long>(stored.count), static_cast<long long>(stored.first_time_ms)});
    long long id = 0;
    if (!session.get_last_insert_id("svc_event", id)) {
      return Status::Internal("the database did not report the new event's id");
    }
    stored.id = id;
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return stored;
}

namespace {

// Reads the events that `query` selects: the columns of kEventColumns, with
// one placeholder bound to `bound`, or none when `bound` is empty.
Status ReadEvents(soci::session& session, const std::string& query, const std::string& bound,
                  std::vector<Event>& events) {
  events.clear();
  Event event;
  long long id = 0, time = 0, count = 0, first_time = 0;
  std::string value = bound;
  soci::statement statement(session);
  statement.exchange(soci::into(id));
  statement.exchange(soci::into(event.object_uid));
  statement.exchange(soci::into(event.object_kind));
  statement.exchange(soci::into(event.object_namespace));
  statement.exchange(soci::into(event.object_name));
  statement.exchange(soci::into(event.type));
  statement.exchange(soci::into(event.reason));
  statement.exchange(soci::into(event.message));
  statement.exchange(soci::into(time));
  statement.exchange(soci::into(count));
  statement.exchange(soci::into(first_time));
  if (!value.empty()) statement.exchange(soci::use(value));
  statement.alloc();
  statement.prepare(query);
  statement.define_and_bind();
  statement.execute();
  while (statement.fetch()) {
    event.id = id;
    event.time_ms = time;
    event.count = count;
    event.first_time_ms = first_time;
    events.push_back(event);
  }
  return Status::Ok();
}

constexpr char kEventColumns[] =
    "SELECT event_id, object_uid, object_kind, object_namespace, object_name, type, reason, "
    "message, event_time, event_count, first_time FROM svc_event ";

}  // namespace

StatusOr<std::vector<Event>> SqlStore::ListEvents(const std::string& uid) {
  std::vector<Event> events;
  Status status = database_->Run("reading events", [&](soci::session& session) {
    return ReadEvents(session,
                      std::string(kEventColumns) + "WHERE object_uid = :u ORDER BY event_id", uid,
                      events);
  });
  if (!status.ok()) return status;
  return events;
}

StatusOr<std::vector<Event>> SqlStore::ListRecentEvents(const std::string& namespace_, int limit) {
  if (limit < 1 || limit > 10000) {
    return Status::InvalidArgument("limit " + std::to_string(limit) + " is outside 1..10000");
  }
  std::vector<Event> events;
  // The limit is an integer checked above, so it is written into the text.
  const std::string query = std::string(kEventColumns) +
                            (namespace_.empty() ? "" : "WHERE object_namespace = :n ") +
                            "ORDER BY event_id DESC LIMIT " + std::to_string(limit);
  Status status = database_->Run("reading recent events", [&](soci::session& session) {
    return ReadEvents(session, query, namespace_, events);
  });
  if (!status.ok()) return status;
  std::reverse(events.begin(), events.end());
  return events;
}

}  // namespace svcd::store
