// End-to-end tests of svcd's /metrics: the series of a deploy follow its
// life (dispatches, readiness, a restart, deletion) and every scrape passes
// promtool's checks.

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sstream>

#include "tests/e2e/deploy_fixture.h"

namespace svcd::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

using DeployMetricsTest = DeployE2eTest;

// Returns the value of the sample written exactly as `series` (name and
// labels in the order svcd writes them), or -1 when it is absent.
double Sample(const std::string& text, const std::string& series) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

std::string Scrape(const std::string& base_url) {
  const HttpReply reply = SendRequest("GET", base_url + "/metrics", "");
  EXPECT_EQ(reply.status, 200) << reply.Describe();
  EXPECT_THAT(reply.headers.count("content-type") ? reply.headers.at("content-type") : "",
              HasSubstr("version=0.0.4"));
  return reply.body;
}

void ExpectPromtoolAccepts(const std::string& text) {
  const CommandResult checked = RunCommand({"promtool", "check", "metrics"}, {}, text);
  EXPECT_EQ(checked.exit_code, 0) << checked.out << checked.err;
  EXPECT_EQ(checked.out + checked.err, "");
}

TEST_P(DeployMetricsTest, SeriesFollowTheDeployFromApplyToDelete) {
  DeployKnobs knobs;
  knobs.scope = "Target";
  ApplyWithSvcctl(QuickstartYaml(knobs), "quickstart");
  const TargetMap ready = Targets(WaitReady("quickstart"));
  const std::string prefix = "{namespace=\"default\",deploy=\"quickstart\",";
  std::string text;
  ASSERT_TRUE(WaitUntil(
      [&] {
        text = Scrape(Url());
        return Sample(text,
                      "svcd_probe_success{namespace=\"default\",deploy=\"quickstart\","
                      "target=\"master\"}") == 1;
      },
      std::chrono::seconds(10)))
      << text;
  EXPECT_EQ(Sample(text, "svcd_targets" + prefix + "role=\"master\",state=\"READY\"}"), 1) << text;
  EXPECT_EQ(Sample(text, "svcd_targets" + prefix + "role=\"worker\",state=\"READY\"}"), 2) << text;
  EXPECT_EQ(Sample(text, "svcd_targets" + prefix + "role=\"worker\",state=\"FAILED\"}"), 0) << text;
  EXPECT_EQ(Sample(text, "svcd_deploys{phase=\"Ready\"}"), 1) << text;
  EXPECT_EQ(Sample(text, "svcd_dispatch_total{executor=\"local\",result=\"success\"}"), 3) << text;
  EXPECT_EQ(Sample(text, "svcd_deploy_ready_duration_seconds_count"), 1) << text;
  EXPECT_GE(Sample(text, "svcd_reconcile_total{controller=\"servicedeploy\",result=\"success\"}") +
                Sample(text,
                       "svcd_reconcile_total{controller=\"servicedeploy\","
                       "result=\"requeue_after\"}"),
            1)
      << text;
  EXPECT_GT(Sample(text, "svcd_workqueue_adds_total{queue=\"servicedeploy\"}"), 0) << text;
  EXPECT_GT(Sample(text, "svcd_api_requests_total{verb=\"POST\",resource=\"apply\",code=\"200\"}"),
            0)
      << text;
  ExpectPromtoolAccepts(text);

  // A restart of worker-0 moves its restart counter, and only its.
  const std::string restarts = "svcd_target_restarts_total" + prefix;
  ASSERT_EQ(kill(static_cast<pid_t>(ready.at("worker-0")["pid"].get<int64_t>()), SIGKILL), 0);
  ASSERT_TRUE(WaitUntil(
      [&] {
        text = Scrape(Url());
        return Sample(text, restarts + "target=\"worker-0\"}") == 1;
      },
      std::chrono::seconds(20)))
      << text;
  EXPECT_LE(Sample(text, restarts + "target=\"worker-1\"}"), 0) << text;
  TrackTargets(WaitReady("quickstart"));
  EXPECT_EQ(Sample(Scrape(Url()), "svcd_dispatch_total{executor=\"local\",result=\"success\"}"), 4);

  // Deleting the deploy removes every series that names it.
  const CommandResult deleted = Ctl({"delete", "sd", "quickstart", "--wait", "--timeout", "60s"});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.out << deleted.err;
  ASSERT_TRUE(WaitUntil(
      [&] {
        text = Scrape(Url());
        return text.find("deploy=\"quickstart\"") == std::string::npos;
      },
      std::chrono::seconds(10)))
      << text;
  EXPECT_EQ(Sample(text, "svcd_deploys{phase=\"Ready\"}"), 0) << text;
  EXPECT_EQ(Sample(text, "svcd_deploys{phase=\"Terminating\"}"), 0) << text;
  EXPECT_THAT(text, Not(HasSubstr("deploy=\"quickstart\"")));
  ExpectPromtoolAccepts(text);
}

// A metrics port that is taken ends svcd with a message naming the flag,
// instead of an abort or a server without metrics.
TEST(SvcdMetricsListenTest, TakenPortExitsNamingTheFlag) {
  const int holder = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(holder, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(holder, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(listen(holder, 4), 0);
  socklen_t length = sizeof(address);
  ASSERT_EQ(getsockname(holder, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const std::string busy = "127.0.0.1:" + std::to_string(ntohs(address.sin_port));
  const std::filesystem::path data =
      std::filesystem::temp_directory_path() / ("svcd-metrics-" + std::to_string(getpid()));
  const CommandResult ran =
      RunCommand({kSvcdBinary, "--listen", "127.0.0.1:" + std::to_string(PickFreePort()),
                  "--data-dir", data.string(), "--metrics-listen", busy},
                 {"PATH=/usr/bin:/bin"}, "", std::chrono::seconds(30));
  close(holder);
  std::error_code ignored;
  std::filesystem::remove_all(data, ignored);
  EXPECT_FALSE(ran.timed_out);
  EXPECT_EQ(ran.exit_code, 1) << ran.err;
  EXPECT_THAT(ran.err, HasSubstr("--metrics-listen " + busy + ": address already in use"));
}

SVCD_E2E_INSTANTIATE(DeployMetricsTest);

}  // namespace
}  // namespace svcd::e2e
