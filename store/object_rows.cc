#include "store/object_rows.h"

#include <ctime>
#include <nlohmann/json.hpp>
#include <set>

#include "api/codec.h"

namespace svcd::store {
namespace {

constexpr KindTable kTables[] = {
    {api::kKindHost, "env_host", "host_id", "HOST", false, false, true},
    {api::kKindServiceTemplate, "svc_template", "template_id", "TEMPLATE", false, false, false},
    {api::kKindServiceDeploy, "svc_deploy", "deploy_id", "DEPLOY", true, true, true},
};

std::string Dump(const nlohmann::json& value) { return value.dump(); }

// Returns the JSON text of `key` in `object`, or NULL when it is absent.
SqlValue JsonOrNull(const nlohmann::json& object, const char* key) {
  auto found = object.find(key);
  if (found == object.end() || found->is_null()) return std::monostate();
  return found->dump();
}

std::vector<Column> HostColumns(const api::Host& host) {
  nlohmann::json labels(host.metadata.labels);
  return {{"hostname", host.spec.hostname},
          {"ip_addr", host.spec.address},
          {"ssh_port", static_cast<long long>(host.spec.ssh_port)},
          {"executor", host.spec.executor},
          {"disabled", static_cast<long long>(host.spec.disabled ? 1 : 0)},
          {"labels", Dump(labels)}};
}

std::vector<Column> TemplateColumns(const api::ServiceTemplate& tmpl) {
  nlohmann::json spec = api::EncodeJson(tmpl).value("spec", nlohmann::json::object());
  return {{"scene_type", tmpl.spec.scene_type},
          {"model_backend", tmpl.spec.model_backend},
          {"backend_version", tmpl.spec.backend_version},
          {"fixed_prefix", tmpl.spec.fixed_prefix},
          {"default_envs", JsonOrNull(spec, "defaultEnvs")},
          {"default_master_args", JsonOrNull(spec, "defaultMasterArgs")},
          {"default_worker_args", JsonOrNull(spec, "defaultWorkerArgs")},
          {"probe_template", JsonOrNull(spec, "probe")}};
}

std::vector<Column> DeployColumns(const api::ServiceDeploy& deploy) {
  nlohmann::json spec = api::EncodeJson(deploy).value("spec", nlohmann::json::object());
  nlohmann::json run_cmd = {{"masterArgs", nlohmann::json::array()},
                            {"workerArgs", nlohmann::json::array()}};
  if (spec.contains("master"))
    run_cmd["masterArgs"] = spec["master"].value("args", run_cmd["masterArgs"]);
  for (const nlohmann::json& worker : spec.value("workers", nlohmann::json::array())) {
    run_cmd["workerArgs"].push_back(worker.value("args", nlohmann::json::array()));
  }
  std::string phase = deploy.status.phase.empty() ? "Pending" : deploy.status.phase;
  return {{"template_name", deploy.spec.template_ref},
          {"model_name", deploy.spec.model_name},
          {"envs_req", JsonOrNull(spec, "envs")},
          {"run_cmd_req", Dump(run_cmd)},
          {"worker_count", static_cast<long long>(deploy.spec.workers.size())},
          {"phase", phase}};
}

}  // namespace

StatusOr<const KindTable*> TableOf(const std::string& kind) {
  for (const KindTable& table : kTables) {
    if (kind == table.kind) return &table;
  }
  return Status::InvalidArgument("unknown kind \"" + kind +
                                 "\"; use Host, ServiceTemplate or ServiceDeploy");
}

Documents EncodeDocuments(const api::Object& object, bool include_status) {
  nlohmann::json document = api::EncodeJson(object);
  nlohmann::json status = nlohmann::json::object();
  if (auto found = document.find("status"); found != document.end()) {
    if (include_status && found->is_object()) status = *found;
    document.erase(found);
  }
  return {document.dump(), status.dump()};
}

StatusOr<api::Object> DecodeDocuments(const std::string& object_doc,
                                      const std::string& status_doc) {
  try {
    nlohmann::json document = nlohmann::json::parse(object_doc);
    nlohmann::json status = nlohmann::json::parse(status_doc);
    if (status.is_object() && !status.empty()) document["status"] = status;
    StatusOr<std::vector<api::Object>> objects =
        api::DecodeObjects(document.dump(), api::Format::kJson);
    if (!objects.ok()) {
      return Status::Internal("stored document cannot be decoded: " + objects.status().ToString());
    }
    if (objects->size() != 1) return Status::Internal("stored document holds several objects");
    return std::move(objects->front());
  } catch (const nlohmann::json::exception& error) {
    return Status::Internal(std::string("stored document is not valid JSON: ") + error.what());
  }
}

std::vector<Column> ProjectionColumns(const api::Object& object) {
  if (const auto* host = std::get_if<api::Host>(&object)) return HostColumns(*host);
  if (const auto* tmpl = std::get_if<api::ServiceTemplate>(&object)) return TemplateColumns(*tmpl);
  return DeployColumns(std::get<api::ServiceDeploy>(object));
}

std::vector<std::string> ChangedFields(const api::Object& before, const api::Object& after) {
  nlohmann::json old_doc = api::EncodeJson(before);
  nlohmann::json new_doc = api::EncodeJson(after);
  std::vector<std::string> changed;
  for (const char* field : {"labels", "annotations", "finalizers", "deletionTimestamp"}) {
    if (old_doc["metadata"].value(field, nlohmann::json()) !=
        new_doc["metadata"].value(field, nlohmann::json())) {
      changed.push_back(std::string("metadata.") + field);
    }
  }
  nlohmann::json old_spec = old_doc.value("spec", nlohmann::json::object());
  nlohmann::json new_spec = new_doc.value("spec", nlohmann::json::object());
  std::set<std::string> keys;
  for (const auto& [key, value] : old_spec.items()) keys.insert(key);
  for (const auto& [key, value] : new_spec.items()) keys.insert(key);
  for (const std::string& key : keys) {
    if (old_spec.value(key, nlohmann::json()) != new_spec.value(key, nlohmann::json())) {
      changed.push_back("spec." + key);
    }
  }
  return changed;
}

std::string FormatRfc3339(int64_t epoch_ms) {
  std::time_t seconds = static_cast<std::time_t>(epoch_ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buffer;
}

}  // namespace svcd::store
