#include "tests/monitoring/prometheus_server.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/e2e/e2e_fixture.h"
#include "tests/e2e/svcd_server.h"
#include "tests/monitoring/dashboard.h"

namespace svcd::monitoring {

PrometheusServer::~PrometheusServer() { Stop(); }

std::string PrometheusServer::WriteConfig() const {
  nlohmann::json job = nlohmann::json::object();
  job["job_name"] = "svcd";
  job["metrics_path"] = options_.metrics_path;
  job["scrape_timeout"] = "1s";
  job["static_configs"] = nlohmann::json::array();
  job["static_configs"].push_back({{"targets", {options_.scrape_target}}});

  nlohmann::json config = nlohmann::json::object();
  config["global"] = {{"scrape_interval", "1s"}, {"evaluation_interval", "1s"}};
  config["rule_files"] = options_.rule_files;
  config["scrape_configs"] = nlohmann::json::array({job});

  // JSON is YAML, so Prometheus reads the dumped JSON as its config.
  const std::string path = options_.work_dir + "/prometheus.yml";
  std::ofstream(path, std::ios::trunc) << config.dump(2) << "\n";
  return path;
}

Status PrometheusServer::Start(const PrometheusOptions& options,
                               std::chrono::milliseconds timeout) {
  if (!std::filesystem::exists(kPrometheusBinary)) {
    return Status::FailedPrecondition(std::string(kPrometheusBinary) +
                                      " is missing; install Debian's prometheus package "
                                      "(scripts/install-deps.sh does)");
  }
  options_ = options;
  const std::string config = WriteConfig();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (int attempt = 0; attempt < 3; ++attempt) {
    const uint16_t port = e2e::PickFreePort();
    base_url_ = "http://127.0.0.1:" + std::to_string(port);
    const std::vector<std::string> argv = {kPrometheusBinary, "--config.file=" + config,
                                           "--storage.tsdb.path=" + options_.work_dir + "/tsdb",
                                           "--web.listen-address=127.0.0.1:" + std::to_string(port),
                                           "--log.level=warn"};
    if (!process_.Start(argv, {"PATH=/usr/bin:/bin"}, options_.work_dir + "/prometheus.log")) {
      return Status::Unavailable("cannot start " + std::string(kPrometheusBinary));
    }
    started_ = true;
    while (std::chrono::steady_clock::now() < deadline && process_.Running()) {
      if (e2e::RawGetStatus(port, "/-/ready", std::chrono::seconds(2)) == 200) return Status::Ok();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (process_.Running()) {
      Stop();
      return Status::Unavailable("Prometheus did not answer /-/ready within " +
                                 std::to_string(timeout.count()) + " ms; log:\n" + Log());
    }
    // Another process may have bound the picked port first; only then retry.
    if (Log().find("address already in use") == std::string::npos) break;
  }
  return Status::Unavailable("Prometheus exited with status " +
                             std::to_string(process_.exit_code()) + "; log:\n" + Log());
}

int PrometheusServer::Stop() {
  if (!started_) return -1;
  started_ = false;
  return process_.Stop();
}

StatusOr<nlohmann::json> PrometheusServer::GetData(const std::string& path_and_query) const {
  const e2e::HttpReply reply = e2e::SendRequest("GET", base_url_ + path_and_query, "");
  const nlohmann::json body = reply.Json();
  if (!body.is_object()) {
    return Status::Unavailable("GET " + path_and_query + ": no JSON reply; " + reply.Describe());
  }
  if (body.value("status", "") != "success") {
    return Status::InvalidArgument("GET " + path_and_query + ": " + body.value("errorType", "") +
                                   ": " + body.value("error", ""));
  }
  return body.value("data", nlohmann::json());
}

StatusOr<nlohmann::json> PrometheusServer::Query(const std::string& promql) const {
  StatusOr<nlohmann::json> data = GetData("/api/v1/query?query=" + e2e::UrlEncode(promql));
  if (!data.ok()) return data.status();
  if (!data->contains("result")) {
    return Status::Unavailable("query " + promql + ": the reply has no data.result");
  }
  return (*data)["result"];
}

std::string PrometheusServer::Log() const {
  std::ifstream in(options_.work_dir + "/prometheus.log", std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace svcd::monitoring
