// The reconcile steps of DeployController.

#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>

#include "api/codec.h"
#include "api/defaults.h"
#include "controllers/deploy_controller.h"
#include "controllers/deploy_pass.h"
#include "render/render.h"

namespace svcd::controllers {
namespace {

using reconciler::Result;

}  // namespace

// The export lines of a script: what svcd records as the target's env.
std::string ExportLines(const std::string& script) {
  std::string out;
  size_t start = 0;
  while (start < script.size()) {
    size_t end = script.find('\n', start);
    if (end == std::string::npos) end = script.size();
    if (script.compare(start, 7, "export ") == 0) out += script.substr(start, end - start + 1);
    start = end + 1;
  }
  return out;
}

std::vector<store::TargetPlan> PlansOf(const render::RenderedDeploy& rendered, int64_t generation) {
  std::vector<const render::NodeScript*> nodes = {&rendered.master};
  for (const auto& worker : rendered.workers) nodes.push_back(&worker);
  std::vector<store::TargetPlan> plans;
  for (const render::NodeScript* node : nodes) {
    plans.push_back({node->name, node->role, node->rank, node->host, generation, node->hash,
                     ExportLines(node->script), node->script});
  }
  return plans;
}

Result DeployController::Reconcile(const std::string& key, const reconciler::Context& ctx) {
  Pass pass;
  pass.key = key;
  pass.now_ms = NowMs();
  const size_t slash = key.find('/');
  StatusOr<api::Object> object =
      store_.Get({api::kKindServiceDeploy, key.substr(0, slash), key.substr(slash + 1)});
  if (!object.ok() && object.status().code() == Code::kNotFound) {
    // Gone: forget its probes and series.
    ForgetMetrics(key);
    std::lock_guard lock(mu_);
    for (auto it = probe_keys_.begin(); it != probe_keys_.end();) {
      if (it->second == key) {
        probes_->Unregister(it->first);
        it = probe_keys_.erase(it);
      } else {
        ++it;
      }
    }
    return Result::Done();
  }
  if (!object.ok()) return object.status();
  pass.deploy = std::get<api::ServiceDeploy>(*object);
  api::Object defaulted = pass.deploy;
  api::ApplyDefaults(defaulted);
  pass.deploy.spec = std::get<api::ServiceDeploy>(defaulted).spec;
  {
    std::lock_guard lock(mu_);
    key_by_uid_[pass.deploy.metadata.uid] = key;
    GenerationSeen& seen = generations_[key];
    if (seen.generation != pass.deploy.metadata.generation) {
      seen = {pass.deploy.metadata.generation, pass.now_ms, false};
    }
  }
  Result result = ReconcileDeploy(pass);
  if (!result.ok()) {
    spdlog::warn("deploy={} reconcile failed: {}", key, result.status().message());
  }
  return result;
}

// Resolves the template and Hosts and renders every node.
void DeployController::Resolve(Pass& pass) {
  store::Store& store = store_;
  const size_t max_script_bytes = options_.max_script_bytes;
  const api::ServiceDeploySpec& spec = pass.deploy.spec;
  StatusOr<api::Object> tmpl = store.Get({api::kKindServiceTemplate, "", spec.template_ref});
  if (!tmpl.ok()) {
    pass.render_error = "ServiceTemplate " + spec.template_ref + ": " + tmpl.status().message();
    return;
  }
  pass.tmpl = std::get<api::ServiceTemplate>(*tmpl);
  std::vector<std::string> names = {spec.master.host};
  for (const auto& worker : spec.workers) names.push_back(worker.host);
  for (const std::string& name : names) {
    if (pass.hosts.count(name) > 0) continue;
    StatusOr<api::Object> host = store.Get({api::kKindHost, "", name});
    if (!host.ok()) {
      pass.render_error = "Host " + name + ": " + host.status().message();
      return;
    }
    pass.hosts[name] = std::get<api::Host>(*host);
  }
  StatusOr<render::RenderedDeploy> rendered = render::RenderDeploy(
      pass.deploy, *pass.tmpl, pass.hosts, {.max_script_bytes = max_script_bytes});
  if (!rendered.ok()) {
    pass.render_error = rendered.status().ToString();
    return;
  }
  pass.rendered = std::move(*rendered);
}

Result DeployController::ReconcileDeploy(Pass& pass) {
  const api::ServiceDeploy& deploy = pass.deploy;
  const std::string& uid = deploy.metadata.uid;
  const bool deleting = !deploy.metadata.deletion_timestamp.empty();

  // Desired state: template, Hosts and the rendered script of every node.
  Resolve(pass);
  StatusOr<std::vector<store::TargetRecord>> targets = runtime_.ListTargets(uid);
  if (!targets.ok()) return targets.status();
  pass.targets = std::move(*targets);

  // New targets and a new generation: record the rendered scripts of targets
  // that run nothing, keep the scripts of running ones until they are replaced.
  if (pass.rendered && !deleting) {
    // A generation that a rollout restart started replaces every running
    // target, also one whose script is unchanged.
    auto restart = deploy.metadata.annotations.find(store::kRestartGenerationAnnotation);
    const bool restarting = restart != deploy.metadata.annotations.end() &&
                            restart->second == std::to_string(deploy.metadata.generation);
    std::vector<store::TargetPlan> plans = PlansOf(*pass.rendered, deploy.metadata.generation);
    for (store::TargetPlan& plan : plans) {
      for (const store::TargetRecord& record : pass.targets) {
        if (record.name != plan.name) continue;
        const bool running =
            record.state == "DISPATCHING" || record.state == "RUNNING" || record.state == "READY";
        // A generation keeps the scripts rendered when it was first seen, so
        // a later template or Host edit restarts nothing. A running target
        // of an older generation keeps its script until it is replaced.
        const bool same_generation = record.generation == deploy.metadata.generation;
        const bool replaced = restarting || record.command_hash != plan.command_hash;
        if (same_generation || (running && replaced)) {
          plan.host = record.host;
          plan.generation = record.generation;
          plan.command_hash = record.command_hash;
          plan.cmd_rendered = record.cmd_rendered;
          plan.env_rendered = ExportLines(record.cmd_rendered);
        }
      }
    }
    const bool changed = plans.size() != pass.targets.size() ||
                         std::any_of(plans.begin(), plans.end(), [&](const auto& plan) {
                           for (const auto& record : pass.targets) {
                             if (record.name == plan.name) {
                               return record.generation != plan.generation ||
                                      record.command_hash != plan.command_hash;
                             }
                           }
                           return true;
                         });
    // A target that failed or timed out in an older generation starts again
    // in the new one, with its own retry budget.
    std::vector<const store::TargetRecord*> ended;
    for (const store::TargetRecord& record : pass.targets) {
      if (record.generation != deploy.metadata.generation &&
          (record.state == "FAILED" || record.state == "TIMEOUT")) {
        ended.push_back(&record);
      }
    }
    if (changed) {
      Status synced = runtime_.SyncTargets(uid, plans, "svcd");
      if (!synced.ok()) return synced;
      for (const store::TargetRecord* record : ended) {
        runtime_.UpdateTarget(
            uid, record->name, record->lease_version,
            {.state = "PENDING",
             .message = "generation " + std::to_string(deploy.metadata.generation)},
            "svcd");
      }
      targets = runtime_.ListTargets(uid);
      if (!targets.ok()) return targets.status();
      pass.targets = std::move(*targets);
    }
  }

  Status observed = Observe(pass);
  if (!observed.ok()) return observed;

  if (deleting) return ReconcileDeletion(pass);
  if (!pass.rendered) {
    pass.stalled = true;
    pass.stalled_reason = "InvalidSpec";
    pass.stalled_message = pass.render_error;
    Status written = WriteStatus(pass);
    if (!written.ok()) return written;
    return Result::RequeueAfter(std::chrono::seconds(30));
  }
  if (deploy.spec.suspend) {
    std::vector<const store::TargetRecord*> running;
    for (const store::TargetRecord& target : pass.targets) {
      if (pass.observed[target.name].dispatched) running.push_back(&target);
    }
    if (!running.empty()) {
      Status stopped = StopTargets(pass, running, "the deploy is suspended");
      if (!stopped.ok()) return stopped;
    }
    Status refreshed = Refresh(pass);
    if (!refreshed.ok()) return refreshed;
    Status written = WriteStatus(pass);
    if (!written.ok()) return written;
    return Result::RequeueAfter(options_.steady_recheck);
  }

  Status acted = ActOnFailures(pass);
  if (!acted.ok()) return acted;
  if (!pass.stalled) {
    acted = ReplaceOutdated(pass);
    if (!acted.ok()) return acted;
    acted = StartPending(pass);
    if (!acted.ok()) return acted;
  }
  Status refreshed = Refresh(pass);
  if (!refreshed.ok()) return refreshed;
  SyncProbes(pass);
  Status written = WriteStatus(pass);
  if (!written.ok()) return written;
  if (pass.wake_ms > 0) return Result::RequeueAfter(std::chrono::milliseconds(pass.wake_ms));
  return Result::RequeueAfter(options_.steady_recheck);
}

}  // namespace svcd::controllers
