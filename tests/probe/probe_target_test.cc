// Tests of ValidateProbeTarget: each problem is named by its field path.

#include <gtest/gtest.h>

#include <string>

#include "probe/system_prober.h"

namespace svcd::probe {
namespace {

ProbeTarget ValidHttp() {
  ProbeTarget target;
  target.address = "gpu-01.lab";
  target.probe.http = api::HttpProbe{};
  target.probe.http->port = 8000;
  return target;
}

// Returns the field of the only cause, or a description of what came back.
std::string OnlyCauseField(const Status& status) {
  if (status.ok()) return "<ok>";
  if (status.causes().size() != 1) return "<" + status.ToString() + ">";
  return status.causes()[0].field;
}

TEST(ProbeTargetTest, AcceptsEveryAddressForm) {
  for (const std::string address : {"10.0.0.12", "fd00::1", "[fd00::1]", "gpu-01.lab", "gpu1"}) {
    ProbeTarget target = ValidHttp();
    target.address = address;
    EXPECT_TRUE(ValidateProbeTarget(target).ok()) << address;
  }
}

TEST(ProbeTargetTest, RejectsBindAndBadAddresses) {
  for (const std::string address :
       {"", "0.0.0.0", "::", "[::]", "255.255.255.255", "224.0.0.1", "http://h", "h:80", "a b"}) {
    ProbeTarget target = ValidHttp();
    target.address = address;
    EXPECT_EQ(OnlyCauseField(ValidateProbeTarget(target)), "address") << address;
  }
}

TEST(ProbeTargetTest, NamesFieldOfEachProblem) {
  struct Case {
    std::string field;
    void (*mutate)(ProbeTarget&);
  };
  const Case kCases[] = {
      {"probe", [](ProbeTarget& t) { t.probe.tcp = api::TcpProbe{80}; }},
      {"port", [](ProbeTarget& t) { t.port = 70000; }},
      {"probe.http.port", [](ProbeTarget& t) { t.probe.http->port = 0; }},
      {"probe.http.method", [](ProbeTarget& t) { t.probe.http->method = "DELETE"; }},
      {"probe.http.path", [](ProbeTarget& t) { t.probe.http->path = "/a b"; }},
      {"probe.http.path", [](ProbeTarget& t) { t.probe.http->path = "health"; }},
      {"probe.http.headers[0].name",
       [](ProbeTarget& t) {
         t.probe.http->headers = {{"A:B", ""}};
       }},
      {"probe.http.headers[0].name",
       [](ProbeTarget& t) {
         t.probe.http->headers = {{"Content-Length", "3"}};
       }},
      {"probe.http.headers[0].value",
       [](ProbeTarget& t) {
         t.probe.http->headers = {{"X", "a\r\nInjected: 1"}};
       }},
      {"probe.http.expectStatus", [](ProbeTarget& t) { t.probe.http->expect_status = 99; }},
      {"probe.periodSeconds", [](ProbeTarget& t) { t.probe.period_seconds = 0; }},
      {"probe.timeoutSeconds", [](ProbeTarget& t) { t.probe.timeout_seconds = 0; }},
      {"probe.initialDelaySeconds", [](ProbeTarget& t) { t.probe.initial_delay_seconds = -1; }},
      {"probe.failureThreshold", [](ProbeTarget& t) { t.probe.failure_threshold = 0; }},
      {"probe.successThreshold", [](ProbeTarget& t) { t.probe.success_threshold = 0; }},
  };
  for (const Case& c : kCases) {
    ProbeTarget target = ValidHttp();
    c.mutate(target);
    Status status = ValidateProbeTarget(target);
    EXPECT_EQ(status.code(), Code::kInvalidArgument) << c.field;
    EXPECT_EQ(OnlyCauseField(status), c.field);
  }
}

TEST(ProbeTargetTest, ExecNeedsNoAddress) {
  ProbeTarget target;
  target.probe.exec = api::ExecProbe{{"true"}};
  EXPECT_TRUE(ValidateProbeTarget(target).ok());

  target.probe.exec->command = {};
  EXPECT_EQ(OnlyCauseField(ValidateProbeTarget(target)), "probe.exec.command");
  target.probe.exec->command = {"true", std::string("a\0b", 3)};
  EXPECT_EQ(OnlyCauseField(ValidateProbeTarget(target)), "probe.exec.command[1]");
}

TEST(ProbeTargetTest, ProberReportsInvalidTarget) {
  ProbeTarget target = ValidHttp();
  target.address = "0.0.0.0";

  ProbeResult result = SystemProber().Run(target);

  EXPECT_EQ(result.failure, FailureKind::kInvalidProbe);
  EXPECT_EQ(result.message.rfind("address: ", 0), 0u) << result.message;
}

}  // namespace
}  // namespace svcd::probe
