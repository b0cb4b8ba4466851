// Structure tests of manifests/monitoring/svcd-dashboard.json: the fields
// Grafana needs on every panel, a layout without overlaps, a data source
// chosen through the ${datasource} variable, and PromQL that promtool parses.

#include "tests/monitoring/dashboard.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include "tests/e2e/process.h"

namespace svcd::monitoring {
namespace {

using svcd::e2e::CommandResult;
using svcd::e2e::RunCommand;

constexpr int kGridColumns = 24;

class DashboardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StatusOr<nlohmann::json> read =
        ReadDashboard(std::string(kMonitoringDir) + "/svcd-dashboard.json");
    ASSERT_TRUE(read.ok()) << read.status().ToString();
    dashboard_ = *read;
    panels_ = Panels(dashboard_);
    ASSERT_FALSE(panels_.empty()) << "the dashboard has no panels";
  }

  // Names a panel in failure messages.
  static std::string Name(const nlohmann::json& panel) {
    return "panel " + panel.value("/id"_json_pointer, nlohmann::json("?")).dump() + " \"" +
           panel.value("title", "") + "\"";
  }

  nlohmann::json dashboard_;
  std::vector<nlohmann::json> panels_;
};

bool IsDatasourceVariableRef(const nlohmann::json& datasource) {
  return datasource.is_object() && datasource.value("type", "") == "prometheus" &&
         datasource.value("uid", "") == "${datasource}";
}

TEST_F(DashboardTest, HasTitleUidAndSchemaVersion) {
  EXPECT_FALSE(dashboard_.value("title", "").empty()) << "title is missing";
  EXPECT_FALSE(dashboard_.value("uid", "").empty()) << "uid is missing";
  ASSERT_TRUE(dashboard_.value("schemaVersion", nlohmann::json()).is_number_integer())
      << "schemaVersion must be an integer";
  // Schema 36 (Grafana 9.0) made data sources {type, uid} objects, as this dashboard writes them.
  EXPECT_GE(dashboard_["schemaVersion"].get<int>(), 36);
}

TEST_F(DashboardTest, DeclaresPrometheusDatasourceVariable) {
  const nlohmann::json list = dashboard_.value("/templating/list"_json_pointer, nlohmann::json());
  ASSERT_TRUE(list.is_array()) << "templating.list is missing";
  int found = 0;
  for (const nlohmann::json& variable : list) {
    if (variable.value("name", "") != "datasource") continue;
    ++found;
    EXPECT_EQ(variable.value("type", ""), "datasource");
    EXPECT_EQ(variable.value("query", ""), "prometheus")
        << "the datasource variable must list Prometheus data sources";
  }
  EXPECT_EQ(found, 1) << "expected one templating variable named datasource";
}

TEST_F(DashboardTest, EveryPanelHasRequiredFields) {
  for (const nlohmann::json& panel : panels_) {
    SCOPED_TRACE(Name(panel));
    EXPECT_TRUE(panel.value("id", nlohmann::json()).is_number_integer()) << "id must be an integer";
    EXPECT_FALSE(panel.value("type", "").empty()) << "type is missing";
    EXPECT_FALSE(panel.value("title", "").empty()) << "title is missing";
    ASSERT_TRUE(panel.value("gridPos", nlohmann::json()).is_object()) << "gridPos is missing";
    for (const char* field : {"x", "y", "w", "h"}) {
      EXPECT_TRUE(panel["gridPos"].value(field, nlohmann::json()).is_number_integer())
          << "gridPos." << field << " must be an integer";
    }
    EXPECT_TRUE(IsDatasourceVariableRef(panel.value("datasource", nlohmann::json())))
        << "datasource must be {\"type\": \"prometheus\", \"uid\": \"${datasource}\"}";
    EXPECT_TRUE(panel.contains("/fieldConfig/defaults/unit"_json_pointer))
        << "fieldConfig.defaults.unit is missing";

    ASSERT_TRUE(panel.value("targets", nlohmann::json()).is_array()) << "targets is missing";
    EXPECT_FALSE(panel["targets"].empty()) << "targets is empty";
    std::set<std::string> ref_ids;
    for (const nlohmann::json& target : panel["targets"]) {
      EXPECT_FALSE(target.value("expr", "").empty()) << "a target has no expr";
      EXPECT_TRUE(target.value("legendFormat", nlohmann::json()).is_string())
          << "target " << target.value("refId", "?") << " has no legendFormat";
      EXPECT_TRUE(IsDatasourceVariableRef(target.value("datasource", nlohmann::json())))
          << "target " << target.value("refId", "?") << " does not use ${datasource}";
      const std::string ref_id = target.value("refId", "");
      EXPECT_FALSE(ref_id.empty()) << "a target has no refId";
      EXPECT_TRUE(ref_ids.insert(ref_id).second) << "refId " << ref_id << " repeats";
    }
  }
}

TEST_F(DashboardTest, PanelIdsAreUnique) {
  std::map<int, std::string> seen;
  for (const nlohmann::json& panel : panels_) {
    if (!panel.contains("id") || !panel["id"].is_number_integer()) continue;
    const int id = panel["id"].get<int>();
    const auto [it, inserted] = seen.emplace(id, panel.value("title", ""));
    EXPECT_TRUE(inserted) << "id " << id << " is used by \"" << it->second << "\" and \""
                          << panel.value("title", "") << "\"";
  }
}

TEST_F(DashboardTest, PanelsFitGridWithoutOverlap) {
  struct Box {
    std::string name;
    int x, y, w, h;
  };
  std::vector<Box> boxes;
  for (const nlohmann::json& panel : panels_) {
    const nlohmann::json grid = panel.value("gridPos", nlohmann::json::object());
    Box box{Name(panel), grid.value("x", -1), grid.value("y", -1), grid.value("w", 0),
            grid.value("h", 0)};
    EXPECT_GE(box.x, 0) << box.name;
    EXPECT_GE(box.y, 0) << box.name;
    EXPECT_GT(box.w, 0) << box.name;
    EXPECT_GT(box.h, 0) << box.name;
    EXPECT_LE(box.x + box.w, kGridColumns) << box.name << " extends past column 24";
    boxes.push_back(box);
  }
  for (size_t i = 0; i < boxes.size(); ++i) {
    for (size_t j = i + 1; j < boxes.size(); ++j) {
      const Box& a = boxes[i];
      const Box& b = boxes[j];
      const bool overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
      EXPECT_FALSE(overlap) << a.name << " overlaps " << b.name;
    }
  }
}

TEST_F(DashboardTest, EveryVariableInQueriesIsDefined) {
  for (const PanelQuery& query : PanelQueries(dashboard_)) {
    StatusOr<std::string> expanded = ExpandVariables(query.expr, dashboard_);
    EXPECT_TRUE(expanded.ok()) << query.Describe() << "\n" << expanded.status().ToString();
  }
}

// Writes every expanded query as a recording rule, one group per query so
// promtool's error names the panel, and runs `promtool check rules`.
TEST_F(DashboardTest, EveryQueryParsesWithPromtool) {
  ASSERT_TRUE(std::filesystem::exists(kPromtoolBinary))
      << kPromtoolBinary << " is missing; install Debian's prometheus package "
      << "(scripts/install-deps.sh does)";
  const std::vector<PanelQuery> queries = PanelQueries(dashboard_);
  ASSERT_FALSE(queries.empty());

  nlohmann::json groups = nlohmann::json::array();
  for (const PanelQuery& query : queries) {
    StatusOr<std::string> expanded = ExpandVariables(query.expr, dashboard_);
    ASSERT_TRUE(expanded.ok()) << query.Describe() << "\n" << expanded.status().ToString();
    const std::string record =
        "dashboard:panel" + std::to_string(query.panel_id) + "_" + query.ref_id;
    groups.push_back(
        {{"name", query.Describe()},
         {"rules", nlohmann::json::array({{{"record", record}, {"expr", *expanded}}})}});
  }
  // JSON is YAML, so promtool reads this file as a rules file.
  const std::filesystem::path path = std::filesystem::temp_directory_path() /
                                     ("svcd-dashboard-rules-" + std::to_string(getpid()) + ".yml");
  std::ofstream(path) << nlohmann::json({{"groups", groups}}).dump(2);

  const CommandResult result =
      RunCommand({kPromtoolBinary, "check", "rules", path.string()}, {"PATH=/usr/bin:/bin"});
  std::filesystem::remove(path);
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_NE(result.out.find("SUCCESS: " + std::to_string(queries.size()) + " rules found"),
            std::string::npos)
      << result.out << result.err;
}

// The dashboard charts the families a svcd operator watches; a family
// dropped by an edit fails here, before anyone opens Grafana.
TEST_F(DashboardTest, ChartsEveryMetricFamily) {
  std::string all_queries;
  for (const PanelQuery& query : PanelQueries(dashboard_)) all_queries += query.expr + "\n";
  for (const char* family : {"svcd_deploys",
                             "svcd_targets",
                             "svcd_deploy_ready_duration_seconds_bucket",
                             "svcd_target_restarts_total",
                             "svcd_probe_success",
                             "svcd_probe_duration_seconds_bucket",
                             "svcd_dispatch_total",
                             "svcd_reconcile_total",
                             "svcd_reconcile_errors_total",
                             "svcd_reconcile_timeouts_total",
                             "svcd_reconcile_duration_seconds_bucket",
                             "svcd_active_workers",
                             "svcd_workqueue_depth",
                             "svcd_workqueue_adds_total",
                             "svcd_workqueue_retries_total",
                             "svcd_workqueue_queue_duration_seconds_bucket",
                             "svcd_workqueue_work_duration_seconds_bucket",
                             "svcd_api_requests_total",
                             "svcd_api_request_duration_seconds_bucket",
                             "svcd_build_info"}) {
    EXPECT_NE(all_queries.find(family), std::string::npos) << "no panel queries " << family;
  }
}

TEST(DashboardVariablesTest, ExpandsBuiltinsAndAllValues) {
  const nlohmann::json dashboard = nlohmann::json::parse(R"({"templating": {"list": [
      {"name": "namespace", "type": "query", "allValue": ".*"},
      {"name": "deploy", "type": "custom"}]}})");
  StatusOr<std::string> expanded = ExpandVariables(
      "rate(x{namespace=~\"$namespace\", deploy=~\"${deploy:regex}\"}[$__rate_interval])",
      dashboard);
  ASSERT_TRUE(expanded.ok()) << expanded.status().ToString();
  EXPECT_EQ(*expanded, "rate(x{namespace=~\".*\", deploy=~\".*\"}[1m])");
}

TEST(DashboardVariablesTest, KeepsRegexAnchor) {
  StatusOr<std::string> expanded = ExpandVariables("x{a=~\"^b$\"}", nlohmann::json::object());
  ASSERT_TRUE(expanded.ok()) << expanded.status().ToString();
  EXPECT_EQ(*expanded, "x{a=~\"^b$\"}");
}

TEST(DashboardVariablesTest, RejectsUndefinedVariable) {
  StatusOr<std::string> expanded = ExpandVariables("x{a=~\"$missing\"}", nlohmann::json::object());
  ASSERT_FALSE(expanded.ok());
  EXPECT_NE(expanded.status().message().find("$missing"), std::string::npos)
      << expanded.status().ToString();
}

TEST(DashboardVariablesTest, RejectsDatasourceVariableInQuery) {
  const nlohmann::json dashboard = nlohmann::json::parse(
      R"({"templating": {"list": [{"name": "datasource", "type": "datasource"}]}})");
  EXPECT_FALSE(ExpandVariables("up{job=\"$datasource\"}", dashboard).ok());
}

TEST(DashboardVariablesTest, RejectsUnclosedBrace) {
  EXPECT_FALSE(ExpandVariables("up{job=\"${job\"}", nlohmann::json::object()).ok());
}

TEST(DashboardVariablesTest, ParsesLabelValuesQuery) {
  StatusOr<LabelValuesQuery> parsed =
      ParseLabelValues("label_values(svcd_targets{namespace=~\"$namespace\"}, deploy)");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->selector, "svcd_targets{namespace=~\"$namespace\"}");
  EXPECT_EQ(parsed->label, "deploy");
  EXPECT_FALSE(ParseLabelValues("query_result(up)").ok());
  EXPECT_FALSE(ParseLabelValues("label_values(up, )").ok());
}

}  // namespace
}  // namespace svcd::monitoring
