#include "server/apply_service.h"

#include <map>
#include <set>

#include "api/codec.h"
#include "api/defaults.h"
#include "render/render.h"

namespace svcd::server {
namespace {

std::string Label(const store::ObjectKey& key) { return "[" + key.ToString() + "] "; }

Cause ObjectCause(const store::ObjectKey& key, const std::string& field, std::string message) {
  return Cause{Label(key) + field, std::move(message)};
}

// Objects of the batch by name, so that references can point into it.
struct BatchIndex {
  std::map<std::string, const api::Host*> hosts;
  std::map<std::string, const api::ServiceTemplate*> templates;
};

void CheckEnvOwner(const store::ObjectKey& key, const std::string& path,
                   const std::vector<api::EnvVar>& envs, std::vector<Cause>& denied) {
  for (size_t i = 0; i < envs.size(); ++i) {
    if (envs[i].name.rfind("LD_", 0) == 0) {
      denied.push_back(ObjectCause(
          key, path + "[" + std::to_string(i) + "].name",
          "role editor may not set env " + envs[i].name +
              ": LD_ variables change which code every process loads; ask an admin to put it "
              "in the ServiceTemplate"));
    }
  }
}

// Appends a cause for every part of `object` that `role` may not write.
void Authorize(const api::Object& object, const std::string& role, std::vector<Cause>& denied) {
  const store::ObjectKey key = store::KeyOf(object);
  const int rank = RoleRank(role);
  if (rank >= RoleRank("admin")) return;
  if (rank < RoleRank("editor")) {
    denied.push_back(ObjectCause(key, "", "role " + role + " may only read; writes need editor"));
    return;
  }
  const auto* deploy = std::get_if<api::ServiceDeploy>(&object);
  if (deploy == nullptr) {
    denied.push_back(ObjectCause(
        key, "",
        "role editor may not write " + key.kind +
            " objects: fixed prefixes, exec probes and hosts decide what runs as shell code, "
            "so they need admin"));
    return;
  }
  CheckEnvOwner(key, "spec.envs", deploy->spec.envs, denied);
  CheckEnvOwner(key, "spec.master.envs", deploy->spec.master.envs, denied);
  for (size_t i = 0; i < deploy->spec.workers.size(); ++i) {
    CheckEnvOwner(key, "spec.workers[" + std::to_string(i) + "].envs", deploy->spec.workers[i].envs,
                  denied);
  }
}

// Checks that the template and Hosts of `deploy` exist (in the batch or the
// store) and that the deploy renders; appends causes otherwise.
Status CheckDeploy(store::Store& store, const api::ServiceDeploy& deploy, const BatchIndex& batch,
                   size_t max_script_bytes, std::vector<Cause>& invalid) {
  const store::ObjectKey key = store::KeyOf(deploy);
  std::optional<api::ServiceTemplate> tmpl;
  if (auto it = batch.templates.find(deploy.spec.template_ref); it != batch.templates.end()) {
    tmpl = *it->second;
  } else {
    StatusOr<api::Object> found =
        store.Get({api::kKindServiceTemplate, "", deploy.spec.template_ref});
    if (found.ok()) {
      tmpl = std::get<api::ServiceTemplate>(*found);
    } else if (found.status().code() != Code::kNotFound) {
      return found.status();
    }
  }
  if (!tmpl) {
    invalid.push_back(ObjectCause(key, "spec.templateRef",
                                  "ServiceTemplate \"" + deploy.spec.template_ref +
                                      "\" not found; apply the template first or fix the name"));
  }

  std::map<std::string, api::Host> hosts;
  auto resolve = [&](const std::string& name, const std::string& path) -> Status {
    if (hosts.count(name) > 0) return Status::Ok();
    if (auto it = batch.hosts.find(name); it != batch.hosts.end()) {
      hosts[name] = *it->second;
      return Status::Ok();
    }
    StatusOr<api::Object> found = store.Get({api::kKindHost, "", name});
    if (found.ok()) {
      hosts[name] = std::get<api::Host>(*found);
    } else if (found.status().code() == Code::kNotFound) {
      invalid.push_back(ObjectCause(
          key, path, "Host \"" + name + "\" not found; apply the Host first or fix the name"));
    } else {
      return found.status();
    }
    return Status::Ok();
  };
  Status resolved = resolve(deploy.spec.master.host, "spec.master.host");
  for (size_t i = 0; resolved.ok() && i < deploy.spec.workers.size(); ++i) {
    resolved = resolve(deploy.spec.workers[i].host, "spec.workers[" + std::to_string(i) + "].host");
  }
  if (!resolved.ok()) return resolved;
  if (!tmpl || hosts.size() < 1) return Status::Ok();

  StatusOr<render::RenderedDeploy> rendered =
      render::RenderDeploy(deploy, *tmpl, hosts, {.max_script_bytes = max_script_bytes});
  if (!rendered.ok()) {
    const std::vector<Cause>& causes = rendered.status().causes();
    if (causes.empty()) invalid.push_back(ObjectCause(key, "", rendered.status().message()));
    for (const Cause& cause : causes) {
      // Missing Hosts were reported above with a clearer message.
      if (cause.field.find(".host") != std::string::npos) continue;
      invalid.push_back(ObjectCause(key, cause.field, cause.message));
    }
  }
  return Status::Ok();
}

bool SameUserFields(const api::Object& live, const api::Object& desired) {
  const api::ObjectMeta& a = api::MetaOf(live);
  const api::ObjectMeta& b = api::MetaOf(desired);
  return a.labels == b.labels && a.annotations == store::AppliedAnnotations(a, b) &&
         api::SpecEquivalent(live, desired);
}

// Computes what WriteBatch would store, without writing: for a dry run.
ApplyItem PreviewWrite(const api::Object& desired, const std::optional<api::Object>& live) {
  const store::ObjectKey key = store::KeyOf(desired);
  ApplyItem item{key.kind, key.namespace_, key.name, "created", desired};
  api::ObjectMeta& meta = api::MetaOf(item.object);
  if (!live) {
    meta.generation = 1;
    meta.resource_version.clear();
    meta.uid.clear();
    return item;
  }
  if (SameUserFields(*live, desired)) {
    item.action = "unchanged";
    item.object = *live;
    return item;
  }
  item.action = "configured";
  api::Object merged = *live;
  std::visit(
      [&](auto& out) {
        using T = std::decay_t<decltype(out)>;
        out.spec = std::get<T>(desired).spec;
        out.metadata.labels = meta.labels;
        out.metadata.annotations = store::AppliedAnnotations(api::MetaOf(*live), meta);
        if (!api::SpecEquivalent(*live, desired)) out.metadata.generation += 1;
      },
      merged);
  item.object = std::move(merged);
  return item;
}

std::string Join(const std::vector<store::ObjectKey>& keys) {
  std::string out;
  for (const auto& key : keys) out += (out.empty() ? "" : ", ") + key.ToString();
  return out;
}

std::string KeyString(const store::ObjectKey& key) {
  return key.kind + "/" + key.namespace_ + "/" + key.name;
}

}  // namespace

int RoleRank(const std::string& role) {
  if (role == "viewer") return 1;
  if (role == "editor") return 2;
  if (role == "admin") return 3;
  return 0;
}

StatusOr<std::vector<ApplyItem>> ApplyService::Apply(const ApplyRequest& request) {
  std::vector<api::Object> objects = request.objects;
  std::vector<Cause> denied;
  std::vector<Cause> invalid;
  std::set<std::string> seen;
  BatchIndex batch;

  // Defaults, authorization and duplicates, for every object first.
  for (api::Object& object : objects) {
    api::ApplyDefaults(object);
    Authorize(object, request.role, denied);
    const store::ObjectKey key = store::KeyOf(object);
    if (!seen.insert(KeyString(key)).second) {
      invalid.push_back(ObjectCause(key, "", "appears twice in one request; keep one of them"));
    }
  }
  if (!denied.empty()) {
    return Status::PermissionDenied("user " + request.user + " may not write every object",
                                    std::move(denied));
  }
  for (const api::Object& object : objects) {
    if (const auto* host = std::get_if<api::Host>(&object)) batch.hosts[host->metadata.name] = host;
    if (const auto* tmpl = std::get_if<api::ServiceTemplate>(&object)) {
      batch.templates[tmpl->metadata.name] = tmpl;
    }
  }
  if (request.prune && request.apply_set.empty()) {
    invalid.push_back({"applyset", "prune needs an apply set name"});
  }
  if (request.prune && objects.empty()) {
    invalid.push_back({"applyset", "an apply with no objects would prune the whole set " +
                                       request.apply_set +
                                       "; refusing (delete objects explicitly)"});
  }

  // References, rendering and the live objects.
  std::vector<std::optional<api::Object>> live(objects.size());
  std::vector<Cause> conflicts;
  Code conflict_code = Code::kAborted;
  for (size_t i = 0; i < objects.size(); ++i) {
    const store::ObjectKey key = store::KeyOf(objects[i]);
    if (const auto* deploy = std::get_if<api::ServiceDeploy>(&objects[i])) {
      Status checked = CheckDeploy(store_, *deploy, batch, max_script_bytes_, invalid);
      if (!checked.ok()) return checked;
    }
    StatusOr<api::Object> found = store_.Get(key);
    if (found.ok()) {
      live[i] = *found;
    } else if (found.status().code() != Code::kNotFound) {
      return found.status();
    }
    const std::string& rv = api::MetaOf(objects[i]).resource_version;
    if (live[i] && !api::MetaOf(*live[i]).deletion_timestamp.empty()) {
      conflict_code = Code::kFailedPrecondition;
      conflicts.push_back(
          ObjectCause(key, "", "is being deleted; wait until it is gone, then apply"));
    } else if (request.op == store::Write::Op::kCreate && live[i]) {
      conflict_code = Code::kAlreadyExists;
      conflicts.push_back(ObjectCause(key, "", "already exists; use apply or replace it with PUT"));
    } else if (request.op == store::Write::Op::kUpdate && !live[i]) {
      return Status::NotFound(key.ToString() + " not found");
    } else if (live[i] && !rv.empty() && rv != api::MetaOf(*live[i]).resource_version) {
      conflicts.push_back(ObjectCause(
          key, "metadata.resourceVersion",
          "the object has been modified (resourceVersion " + rv + " is stale, the stored one is " +
              api::MetaOf(*live[i]).resource_version + "); read it again and reapply"));
    }
  }
  if (!invalid.empty()) return Status::InvalidArgument("invalid objects", std::move(invalid));
  if (!conflicts.empty()) return Status(conflict_code, "conflicting objects", std::move(conflicts));

  // Objects of the apply set that this request no longer holds.
  std::vector<store::ObjectKey> pruned;
  if (request.prune) {
    StatusOr<std::vector<store::ApplySetMember>> members = store_.ListApplySet(request.apply_set);
    if (!members.ok()) return members.status();
    for (const auto& member : *members) {
      store::ObjectKey key{member.kind, member.namespace_, member.name};
      if (seen.count(KeyString(key)) > 0) continue;
      StatusOr<api::Object> found = store_.Get(key);
      if (!found.ok() && found.status().code() == Code::kNotFound) continue;
      if (!found.ok()) return found.status();
      if (api::MetaOf(*found).uid != member.uid) continue;  // a newer object reused the name
      std::vector<Cause> prune_denied;
      Authorize(*found, request.role, prune_denied);
      if (!prune_denied.empty()) {
        return Status::PermissionDenied("pruning needs more rights", std::move(prune_denied));
      }
      pruned.push_back(key);
    }
    // A pruned Host or template must not be left in use by a deploy that stays.
    for (const auto& key : pruned) {
      if (key.kind == api::kKindServiceDeploy) continue;
      auto users = key.kind == api::kKindHost ? store_.DeploysUsingHost(key.name)
                                              : store_.DeploysUsingTemplate(key.name);
      if (!users.ok()) return users.status();
      std::vector<store::ObjectKey> staying;
      for (const auto& user : *users) {
        bool going = false;
        for (const auto& p : pruned) going = going || p == user;
        if (!going) staying.push_back(user);
      }
      if (!staying.empty()) {
        return Status::FailedPrecondition("cannot prune " + key.ToString() + ": still used by " +
                                          Join(staying));
      }
    }
  }

  std::vector<ApplyItem> items;
  if (request.dry_run) {
    for (size_t i = 0; i < objects.size(); ++i) items.push_back(PreviewWrite(objects[i], live[i]));
    for (const auto& key : pruned) {
      StatusOr<api::Object> found = store_.Get(key);
      if (found.ok()) items.push_back({key.kind, key.namespace_, key.name, "pruned", *found});
    }
    return items;
  }

  std::vector<store::Write> writes;
  for (size_t i = 0; i < objects.size(); ++i) {
    api::Object object = objects[i];
    if (!live[i] && std::holds_alternative<api::ServiceDeploy>(object)) {
      api::MetaOf(object).finalizers = {api::kDeployFinalizer};
    }
    writes.push_back({request.op, std::move(object)});
  }
  for (const auto& key : pruned) {
    api::Object stub;
    if (key.kind == api::kKindServiceTemplate) stub = api::ServiceTemplate{};
    if (key.kind == api::kKindServiceDeploy) stub = api::ServiceDeploy{};
    api::MetaOf(stub).name = key.name;
    api::MetaOf(stub).namespace_ = key.namespace_;
    writes.push_back({store::Write::Op::kDelete, std::move(stub)});
  }
  StatusOr<std::vector<store::WriteResult>> results =
      store_.WriteBatch(writes, {.user = request.user, .apply_set = request.apply_set});
  if (!results.ok()) return results.status();
  for (size_t i = 0; i < results->size(); ++i) {
    const store::ObjectKey key = store::KeyOf((*results)[i].object);
    const bool is_prune = i >= objects.size();
    items.push_back({key.kind, key.namespace_, key.name,
                     is_prune ? "pruned" : store::OutcomeName((*results)[i].outcome),
                     (*results)[i].object});
    if (is_prune) {
      Status removed = store_.RemoveApplySetMember(request.apply_set, pruned[i - objects.size()]);
      if (!removed.ok()) return removed;
    }
  }
  return items;
}

StatusOr<ApplyItem> ApplyService::Delete(const store::ObjectKey& key, const std::string& user,
                                         const std::string& role, bool force, bool dry_run) {
  StatusOr<api::Object> live = store_.Get(key);
  if (!live.ok()) return live.status();
  std::vector<Cause> denied;
  Authorize(*live, role, denied);
  if (!denied.empty())
    return Status::PermissionDenied("user " + user + " may not delete " + key.ToString(),
                                    std::move(denied));
  if (key.kind != api::kKindServiceDeploy) {
    auto users = key.kind == api::kKindHost ? store_.DeploysUsingHost(key.name)
                                            : store_.DeploysUsingTemplate(key.name);
    if (!users.ok()) return users.status();
    if (!users->empty()) {
      return Status::FailedPrecondition(key.ToString() + " is still used by " + Join(*users) +
                                        "; delete those deploys or change them first");
    }
  }
  if (dry_run) {
    const bool waits =
        key.kind == api::kKindServiceDeploy && !force && !api::MetaOf(*live).finalizers.empty();
    return ApplyItem{key.kind, key.namespace_, key.name, waits ? "deleting" : "deleted", *live};
  }
  StatusOr<store::WriteResult> deleted = store_.Delete(key, user);
  if (!deleted.ok()) return deleted.status();
  if (force && deleted->outcome == store::Outcome::kDeleting) {
    std::string running;
    if (const auto* deploy = std::get_if<api::ServiceDeploy>(&*live)) {
      for (const auto& target : deploy->status.targets) {
        if (target.pid) {
          running += (running.empty() ? "" : ", ") + target.name + " on " + target.host + " pid " +
                     std::to_string(*target.pid);
        }
      }
    }
    store::Event event;
    event.object_uid = api::MetaOf(*live).uid;
    event.object_kind = key.kind;
    event.object_namespace = key.namespace_;
    event.object_name = key.name;
    event.type = "Warning";
    event.reason = "ForceDeleted";
    event.message = "deleted by " + user + " without stopping its targets; may still run: " +
                    (running.empty() ? "none recorded" : running);
    StatusOr<store::Event> appended = store_.AppendEvent(event);
    if (!appended.ok()) return appended.status();
    deleted = store_.RemoveFinalizer(key, api::kDeployFinalizer, user);
    if (!deleted.ok()) return deleted.status();
  }
  return ApplyItem{key.kind, key.namespace_, key.name, store::OutcomeName(deleted->outcome),
                   deleted->object};
}

}  // namespace svcd::server
