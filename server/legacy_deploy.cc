#include "server/legacy_deploy.h"

#include <cctype>

#include "api/decoder.h"
#include "api/document.h"

namespace svcd::server {

// The request as sent; visited by the codec's Decoder so that the same
// field rules (env and arg names, lengths, NUL) apply as in manifests.
struct LegacyRunCommand {
  std::vector<api::Arg> master_args;
  std::vector<std::vector<api::Arg>> worker_args;
  // Storage for the generated "workerArgsN" names, which the decoder keeps
  // as string_views while it runs.
  std::vector<std::string> worker_keys;
};

struct LegacyDeployRequest {
  std::string name;
  std::string namespace_;
  std::string template_name;
  std::string model_name;
  std::string master_host;
  std::vector<std::string> worker_hosts;
  std::vector<api::EnvVar> envs;
  LegacyRunCommand runcommand;
};

template <class V>
void VisitFields(V& v, LegacyRunCommand& r, size_t worker_count) {
  v.List("masterArgs", r.master_args, {.max_items = api::kMaxListItems});
  r.worker_args.assign(worker_count, {});
  r.worker_keys.clear();
  for (size_t i = 0; i < worker_count; ++i) r.worker_keys.push_back("workerArgs" + std::to_string(i));
  for (size_t i = 0; i < worker_count; ++i) {
    v.List(r.worker_keys[i], r.worker_args[i], {.max_items = api::kMaxListItems});
  }
  v.Check([&r](api::Reporter& reporter) {
    api::CheckUniqueArgNames(reporter, "masterArgs", r.master_args);
    for (size_t i = 0; i < r.worker_args.size(); ++i) {
      api::CheckUniqueArgNames(reporter, r.worker_keys[i], r.worker_args[i]);
    }
  });
}

template <class V>
void VisitFields(V& v, LegacyDeployRequest& r) {
  const api::Rules name_rules = {.what = "name",
                                 .max_length = api::kMaxNameLength,
                                 .pattern = api::kDns1123LabelPattern};
  v.String("name", r.name, name_rules);
  api::Rules ns_rules = name_rules;
  ns_rules.what = "namespace";
  v.String("namespace", r.namespace_, ns_rules);
  api::Rules template_rules = name_rules;
  template_rules.required = true;
  template_rules.what = "template name";
  v.String("templateName", r.template_name, template_rules);
  v.String("modelName", r.model_name, {.required = true, .max_length = api::kMaxTextLength});
  api::Rules host_rules = name_rules;
  host_rules.required = true;
  host_rules.what = "host name";
  v.String("masterHost", r.master_host, host_rules);
  v.StringList("workerHosts", r.worker_hosts,
               {.what = "host name",
                .max_length = api::kMaxNameLength,
                .max_items = api::kMaxWorkers,
                .pattern = api::kDns1123LabelPattern});
  v.List("envs", r.envs, {.max_items = api::kMaxListItems});
  v.Object("runcommand", r.runcommand, {}, r.worker_hosts.size());
  v.Check([&r](api::Reporter& reporter) { api::CheckUniqueEnvNames(reporter, "envs", r.envs); });
}

namespace {

// Lower-cases the model name and turns every run of other characters into
// one '-', so "Qwen2.5-7B/Instruct" becomes "qwen2-5-7b-instruct".
std::string NameFromModel(const std::string& model) {
  std::string out;
  for (unsigned char c : model) {
    if (std::isalnum(c)) {
      out += static_cast<char>(std::tolower(c));
    } else if (!out.empty() && out.back() != '-') {
      out += '-';
    }
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  if (out.size() > 56) out.resize(56);
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out.empty() ? "deploy" : out;
}

}  // namespace

StatusOr<api::ServiceDeploy> ConvertLegacyDeploy(std::string_view body,
                                                 const std::function<std::string()>& make_suffix) {
  StatusOr<std::vector<api::Document>> documents = api::ParseJson(body);
  if (!documents.ok()) return documents.status();
  if (documents->size() != 1 || documents->front().root.type != api::Node::Type::kMap) {
    return Status::InvalidArgument("the request body must be one JSON object");
  }
  std::vector<Cause> causes = documents->front().causes;
  LegacyDeployRequest request;
  api::Decoder decoder(documents->front().root, "", causes);
  VisitFields(decoder, request);
  decoder.Finish();
  if (!causes.empty()) {
    return Status::InvalidArgument("invalid deploy request", std::move(causes));
  }

  api::ServiceDeploy deploy;
  deploy.metadata.name = request.name.empty()
                             ? NameFromModel(request.model_name) + "-" + make_suffix()
                             : request.name;
  deploy.metadata.namespace_ = request.namespace_;
  deploy.spec.template_ref = request.template_name;
  deploy.spec.model_name = request.model_name;
  deploy.spec.envs = request.envs;
  deploy.spec.master.host = request.master_host;
  deploy.spec.master.args = request.runcommand.master_args;
  for (size_t i = 0; i < request.worker_hosts.size(); ++i) {
    api::NodeSpec worker;
    worker.host = request.worker_hosts[i];
    worker.args = request.runcommand.worker_args[i];
    deploy.spec.workers.push_back(std::move(worker));
  }
  return deploy;
}

std::string LegacyStatusOf(const api::ServiceDeploy& deploy) {
  if (!deploy.metadata.deletion_timestamp.empty()) return "CANCELLED";
  const std::string& phase = deploy.status.phase;
  if (phase == "Ready" || phase == "Degraded") return "RUNNING";
  if (phase == "Progressing") return "DISPATCHING";
  if (phase == "Failed") return "FAILED";
  return "PENDING";
}

}  // namespace svcd::server
