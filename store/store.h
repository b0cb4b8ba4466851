// Store: the repository of svcd's objects (Host, ServiceTemplate,
// ServiceDeploy) and of the records around them (audit rows, events, apply
// sets, the controller lease).
//
// Every object row contains the object's document (metadata and spec) and,
// separately, its status. The store assigns uid, generation,
// resourceVersion and the timestamps; values a caller puts in those fields
// are ignored, except resourceVersion as an update precondition.
//
// Thread-safety: a Store may be called from many threads at once. The SOCI
// implementation serializes calls on one session (see store/database.h).
//
// Error codes common to every call: Unavailable when the database cannot be
// reached after bounded reconnect attempts, Internal for anything
// unexpected. A call that fails writes nothing.

#ifndef SVCD_STORE_STORE_H_
#define SVCD_STORE_STORE_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "api/status.h"
#include "api/types.h"
#include "store/database.h"
#include "store/label_selector.h"
#include "store/runtime_store.h"

namespace svcd::store {

// Names one object. `namespace_` is set for ServiceDeploy only; an empty
// namespace of a deploy means "default".
struct ObjectKey {
  std::string kind;  // api::kKindHost, api::kKindServiceTemplate, api::kKindServiceDeploy
  std::string namespace_;
  std::string name;

  // Formats the key as "Kind name" or "Kind namespace/name".
  std::string ToString() const;
  friend bool operator==(const ObjectKey&, const ObjectKey&) = default;
};

// Returns the key of `object`.
ObjectKey KeyOf(const api::Object& object);

// Returns the annotations an apply of `incoming` stores over `live`: those
// of `incoming`, plus the restart marker (kRestartGenerationAnnotation) of
// `live` when `incoming` leaves it out, so that a re-apply of the same
// manifest after a rollout restart changes nothing.
std::map<std::string, std::string> AppliedAnnotations(const api::ObjectMeta& live,
                                                      const api::ObjectMeta& incoming);

struct ListOptions {
  std::string kind;
  std::string namespace_;  // ServiceDeploy only; empty lists every namespace
  LabelSelector selector;  // the default selector matches every object
};

// One write of a batch.
struct Write {
  enum class Op {
    kCreate,  // AlreadyExists when a live object has the name
    kUpdate,  // NotFound when there is none
    kApply,   // create when missing, otherwise update
    kDelete,  // only the object's kind, namespace and name are used
  };
  Op op = Op::kApply;
  api::Object object;
};

// The result of one write.
enum class Outcome {
  kCreated,
  kConfigured,  // metadata or spec changed: new resourceVersion
  kUnchanged,   // nothing to write; no audit row either
  kDeleting,    // deletionTimestamp set, waiting for finalizers
  kDeleted,
};

// Returns "created", "configured", "unchanged", "deleting" or "deleted".
const char* OutcomeName(Outcome outcome);

struct WriteResult {
  Outcome outcome = Outcome::kUnchanged;
  // The stored object after the write. A deleted Host or ServiceTemplate
  // returns its last stored version.
  api::Object object;
};

struct BatchOptions {
  std::string user;       // recorded as the operator of every audit row
  std::string apply_set;  // when set, every object written becomes a member of it
};

// One entry of the event timeline of an object.
struct Event {
  int64_t id = 0;  // assigned by AppendEvent, increasing
  std::string object_uid;
  std::string object_kind;
  std::string object_namespace;
  std::string object_name;
  std::string type;    // "Normal" or "Warning"
  std::string reason;  // CamelCase
  std::string message;
  int64_t time_ms = 0;  // assigned by AppendEvent from the store's clock: the newest time
  // How many times the event happened within the repeat window, and when
  // the first of them happened; assigned by AppendEvent.
  int64_t count = 1;
  int64_t first_time_ms = 0;
};

// An event equal to one of the same object appended at most this long ago
// (same type, reason and message) replaces it with its count raised by one.
inline constexpr int64_t kEventRepeatWindowMs = 10 * 60 * 1000;

// An object owned by an apply set.
struct ApplySetMember {
  std::string kind;
  std::string namespace_;
  std::string name;
  std::string uid;

  friend bool operator==(const ApplySetMember&, const ApplySetMember&) = default;
};

// The controller lease as stored.
struct Lease {
  std::string holder;
  int64_t acquired_ms = 0;
  int64_t renewed_ms = 0;
  int64_t version = 0;  // bumped whenever another holder takes the lease over
};

struct StoreOptions {
  // The clock of the store, in milliseconds since the Unix epoch. Default:
  // the system clock. Tests inject their own.
  std::function<int64_t()> now_ms;
  // A lease not renewed for this long may be taken over by another holder.
  std::chrono::milliseconds lease_ttl{15000};
  DatabaseOptions database;
};

// The annotation that marks a generation started by NewGeneration: its
// value is that generation, in decimal.
inline constexpr char kRestartGenerationAnnotation[] = "svcd.io/restartGeneration";

class Store {
 public:
  virtual ~Store() = default;

  // Returns the live object named by `key`. NotFound when there is none;
  // InvalidArgument for an unknown kind.
  virtual StatusOr<api::Object> Get(const ObjectKey& key) = 0;

  // Returns the live objects of one kind that match `options`, ordered by
  // namespace and name.
  virtual StatusOr<std::vector<api::Object>> List(const ListOptions& options) = 0;

  // Writes `writes` in one transaction, in order, each with its audit row.
  // Either every write takes effect or none does. Errors name the failing
  // object: AlreadyExists (create of an existing name), NotFound (update or
  // delete of a missing object), Aborted (a non-empty resourceVersion that
  // is not the stored one), InvalidArgument (a document the schema
  // rejects). Results are in the order of `writes`.
  //
  // Update semantics: the metadata labels and annotations and the spec are
  // replaced. generation is bumped only when the spec changed, compared
  // after defaulting with envs compared by name. resourceVersion changes
  // when labels, annotations or the spec changed. Finalizers are kept as
  // stored (see RemoveFinalizer). Delete removes a Host or ServiceTemplate
  // at once. A ServiceDeploy with finalizers gets a deletionTimestamp and
  // stays until its last finalizer is removed. Without finalizers it is
  // marked deleted at once. Its row stays as history either way, and the
  // name is free for a new deploy.
  virtual StatusOr<std::vector<WriteResult>> WriteBatch(const std::vector<Write>& writes,
                                                        const BatchOptions& options) = 0;

  // Write a single object; the same rules as WriteBatch.
  StatusOr<WriteResult> Create(const api::Object& object, const std::string& user);
  StatusOr<WriteResult> Update(const api::Object& object, const std::string& user);
  StatusOr<WriteResult> Delete(const ObjectKey& key, const std::string& user);

  // Replaces the status of the live object with `object`'s status. Never
  // changes resourceVersion, generation, metadata or spec, so it never makes
  // a user's write conflict. Writes no audit row. NotFound when the object
  // is gone; InvalidArgument for a ServiceTemplate, which has no status.
  virtual StatusOr<api::Object> UpdateStatus(const api::Object& object) = 0;

  // Removes `finalizer` from the live object; a missing finalizer is not an
  // error. When the object is being deleted and no finalizer remains, it is
  // marked deleted (Outcome kDeleted). NotFound when the object is gone.
  virtual StatusOr<WriteResult> RemoveFinalizer(const ObjectKey& key, const std::string& finalizer,
                                                const std::string& user) = 0;

  // Starts a new generation of a live object whose spec is unchanged, for
  // a rollout restart. Generation and resourceVersion go up by one, the
  // annotation kRestartGenerationAnnotation is set to the new generation,
  // and an audit row (operator `user`) records `reason`. The controller
  // replaces every target of an older generation, and clients that wait
  // for status.observedGeneration wait for the restart. NotFound when the
  // object is gone; FailedPrecondition while it is being deleted.
  virtual StatusOr<WriteResult> NewGeneration(const ObjectKey& key, const std::string& user,
                                              const std::string& reason) = 0;

  // Return the live deploys that run a node on host `name` (master or a
  // worker), or whose spec.templateRef is `name`, ordered by namespace and name.
  virtual StatusOr<std::vector<ObjectKey>> DeploysUsingHost(const std::string& name) = 0;
  virtual StatusOr<std::vector<ObjectKey>> DeploysUsingTemplate(const std::string& name) = 0;

  // Returns the members of apply set `name`, ordered by kind, namespace and
  // name; empty for an unknown set.
  virtual StatusOr<std::vector<ApplySetMember>> ListApplySet(const std::string& name) = 0;
  // Removes one member from apply set `name`; removing a non-member is not
  // an error.
  virtual Status RemoveApplySetMember(const std::string& name, const ObjectKey& key) = 0;

  // Takes the controller lease for `holder`. Succeeds when the lease is
  // free, already held by `holder`, not renewed within the lease TTL, or
  // held by one for which `holder_is_gone` returns true (a holder the
  // caller knows to be dead). FailedPrecondition, naming the current
  // holder, otherwise.
  virtual StatusOr<Lease> AcquireLease(
      const std::string& holder,
      const std::function<bool(const std::string&)>& holder_is_gone = {}) = 0;
  // Records that `holder` is alive. FailedPrecondition when another holder
  // has taken the lease over, or the lease is not held at all.
  virtual StatusOr<Lease> RenewLease(const std::string& holder) = 0;
  // Gives the lease up when `holder` has it; otherwise does nothing.
  virtual Status ReleaseLease(const std::string& holder) = 0;

  // Appends `event` to the timeline and returns it with id and time set.
  // InvalidArgument for a type other than Normal or Warning.
  virtual StatusOr<Event> AppendEvent(const Event& event) = 0;
  // Returns the events of the object with `uid` in the order of their newest
  // occurrence.
  virtual StatusOr<std::vector<Event>> ListEvents(const std::string& uid) = 0;
  // Returns the newest `limit` events of objects in `namespace_` (every
  // namespace when empty), oldest first. InvalidArgument for a limit
  // outside 1..10000.
  virtual StatusOr<std::vector<Event>> ListRecentEvents(const std::string& namespace_,
                                                        int limit) = 0;

  // Checks that the database responds; for /readyz.
  virtual Status Ping() = 0;

  // Returns the runtime records (targets, dispatches, logs, probe results)
  // over the same database. The reference lives as long as the Store.
  virtual RuntimeStore& runtime() = 0;
};

// Opens the store at `url` (sqlite:PATH or mysql://USER@HOST:PORT/DB) and
// applies pending migrations. `password` is for MySQL and never appears in
// messages. Errors: those of ParseStoreUrl, Database::Open and Migrate.
StatusOr<std::unique_ptr<Store>> OpenStore(const std::string& url, const std::string& password,
                                           StoreOptions options = {});

}  // namespace svcd::store

#endif  // SVCD_STORE_STORE_H_
