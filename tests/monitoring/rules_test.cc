// Tests of the Prometheus files in manifests/monitoring/: promtool accepts
// the alert rules and the example config, the rules' unit tests pass, and
// every alert carries what an on-call reader needs.

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <map>
#include <set>
#include <string>

#include "tests/e2e/process.h"
#include "tests/monitoring/dashboard.h"

namespace svcd::monitoring {
namespace {

using svcd::e2e::CommandResult;
using svcd::e2e::RunCommand;

std::string ManifestPath(const std::string& name) {
  return std::string(kMonitoringDir) + "/" + name;
}

// Runs promtool with `args` in the monitoring folder, so relative rule file
// paths resolve as they do for a user.
CommandResult Promtool(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", kMonitoringDir,
                                   kPromtoolBinary};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, {"PATH=/usr/bin:/bin"});
}

// Loads a YAML file, adding a failure and returning a null node on error.
YAML::Node LoadYaml(const std::string& path) {
  try {
    return YAML::LoadFile(path);
  } catch (const YAML::Exception& error) {
    ADD_FAILURE() << path << ": " << error.what();
    return YAML::Node();
  }
}

// Returns the alerting rules of a rules file, keyed by alert name.
std::map<std::string, YAML::Node> Alerts(const YAML::Node& rules_file) {
  std::map<std::string, YAML::Node> alerts;
  for (const YAML::Node& group : rules_file["groups"]) {
    for (const YAML::Node& rule : group["rules"]) {
      if (rule["alert"]) alerts[rule["alert"].as<std::string>()] = rule;
    }
  }
  return alerts;
}

class PrometheusFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(kPromtoolBinary))
        << kPromtoolBinary << " is missing; install Debian's prometheus package "
        << "(scripts/install-deps.sh does)";
  }
};

TEST_F(PrometheusFilesTest, AlertRulesPassPromtoolCheck) {
  const CommandResult result = Promtool({"check", "rules", "svcd-alerts.yml"});
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_NE(result.out.find("SUCCESS"), std::string::npos) << result.out << result.err;
}

TEST_F(PrometheusFilesTest, AlertUnitTestsPass) {
  const CommandResult result = Promtool({"test", "rules", "svcd-alerts_test.yml"});
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_NE(result.out.find("SUCCESS"), std::string::npos) << result.out << result.err;
}

TEST_F(PrometheusFilesTest, ExampleConfigPassesPromtoolCheck) {
  const CommandResult result = Promtool({"check", "config", "prometheus.yml"});
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
  // promtool checks the rule files a config names, so the rules must be found.
  EXPECT_NE(result.out.find("SUCCESS: 1 rule files found"), std::string::npos)
      << result.out << result.err;
}

TEST(PrometheusConfigTest, ScrapesSvcdAndLoadsAlertRules) {
  const YAML::Node config = LoadYaml(ManifestPath("prometheus.yml"));
  ASSERT_TRUE(config.IsMap());
  ASSERT_TRUE(config["rule_files"].IsSequence()) << "rule_files is missing";
  std::set<std::string> rule_files;
  for (const YAML::Node& file : config["rule_files"]) rule_files.insert(file.as<std::string>());
  EXPECT_EQ(rule_files.count("svcd-alerts.yml"), 1u) << "rule_files does not list svcd-alerts.yml";

  int svcd_jobs = 0;
  for (const YAML::Node& job : config["scrape_configs"]) {
    if (job["job_name"].as<std::string>("") != "svcd") continue;
    ++svcd_jobs;
    EXPECT_EQ(job["metrics_path"].as<std::string>(""), "/metrics");
    ASSERT_TRUE(job["static_configs"].IsSequence());
    EXPECT_EQ(job["static_configs"][0]["targets"][0].as<std::string>(""), "127.0.0.1:7070");
  }
  // SvcdDown selects up{job="svcd"}.
  EXPECT_EQ(svcd_jobs, 1) << "expected one scrape config with job_name svcd";
}

TEST(AlertRulesTest, EveryAlertHasForSeverityAndAnnotations) {
  const std::map<std::string, YAML::Node> alerts =
      Alerts(LoadYaml(ManifestPath("svcd-alerts.yml")));
  ASSERT_FALSE(alerts.empty()) << "svcd-alerts.yml holds no alerting rules";
  for (const auto& [name, rule] : alerts) {
    SCOPED_TRACE("alert " + name);
    EXPECT_FALSE(rule["for"].as<std::string>("").empty()) << "for: is missing";
    const std::string severity = rule["labels"]["severity"].as<std::string>("");
    EXPECT_TRUE(severity == "critical" || severity == "warning")
        << "labels.severity must be critical or warning, not \"" << severity << "\"";
    EXPECT_FALSE(rule["annotations"]["summary"].as<std::string>("").empty())
        << "annotations.summary is missing";
    EXPECT_FALSE(rule["annotations"]["description"].as<std::string>("").empty())
        << "annotations.description is missing";
  }
}

// An alert on a series that carries the deploy labels names its deploy in
// both annotations, as namespace/name.
TEST(AlertRulesTest, DeployAlertsNameTheDeploy) {
  const std::map<std::string, YAML::Node> alerts =
      Alerts(LoadYaml(ManifestPath("svcd-alerts.yml")));
  const std::string deploy_ref = "{{ $labels.namespace }}/{{ $labels.deploy }}";
  int deploy_alerts = 0;
  for (const auto& [name, rule] : alerts) {
    const std::string expr = rule["expr"].as<std::string>("");
    if (expr.find("svcd_targets") == std::string::npos &&
        expr.find("svcd_probe_success") == std::string::npos &&
        expr.find("svcd_target_restarts_total") == std::string::npos) {
      continue;
    }
    ++deploy_alerts;
    for (const char* annotation : {"summary", "description"}) {
      EXPECT_NE(rule["annotations"][annotation].as<std::string>("").find(deploy_ref),
                std::string::npos)
          << "alert " << name << ": annotations." << annotation << " does not contain "
          << deploy_ref;
    }
  }
  EXPECT_GE(deploy_alerts, 3) << "expected the target, readiness and probe alerts";
}

// Every alert has a unit test where it fires and one where it stays silent.
TEST(AlertRulesTest, EveryAlertHasFiringAndSilentUnitTests) {
  const std::map<std::string, YAML::Node> alerts =
      Alerts(LoadYaml(ManifestPath("svcd-alerts.yml")));
  const YAML::Node tests = LoadYaml(ManifestPath("svcd-alerts_test.yml"));
  std::set<std::string> firing;
  std::set<std::string> silent;
  for (const YAML::Node& test : tests["tests"]) {
    for (const YAML::Node& check : test["alert_rule_test"]) {
      const std::string name = check["alertname"].as<std::string>("");
      const YAML::Node expected = check["exp_alerts"];
      if (expected && expected.IsSequence() && expected.size() > 0) {
        firing.insert(name);
      } else {
        silent.insert(name);
      }
    }
  }
  for (const auto& [name, rule] : alerts) {
    EXPECT_EQ(firing.count(name), 1u) << "no unit test expects " << name << " to fire";
    EXPECT_EQ(silent.count(name), 1u) << "no unit test expects " << name << " to stay silent";
  }
  for (const std::string& name : firing) {
    EXPECT_EQ(alerts.count(name), 1u)
        << "the unit tests check " << name << ", which no rule defines";
  }
}

}  // namespace
}  // namespace svcd::monitoring
