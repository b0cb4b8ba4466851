#include "metrics/svcd_metrics.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "reconciler/clock.h"
#include "reconciler/controller.h"
#include "tests/metrics/test_util.h"

namespace svcd::metrics {
namespace {

using namespace std::chrono_literals;
using testing::LinesStartingWith;
using testing::SampleValue;

std::unique_ptr<SvcdMetrics> NewMetrics() {
  auto created = SvcdMetrics::Create("1.2.3");
  EXPECT_TRUE(created.ok()) << created.status().message();
  return created.ok() ? std::move(*created) : nullptr;
}

std::string Targets(const std::string& ns, const std::string& deploy, const std::string& role,
                    const std::string& state) {
  return "svcd_targets{namespace=\"" + ns + "\",deploy=\"" + deploy + "\",role=\"" + role +
         "\",state=\"" + state + "\"}";
}

TEST(SvcdMetricsTest, StartsFixedSeriesAtZero) {
  auto metrics = NewMetrics();
  ASSERT_NE(metrics, nullptr);
  const std::string text = metrics->Render();

  for (const char* result : {"success", "error", "requeue", "requeue_after", "terminal"}) {
    std::string series =
        std::string("svcd_reconcile_total{controller=\"servicedeploy\",result=\"") + result + "\"}";
    EXPECT_EQ(SampleValue(text, series), 0) << series;
  }
  for (const std::string& phase : DeployPhases()) {
    EXPECT_EQ(SampleValue(text, "svcd_deploys{phase=\"" + phase + "\"}"), 0) << phase;
  }
  EXPECT_EQ(SampleValue(text, "svcd_reconcile_errors_total{controller=\"servicedeploy\"}"), 0);
  EXPECT_EQ(SampleValue(text, "svcd_reconcile_timeouts_total{controller=\"servicedeploy\"}"), 0);
  EXPECT_EQ(SampleValue(text, "svcd_active_workers{controller=\"servicedeploy\"}"), 0);
  EXPECT_EQ(SampleValue(text, "svcd_workqueue_depth{queue=\"servicedeploy\"}"), 0);
  EXPECT_EQ(SampleValue(text, "svcd_workqueue_adds_total{queue=\"servicedeploy\"}"), 0);
  EXPECT_EQ(SampleValue(text, "svcd_dispatch_total{executor=\"powerjob\",result=\"error\"}"), 0);
  EXPECT_EQ(SampleValue(text, "svcd_deploy_ready_duration_seconds_count"), 0);
  EXPECT_EQ(SampleValue(text, "svcd_build_info{version=\"1.2.3\"}"), 1);
  EXPECT_TRUE(LinesStartingWith(text, "svcd_targets{").empty());
}

TEST(SvcdMetricsTest, CountsReconcileResults) {
  auto metrics = NewMetrics();
  ASSERT_NE(metrics, nullptr);
  metrics->ObserveReconcile("servicedeploy", "success", 20ms);
  metrics->ObserveReconcile("servicedeploy", "error", 2s);
  metrics->ObserveReconcile("servicedeploy", "terminal", 1ms);
  metrics->ObserveReconcile("servicedeploy", "requeue_after", 1ms);
  metrics->IncReconcileTimeouts("servicedeploy");
  metrics->SetActiveWorkers("servicedeploy", 3);
  const std::string text = metrics->Render();

  const std::string prefix = "svcd_reconcile_total{controller=\"servicedeploy\",result=";
  EXPECT_EQ(SampleValue(text, prefix + "\"success\"}"), 1);
  EXPECT_EQ(SampleValue(text, prefix + "\"error\"}"), 1);
  EXPECT_EQ(SampleValue(text, prefix + "\"terminal\"}"), 1);
  EXPECT_EQ(SampleValue(text, prefix + "\"requeue\"}"), 0);
  EXPECT_EQ(SampleValue(text, "svcd_reconcile_errors_total{controller=\"servicedeploy\"}"), 2);
  EXPECT_EQ(SampleValue(text, "svcd_reconcile_timeouts_total{controller=\"servicedeploy\"}"), 1);
  EXPECT_EQ(SampleValue(text, "svcd_active_workers{controller=\"servicedeploy\"}"), 3);
  EXPECT_EQ(
      SampleValue(text, "svcd_reconcile_duration_seconds_count{controller=\"servicedeploy\"}"), 4);
  EXPECT_EQ(SampleValue(text,
                        "svcd_reconcile_duration_seconds_bucket{controller=\"servicedeploy\","
                        "le=\"0.025\"}"),
            3);
  EXPECT_DOUBLE_EQ(
      SampleValue(text, "svcd_reconcile_duration_seconds_sum{controller=\"servicedeploy\"}"),
      2.022);
}

TEST(SvcdMetricsTest, TracksDeployPhases) {
  auto metrics = NewMetrics();
  ASSERT_NE(metrics, nullptr);
  ASSERT_TRUE(metrics->SetDeployPhase("eval", "a", "Pending").ok());
  ASSERT_TRUE(metrics->SetDeployPhase("eval", "b", "Pending").ok());
  ASSERT_TRUE(metrics->SetDeployPhase("eval", "a", "Ready").ok());
  ASSERT_TRUE(metrics->SetDeployPhase("eval", "a", "Ready").ok());
  ASSERT_TRUE(metrics->SetDeployPhase("prod", "a", "Failed").ok());

  Status bad = metrics->SetDeployPhase("eval", "b", "Running");
  EXPECT_EQ(bad.code(), Code::kInvalidArgument);
  EXPECT_NE(bad.message().find("\"Running\" is not one of Pending"), std::string::npos)
      << bad.message();

  std::string text = metrics->Render();
  EXPECT_EQ(SampleValue(text, "svcd_deploys{phase=\"Pending\"}"), 1);
  EXPECT_EQ(SampleValue(text, "svcd_deploys{phase=\"Ready\"}"), 1);
  EXPECT_EQ(SampleValue(text, "svcd_deploys{phase=\"Failed\"}"), 1);

  metrics->ForgetDeploy("eval", "a");
  metrics->ForgetDeploy("eval", "never-seen");
  text = metrics->Render();
  EXPECT_EQ(SampleValue(text, "svcd_deploys{phase=\"Ready\"}"), 0);
  EXPECT_EQ(SampleValue(text, "svcd_deploys{phase=\"Pending\"}"), 1);
  EXPECT_EQ(SampleValue(text, "svcd_deploys{phase=\"Failed\"}"), 1);
}

TEST(SvcdMetricsTest, ReplacesDeployTargets) {
  auto metrics = NewMetrics();
  ASSERT_NE(metrics, nullptr);
  ASSERT_TRUE(metrics
                  ->SetDeployTargets("eval", "qwen",
                                     {{"master", "RUNNING", 1},
                                      {"worker", "PENDING", 1},
                                      {"worker", "READY", 1},
                                      {"worker", "READY", 1}})
                  .ok());
  std::string text = metrics->Render();
  EXPECT_EQ(SampleValue(text, Targets("eval", "qwen", "master", "RUNNING")), 1);
  EXPECT_EQ(SampleValue(text, Targets("eval", "qwen", "master", "READY")), 0);
  EXPECT_EQ(SampleValue(text, Targets("eval", "qwen", "worker", "READY")), 2);
  EXPECT_EQ(SampleValue(text, Targets("eval", "qwen", "worker", "PENDING")), 1);
  EXPECT_EQ(LinesStartingWith(text, "svcd_targets{").size(), 2 * TargetStates().size());

  // The workers are gone from the spec: their series go, the master's stay.
  ASSERT_TRUE(metrics->SetDeployTargets("eval", "qwen", {{"master", "READY", 1}}).ok());
  text = metrics->Render();
  EXPECT_EQ(SampleValue(text, Targets("eval", "qwen", "master", "RUNNING")), 0);
  EXPECT_EQ(SampleValue(text, Targets("eval", "qwen", "master", "READY")), 1);
  EXPECT_TRUE(LinesStartingWith(text,
                                "svcd_targets{namespace=\"eval\",deploy=\"qwen\",role="
                                "\"worker\"")
                  .empty());
}

TEST(SvcdMetricsTest, RejectsBadTargetCountsWithoutChanges) {
  auto metrics = NewMetrics();
  ASSERT_NE(metrics, nullptr);
  ASSERT_TRUE(metrics->SetDeployTargets("eval", "qwen", {{"master", "READY", 1}}).ok());
  const std::string before = metrics->Render();

  struct Case {
    TargetCount count;
    std::string message;
  };
  const Case cases[] = {
      {{"leader", "READY", 1}, "role must be one of master, worker"},
      {{"master", "Ready", 1}, "state must be one of PENDING"},
      {{"master", "READY", -1}, "count must not be negative, got -1"},
  };
  for (const Case& c : cases) {
    Status status = metrics->SetDeployTargets("eval", "qwen", {{"worker", "READY", 3}, c.count});
    EXPECT_EQ(status.code(), Code::kInvalidArgument) << c.message;
    EXPECT_NE(status.message().find(c.message), std::string::npos) << status.message();
    EXPECT_NE(status.message().find("deploy eval/qwen"), std::string::npos) << status.message();
  }
  EXPECT_EQ(metrics->Render(), before);
}

TEST(SvcdMetricsTest, ForgetDeployRemovesOnlyThatDeploy) {
  auto metrics = NewMetrics();
  ASSERT_NE(metrics, nullptr);
  for (const char* ns : {"eval", "prod"}) {
    ASSERT_TRUE(metrics->SetDeployTargets(ns, "qwen", {{"master", "READY", 1}}).ok());
    ASSERT_TRUE(metrics->SetDeployPhase(ns, "qwen", "Ready").ok());
    metrics->IncTargetRestarts(ns, "qwen", "master");
    metrics->ObserveProbe(ns, "qwen", "master", "http", true, 5ms);
  }

  metrics->ForgetDeploy("eval", "qwen");
  const std::string text = metrics->Render();
  EXPECT_TRUE(LinesStartingWith(text, "svcd_targets{namespace=\"eval\"").empty());
  EXPECT_TRUE(LinesStartingWith(text, "svcd_target_restarts_total{namespace=\"eval\"").empty());
  EXPECT_TRUE(LinesStartingWith(text, "svcd_probe_success{namespace=\"eval\"").empty());
  EXPECT_EQ(SampleValue(text, Targets("prod", "qwen", "master", "READY")), 1);
  EXPECT_EQ(SampleValue(text,
                        "svcd_target_restarts_total{namespace=\"prod\",deploy=\"qwen\","
                        "target=\"master\"}"),
            1);
  EXPECT_EQ(SampleValue(text,
                        "svcd_probe_success{namespace=\"prod\",deploy=\"qwen\","
                        "target=\"master\"}"),
            1);
  EXPECT_EQ(SampleValue(text, "svcd_deploys{phase=\"Ready\"}"), 1);
  // Probe durations are not per deploy, so they stay.
  EXPECT_EQ(SampleValue(text, "svcd_probe_duration_seconds_count{type=\"http\"}"), 2);
}

TEST(SvcdMetricsTest, RecordsProductEvents) {
  auto metrics = NewMetrics();
  ASSERT_NE(metrics, nullptr);
  metrics->IncDispatch("local", "success");
  metrics->IncDispatch("local", "success");
  metrics->IncDispatch("powerjob", "error");
  metrics->ObserveProbe("eval", "qwen", "worker-0", "tcp", true, 2ms);
  metrics->ObserveProbe("eval", "qwen", "worker-0", "tcp", false, 3s);
  metrics->ObserveDeployReady(95s);
  metrics->IncPowerJobRequest("runJob", "success");
  const std::string text = metrics->Render();

  EXPECT_EQ(SampleValue(text, "svcd_dispatch_total{executor=\"local\",result=\"success\"}"), 2);
  EXPECT_EQ(SampleValue(text, "svcd_dispatch_total{executor=\"powerjob\",result=\"error\"}"), 1);
  EXPECT_EQ(SampleValue(text,
                        "svcd_probe_success{namespace=\"eval\",deploy=\"qwen\","
                        "target=\"worker-0\"}"),
            0);
  EXPECT_EQ(SampleValue(text, "svcd_probe_duration_seconds_bucket{type=\"tcp\",le=\"0.005\"}"), 1);
  EXPECT_EQ(SampleValue(text, "svcd_deploy_ready_duration_seconds_bucket{le=\"60\"}"), 0);
  EXPECT_EQ(SampleValue(text, "svcd_deploy_ready_duration_seconds_bucket{le=\"120\"}"), 1);
  EXPECT_EQ(SampleValue(text, "svcd_deploy_ready_duration_seconds_sum"), 95);
  EXPECT_EQ(SampleValue(text,
                        "svcd_powerjob_requests_total{operation=\"runJob\","
                        "result=\"success\"}"),
            1);
}

TEST(SvcdMetricsTest, DerivesBoundedApiLabels) {
  const std::pair<const char*, const char*> routes[] = {
      {"/apis/svcd.io/v1alpha1/hosts", "hosts"},
      {"/apis/svcd.io/v1alpha1/hosts/{name}", "hosts"},
      {"/apis/svcd.io/v1alpha1/servicetemplates/{name}", "servicetemplates"},
      {"/apis/svcd.io/v1alpha1/namespaces/{ns}/servicedeploys", "servicedeploys"},
      {"/apis/svcd.io/v1alpha1/namespaces/{ns}/servicedeploys/{name}/log", "servicedeploys"},
      {"/apis/svcd.io/v1alpha1/servicedeploys", "servicedeploys"},
      {"/apis/svcd.io/v1alpha1/apply", "apply"},
      {"/apis/svcd.io/v1alpha1/namespaces/{ns}/events", "events"},
      {"/apis/svcd.io/v1alpha1/reports/{dispatchId}", "reports"},
      {"/api/v1/deploys", "deploys"},
      {"/metrics", "metrics"},
      {"/healthz", "healthz"},
      {"/{anything}", "other"},
      {"", "other"},
      {"/", "other"},
  };
  for (const auto& [route, resource] : routes) {
    EXPECT_EQ(ApiResource(route), resource) << route;
  }
  EXPECT_EQ(ApiVerb("GET"), "GET");
  EXPECT_EQ(ApiVerb("DELETE"), "DELETE");
  EXPECT_EQ(ApiVerb("get"), "other");
  EXPECT_EQ(ApiVerb("BREW"), "other");
}

TEST(SvcdMetricsTest, RecordsApiRequests) {
  auto metrics = NewMetrics();
  ASSERT_NE(metrics, nullptr);
  metrics->ObserveApiRequest("GET", "/apis/svcd.io/v1alpha1/namespaces/{ns}/servicedeploys/{name}",
                             200, 3ms);
  metrics->ObserveApiRequest("GET", "/apis/svcd.io/v1alpha1/namespaces/{ns}/servicedeploys", 200,
                             4ms);
  metrics->ObserveApiRequest("XYZZY", "", 404, 1ms);
  metrics->ObserveApiRequest("POST", "/apis/svcd.io/v1alpha1/apply", 999, 1ms);
  const std::string text = metrics->Render();

  EXPECT_EQ(SampleValue(text,
                        "svcd_api_requests_total{verb=\"GET\",resource=\"servicedeploys\","
                        "code=\"200\"}"),
            2);
  EXPECT_EQ(SampleValue(text,
                        "svcd_api_requests_total{verb=\"other\",resource=\"other\","
                        "code=\"404\"}"),
            1);
  EXPECT_EQ(SampleValue(text,
                        "svcd_api_requests_total{verb=\"POST\",resource=\"apply\","
                        "code=\"other\"}"),
            1);
  EXPECT_EQ(SampleValue(text,
                        "svcd_api_request_duration_seconds_count{verb=\"GET\","
                        "resource=\"servicedeploys\"}"),
            2);
}

TEST(SvcdMetricsTest, PromtoolAcceptsPopulatedMetrics) {
  auto metrics = NewMetrics();
  ASSERT_NE(metrics, nullptr);
  metrics->SetDepth("servicedeploy", 4);
  metrics->IncAdds("servicedeploy");
  metrics->IncRetries("servicedeploy");
  metrics->ObserveQueueLatency("servicedeploy", 150ms);
  metrics->ObserveWorkDuration("servicedeploy", 30ms);
  metrics->ObserveReconcile("servicedeploy", "requeue", 12ms);
  metrics->IncReconcileTimeouts("servicedeploy");
  metrics->SetActiveWorkers("servicedeploy", 1);
  ASSERT_TRUE(metrics->SetDeployPhase("eval", "qwen", "Progressing").ok());
  ASSERT_TRUE(
      metrics
          ->SetDeployTargets("eval", "qwen", {{"master", "READY", 1}, {"worker", "DISPATCHING", 2}})
          .ok());
  metrics->IncTargetRestarts("eval", "qwen", "worker-1");
  metrics->IncDispatch("local", "success");
  // A target name with every character the writer escapes.
  metrics->ObserveProbe("eval", "qwen", "odd\"name\\with\nbreak", "http", true, 40ms);
  metrics->ObserveDeployReady(42s);
  metrics->IncPowerJobRequest("fetchInstanceInfo", "error");
  metrics->ObserveApiRequest("POST", "/apis/svcd.io/v1alpha1/apply", 201, 70ms);
  const std::string text = metrics->Render();

  testing::CommandResult check = testing::PromtoolCheck(text);
  EXPECT_EQ(check.exit_code, 0) << check.output << "\n" << text;
  EXPECT_EQ(check.output, "") << text;
}

// Counts reconciles and fails the first one, so the key is retried.
class FlakyReconciler : public reconciler::Reconciler {
 public:
  reconciler::Result Reconcile(const std::string& key, const reconciler::Context&) override {
    std::lock_guard<std::mutex> lock(mutex_);
    ++calls_;
    changed_.notify_all();
    if (calls_ == 1) return Status::Unavailable("first attempt fails");
    return reconciler::Result::Done();
  }

  bool WaitForCalls(int n) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, 10s, [&] { return calls_ >= n; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int calls_ = 0;
};

TEST(SvcdMetricsTest, RecordsARealControllerAndQueue) {
  auto metrics = NewMetrics();
  ASSERT_NE(metrics, nullptr);
  reconciler::RealClock clock;
  FlakyReconciler flaky;
  reconciler::ControllerOptions options;
  options.name = kDeployControllerName;
  options.workers = 1;
  options.resync_period = reconciler::Duration::zero();
  options.metrics = metrics.get();
  options.queue_metrics = metrics.get();
  auto controller = reconciler::Controller::Create(std::move(options), flaky, clock);
  ASSERT_TRUE(controller.ok()) << controller.status().message();
  ASSERT_TRUE((*controller)->Start().ok());

  (*controller)->Enqueue("eval/qwen");
  ASSERT_TRUE(flaky.WaitForCalls(2));
  // The second result is recorded right after Reconcile returns.
  const std::string success =
      "svcd_reconcile_total{controller=\"servicedeploy\",result=\"success\"}";
  for (int i = 0; i < 1000 && SampleValue(metrics->Render(), success) < 1; ++i) {
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_TRUE((*controller)->Stop(10s).ok());
  const std::string text = metrics->Render();

  EXPECT_EQ(SampleValue(text, success), 1);
  EXPECT_EQ(SampleValue(text,
                        "svcd_reconcile_total{controller=\"servicedeploy\","
                        "result=\"error\"}"),
            1);
  EXPECT_EQ(SampleValue(text, "svcd_reconcile_errors_total{controller=\"servicedeploy\"}"), 1);
  EXPECT_EQ(SampleValue(text, "svcd_workqueue_adds_total{queue=\"servicedeploy\"}"), 2);
  EXPECT_EQ(SampleValue(text, "svcd_workqueue_retries_total{queue=\"servicedeploy\"}"), 1);
  EXPECT_EQ(SampleValue(text, "svcd_workqueue_depth{queue=\"servicedeploy\"}"), 0);
  EXPECT_EQ(SampleValue(text, "svcd_active_workers{controller=\"servicedeploy\"}"), 0);
  EXPECT_EQ(SampleValue(text,
                        "svcd_workqueue_work_duration_seconds_count{queue="
                        "\"servicedeploy\"}"),
            2);
}

}  // namespace
}  // namespace svcd::metrics
