// End-to-end test of the monitoring files: the real svcd runs the quickstart
// deploy (a master and two workers of the stand-in model server) while a
// real Prometheus scrapes svcd every second and evaluates svcd-alerts.yml.
// The test then reads the series through Prometheus's HTTP API and runs
// every query of the Grafana dashboard.

#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <thread>

#include "tests/e2e/deploy_fixture.h"
#include "tests/monitoring/dashboard.h"
#include "tests/monitoring/prometheus_server.h"

namespace svcd::monitoring {
namespace {

using e2e::DeployE2eTest;
using e2e::TargetMap;

constexpr auto kScrapeTimeout = std::chrono::seconds(60);

class MonitoringE2eTest : public DeployE2eTest {
 protected:
  void SetUp() override {
    DeployE2eTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;

    StatusOr<nlohmann::json> dashboard =
        ReadDashboard(std::string(kMonitoringDir) + "/svcd-dashboard.json");
    ASSERT_TRUE(dashboard.ok()) << dashboard.status().ToString();
    dashboard_ = *dashboard;

    const std::filesystem::path work_dir = temp_dir() / "prometheus";
    std::filesystem::create_directories(work_dir);
    PrometheusOptions options;
    options.work_dir = work_dir.string();
    options.scrape_target = "127.0.0.1:" + std::to_string(server().port());
    options.rule_files = {std::string(kMonitoringDir) + "/svcd-alerts.yml"};
    const Status started = prometheus_.Start(options);
    ASSERT_TRUE(started.ok()) << started.ToString();
  }

  void TearDown() override {
    const int exit_code = prometheus_.Stop();
    EXPECT_TRUE(exit_code == 0 || exit_code == -1) << "Prometheus exited with " << exit_code;
    if (HasFailure()) std::cerr << "Prometheus log:\n" << prometheus_.Log() << "\n";
    DeployE2eTest::TearDown();
  }

  // Applies the quickstart and waits until svcd reports it Ready; returns the deploy.
  nlohmann::json ApplyQuickstart() {
    ApplyWithSvcctl(QuickstartYaml({}), "quickstart");
    return WaitReady("quickstart");
  }

  // Returns the value of a query whose result is one sample, or NaN when the
  // result is empty, has several series or the query fails.
  double ScalarOf(const std::string& promql) const {
    StatusOr<nlohmann::json> result = prometheus_.Query(promql);
    if (!result.ok() || !result->is_array() || result->size() != 1) return std::nan("");
    return std::stod((*result)[0]["value"][1].get<std::string>());
  }

  // Polls `promql` once a second until its single value is `expected` or
  // `timeout` passes; returns the last value.
  double WaitForValue(const std::string& promql, double expected,
                      std::chrono::milliseconds timeout = kScrapeTimeout) const {
    double value = std::nan("");
    e2e::WaitUntil(
        [&] {
          value = ScalarOf(promql);
          if (value == expected) return true;
          std::this_thread::sleep_for(std::chrono::milliseconds(950));
          return false;
        },
        timeout);
    return value;
  }

  nlohmann::json dashboard_;
  PrometheusServer prometheus_;
};

TEST_P(MonitoringE2eTest, ReadyTargetsSumToTargetCount) {
  const nlohmann::json deploy = ApplyQuickstart();
  const size_t target_count = Targets(deploy).size();
  ASSERT_EQ(target_count, 3u) << deploy.dump(2);

  const double ready =
      WaitForValue(R"(sum(svcd_targets{namespace="default", deploy="quickstart", state="READY"}))",
                   static_cast<double>(target_count));
  EXPECT_EQ(ready, static_cast<double>(target_count))
      << "svcd_targets{state=\"READY\"} did not sum to the deploy's targets";
  EXPECT_EQ(ScalarOf(R"(sum(svcd_targets{deploy="quickstart", state!="READY"}))"), 0.0);
  EXPECT_EQ(WaitForValue(R"(svcd_deploys{phase="Ready"})", 1.0), 1.0);
  EXPECT_EQ(ScalarOf(R"(sum(svcd_deploys))"), 1.0);
  EXPECT_EQ(ScalarOf(R"(up{job="svcd"})"), 1.0);
}

// Runs every panel query after the deploy became Ready and restarted once,
// so the restart counter has a series too. A query that Prometheus rejects
// fails at once; a query without series is retried until kScrapeTimeout,
// because rate() needs two scrapes in its window.
TEST_P(MonitoringE2eTest, EveryPanelQueryReturnsSeries) {
  const TargetMap before = Targets(ApplyQuickstart());
  ASSERT_EQ(before.size(), 3u);
  ASSERT_TRUE(before.at("worker-1").contains("pid"));
  ASSERT_EQ(kill(before.at("worker-1")["pid"].get<pid_t>(), SIGKILL), 0);
  nlohmann::json deploy;
  ASSERT_TRUE(WaitForDeploy(
      "quickstart",
      [](const nlohmann::json& d) {
        const TargetMap targets = Targets(d);
        return d["status"].value("phase", "") == "Ready" && targets.size() == 3 &&
               targets.at("worker-1").value("attempts", 0) == 1;
      },
      std::chrono::seconds(60), &deploy))
      << deploy.dump(2);
  TrackTargets(deploy);

  const std::vector<PanelQuery> queries = PanelQueries(dashboard_);
  ASSERT_FALSE(queries.empty());
  // Queries that returned no series yet; a rejected query leaves the set with its error.
  std::set<size_t> pending;
  for (size_t i = 0; i < queries.size(); ++i) pending.insert(i);
  std::string errors;
  const auto deadline = std::chrono::steady_clock::now() + kScrapeTimeout;
  while (!pending.empty() && std::chrono::steady_clock::now() < deadline) {
    for (auto it = pending.begin(); it != pending.end();) {
      const PanelQuery& query = queries[*it];
      StatusOr<std::string> expr = ExpandVariables(query.expr, dashboard_);
      StatusOr<nlohmann::json> result =
          expr.ok() ? prometheus_.Query(*expr) : StatusOr<nlohmann::json>(expr.status());
      if (!result.ok()) {
        errors += query.Describe() + "\n  " + result.status().ToString() + "\n";
        it = pending.erase(it);
      } else if (result->is_array() && !result->empty()) {
        it = pending.erase(it);
      } else {
        ++it;
      }
    }
    if (!pending.empty()) std::this_thread::sleep_for(std::chrono::seconds(1));
  }

  EXPECT_EQ(errors, "") << "Prometheus rejected these panel queries";
  for (size_t i : pending) {
    ADD_FAILURE() << "no series after " << kScrapeTimeout.count()
                  << " s: " << queries[i].Describe();
  }
}

// Prometheus loads svcd-alerts.yml, evaluates every rule without an error,
// and once the deploy is Ready no alert is pending or firing.
TEST_P(MonitoringE2eTest, AlertRulesEvaluateCleanly) {
  ApplyQuickstart();
  ASSERT_EQ(WaitForValue(R"(svcd_deploys{phase="Ready"})", 1.0), 1.0);

  nlohmann::json groups;
  std::string problems;
  const bool evaluated = e2e::WaitUntil(
      [&] {
        StatusOr<nlohmann::json> data = prometheus_.GetData("/api/v1/rules?type=alert");
        if (!data.ok()) {
          problems = data.status().ToString();
          return false;
        }
        groups = (*data)["groups"];
        problems.clear();
        for (const nlohmann::json& group : groups) {
          for (const nlohmann::json& rule : group["rules"]) {
            const std::string name = rule.value("name", "");
            if (rule.value("health", "") != "ok") {
              problems += name + ": health " + rule.value("health", "") + " " +
                          rule.value("lastError", "") + "\n";
            }
            if (rule.value("state", "") != "inactive") {
              problems += name + ": state " + rule.value("state", "") + "\n";
            }
          }
        }
        return !groups.empty() && problems.empty();
      },
      kScrapeTimeout);
  EXPECT_TRUE(evaluated) << problems << groups.dump(2);

  size_t rules = 0;
  for (const nlohmann::json& group : groups) rules += group["rules"].size();
  EXPECT_EQ(rules, 6u) << "Prometheus loaded another number of alerting rules";
}

// The namespace and deploy variables of the dashboard list the quickstart.
TEST_P(MonitoringE2eTest, DashboardVariablesListTheDeploy) {
  ApplyQuickstart();
  ASSERT_EQ(WaitForValue(R"(svcd_deploys{phase="Ready"})", 1.0), 1.0);

  const std::map<std::string, std::string> expected = {{"namespace", "default"},
                                                       {"deploy", "quickstart"}};
  for (const nlohmann::json& variable : dashboard_["templating"]["list"]) {
    const std::string name = variable.value("name", "");
    if (variable.value("type", "") != "query") continue;
    SCOPED_TRACE("variable " + name);
    const nlohmann::json query = variable.value("query", nlohmann::json());
    const std::string text =
        query.is_object() ? query.value("query", "") : query.get<std::string>();
    StatusOr<LabelValuesQuery> parsed = ParseLabelValues(text);
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    StatusOr<std::string> selector = ExpandVariables(parsed->selector, dashboard_);
    ASSERT_TRUE(selector.ok()) << selector.status().ToString();

    std::string path = "/api/v1/label/" + parsed->label + "/values";
    if (!selector->empty()) path += "?match[]=" + e2e::UrlEncode(*selector);
    StatusOr<nlohmann::json> values = prometheus_.GetData(path);
    ASSERT_TRUE(values.ok()) << values.status().ToString();
    ASSERT_TRUE(values->is_array()) << values->dump();
    ASSERT_TRUE(expected.count(name)) << "the test expects no variable named " << name;
    EXPECT_NE(std::find(values->begin(), values->end(), expected.at(name)), values->end())
        << values->dump();
  }
}

// The series under test come from the controller, not the store, so SQLite alone is enough.
INSTANTIATE_TEST_SUITE_P(Stores, MonitoringE2eTest, ::testing::Values(sql::Dialect::kSqlite),
                         e2e::StoreName);

}  // namespace
}  // namespace svcd::monitoring
