// A real Prometheus server for the end-to-end tests: /usr/bin/prometheus
// started as a child process on a free loopback port, with a generated
// config that scrapes one target every second, and queried over its HTTP
// API with curl.

#ifndef SVCD_TESTS_MONITORING_PROMETHEUS_SERVER_H_
#define SVCD_TESTS_MONITORING_PROMETHEUS_SERVER_H_

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "api/status.h"
#include "tests/e2e/process.h"

namespace svcd::monitoring {

struct PrometheusOptions {
  std::string work_dir;       // contains the config, the TSDB and the log; must exist
  std::string scrape_target;  // HOST:PORT scraped as job "svcd"
  std::string metrics_path = "/metrics";
  std::vector<std::string> rule_files;  // absolute paths
};

class PrometheusServer {
 public:
  PrometheusServer() = default;
  // Stops a running server.
  ~PrometheusServer();
  PrometheusServer(const PrometheusServer&) = delete;
  PrometheusServer& operator=(const PrometheusServer&) = delete;

  // Writes the config, starts Prometheus and waits up to `timeout` until
  // GET /-/ready returns 200. Retries with another port when the picked one
  // was taken meanwhile. Returns FailedPrecondition when the binary is
  // missing, Unavailable with Prometheus's log when it does not come up.
  Status Start(const PrometheusOptions& options,
               std::chrono::milliseconds timeout = std::chrono::seconds(60));

  // Sends SIGTERM, waits, then SIGKILL; returns the exit code, or -1 when
  // not started. Safe to call twice.
  int Stop();

  // Runs an instant query through GET /api/v1/query. Returns data.result,
  // or InvalidArgument with Prometheus's error for a query it rejects and
  // Unavailable when no valid reply came back.
  StatusOr<nlohmann::json> Query(const std::string& promql) const;

  // Sends GET `path_and_query` (starting with '/') and returns the "data"
  // member of a reply whose status is "success".
  StatusOr<nlohmann::json> GetData(const std::string& path_and_query) const;

  const std::string& base_url() const { return base_url_; }
  // Returns Prometheus's stdout and stderr so far.
  std::string Log() const;

 private:
  std::string WriteConfig() const;

  e2e::BackgroundProcess process_;
  PrometheusOptions options_;
  std::string base_url_;
  bool started_ = false;
};

}  // namespace svcd::monitoring

#endif  // SVCD_TESTS_MONITORING_PROMETHEUS_SERVER_H_
