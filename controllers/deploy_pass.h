// The state of one reconcile of one deploy, shared by the files that
// implement DeployController's steps.

#ifndef SVCD_CONTROLLERS_DEPLOY_PASS_H_
#define SVCD_CONTROLLERS_DEPLOY_PASS_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "controllers/deploy_controller.h"
#include "controllers/deploy_status.h"
#include "render/render.h"

namespace svcd::controllers {

// The state of one reconcile of one deploy.
struct DeployController::Pass {
  std::string key;
  api::ServiceDeploy deploy;
  std::optional<api::ServiceTemplate> tmpl;
  std::map<std::string, api::Host> hosts;
  std::optional<render::RenderedDeploy> rendered;
  std::string render_error;
  std::vector<store::TargetRecord> targets;
  std::map<std::string, Observed> observed;  // by target name
  std::map<std::string, int64_t> next_retry_ms;
  int64_t now_ms = 0;
  int64_t wake_ms = 0;  // requeue after this many ms; 0: steady recheck
  bool stalled = false;
  std::string stalled_reason;
  std::string stalled_message;
  bool up_to_date = true;
  std::string up_to_date_reason;

  void WakeIn(int64_t ms) {
    ms = std::max<int64_t>(ms, 200);
    if (wake_ms == 0 || ms < wake_ms) wake_ms = ms;
  }
};

std::string ProbeKey(const std::string& deploy_key, const std::string& target);

// Returns the export lines of a rendered script: what a target row records
// as its env.
std::string ExportLines(const std::string& script);

// Returns one target plan per node of `rendered`, for generation `generation`.
std::vector<store::TargetPlan> PlansOf(const render::RenderedDeploy& rendered, int64_t generation);

// Returns the lowercase hex SHA-256 of a launcher's report secret.
StatusOr<std::string> SecretHash(const std::string& secret);

}  // namespace svcd::controllers

#endif  // SVCD_CONTROLLERS_DEPLOY_PASS_H_
