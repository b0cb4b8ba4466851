// ApplyService: validates, authorizes and writes a batch of objects, the one
// path that apply, create, replace, the legacy request and delete share.
//
// A batch is checked as a whole before anything is written. The checks are
// the caller's role for each object and duplicates inside the batch. They
// also cover references from deploys to their template and Hosts (in the
// store or in the same batch), whether each deploy renders, stale
// resourceVersions and deploys that are being deleted. When any check fails nothing is written and the status
// lists every failure, each cause prefixed "[Kind namespace/name] ".
// Otherwise every write happens in one store transaction.

#ifndef SVCD_SERVER_APPLY_SERVICE_H_
#define SVCD_SERVER_APPLY_SERVICE_H_

#include <string>
#include <vector>

#include "api/status.h"
#include "api/types.h"
#include "store/store.h"

namespace svcd::server {

struct ApplyRequest {
  std::vector<api::Object> objects;  // decoded, not yet defaulted
  store::Write::Op op = store::Write::Op::kApply;  // kApply, kCreate or kUpdate
  std::string user;
  std::string role;  // "viewer", "editor" or "admin"
  bool dry_run = false;
  std::string apply_set;  // record the objects as members of this set
  bool prune = false;     // delete members of apply_set missing from objects
};

struct ApplyItem {
  std::string kind;
  std::string namespace_;
  std::string name;
  std::string action;  // created, configured, unchanged, pruned
  api::Object object;  // as stored (or as it would be, on a dry run)
};

class ApplyService {
 public:
  ApplyService(store::Store& store, size_t max_script_bytes)
      : store_(store), max_script_bytes_(max_script_bytes) {}

  // Applies `request`. Errors:
  //   PermissionDenied   the role may not write an object (each one is listed)
  //   InvalidArgument    an invalid batch
  //   Aborted            a stale resourceVersion
  //   AlreadyExists      a create of an existing name
  //   FailedPrecondition a deploy being deleted, or a prune that would
  //                      remove a template or Host still in use
  StatusOr<std::vector<ApplyItem>> Apply(const ApplyRequest& request);

  // Deletes one object. Hosts and templates still used by a live deploy are
  // kept (FailedPrecondition naming the deploys). A deploy is marked for
  // deletion and waits for its finalizer. With `force` the finalizer is
  // removed at once, and a Warning event lists the targets that may still
  // run. Returns the outcome ("deleted" or "deleting") and the object.
  StatusOr<ApplyItem> Delete(const store::ObjectKey& key, const std::string& user,
                             const std::string& role, bool force, bool dry_run);

 private:
  store::Store& store_;
  const size_t max_script_bytes_;
};

// Returns the rank of a role name: viewer 1, editor 2, admin 3, else 0.
int RoleRank(const std::string& role);

}  // namespace svcd::server

#endif  // SVCD_SERVER_APPLY_SERVICE_H_
