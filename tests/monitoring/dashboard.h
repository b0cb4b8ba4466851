// Reading the Grafana dashboard in manifests/monitoring/ for the tests: its
// panels' PromQL queries, with Grafana's variables replaced by values that
// Prometheus accepts, so the queries can be parsed by promtool and run
// against a real Prometheus.

#ifndef SVCD_TESTS_MONITORING_DASHBOARD_H_
#define SVCD_TESTS_MONITORING_DASHBOARD_H_

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "api/status.h"

namespace svcd::monitoring {

// Paths set by tests/monitoring/CMakeLists.txt.
inline constexpr char kMonitoringDir[] = SVCD_MONITORING_DIR;
inline constexpr char kPromtoolBinary[] = PROMTOOL_BINARY;
inline constexpr char kPrometheusBinary[] = PROMETHEUS_BINARY;

// One query of one panel.
struct PanelQuery {
  int panel_id = 0;
  std::string panel_title;
  std::string ref_id;
  std::string expr;  // as written in the dashboard, with Grafana variables

  // Formats the query for a failure message: `panel 3 "Title" query A: EXPR`.
  std::string Describe() const;
};

// Reads and parses the dashboard JSON at `path`. Returns NotFound when the
// file cannot be read and InvalidArgument when it is not a JSON object.
StatusOr<nlohmann::json> ReadDashboard(const std::string& path);

// Returns the panels of `dashboard`, including the panels nested in
// collapsed rows, in file order. Entries that are not objects are skipped.
std::vector<nlohmann::json> Panels(const nlohmann::json& dashboard);

// Returns every target of every panel that has an "expr" string.
std::vector<PanelQuery> PanelQueries(const nlohmann::json& dashboard);

// Replaces the Grafana variables in `expr` ($name, ${name} and
// ${name:format}): a template variable with its allValue (".*" when it has
// none), $__rate_interval and $__interval with "1m", $__range with "1h".
// Returns InvalidArgument naming the variable when `expr` uses one that the
// dashboard does not define, or a datasource variable.
StatusOr<std::string> ExpandVariables(const std::string& expr, const nlohmann::json& dashboard);

// The parts of a Grafana `label_values(SELECTOR, LABEL)` variable query.
struct LabelValuesQuery {
  std::string selector;  // empty for `label_values(LABEL)`
  std::string label;
};

// Parses a `label_values(...)` query. Returns InvalidArgument for any other
// shape of query.
StatusOr<LabelValuesQuery> ParseLabelValues(const std::string& query);

}  // namespace svcd::monitoring

#endif  // SVCD_TESTS_MONITORING_DASHBOARD_H_
