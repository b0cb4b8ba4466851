// The report parser on hostile input, and the report handler behind a real
// HTTP server on 127.0.0.1 driven by curl.

#include "dispatch/reports.h"

#include <gtest/gtest.h>

#include <string>

#include "dispatch/report_handler.h"
#include "tests/dispatch/test_support.h"

namespace svcd::dispatch {
namespace {

using std::chrono::seconds;
using Query = std::map<std::string, std::string>;

constexpr char kSecret[] = "s3cret-0123456789abcdef";

StatusOr<Report> Parse(const std::string& event, const std::string& body, Query extra = {}) {
  Query query = {{"event", event}, {"lease", "3"}};
  query.insert(extra.begin(), extra.end());
  return ParseReport("d-1", query, kSecret, body);
}

std::string FirstField(const StatusOr<Report>& report) {
  if (report.ok() || report.status().causes().empty()) return "";
  return report.status().causes().front().field;
}

TEST(ParseReportTest, ReadsEveryEvent) {
  StatusOr<Report> started =
      Parse("started", R"({"pid":42,"startTimeMs":1700000000000,"hostname":"gpu-01"})");
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  EXPECT_EQ(started->context.dispatch_id, "d-1");
  EXPECT_EQ(started->context.lease, 3);
  EXPECT_EQ(std::get<StartedReport>(started->payload),
            (StartedReport{42, 1700000000000, "gpu-01"}));

  StatusOr<Report> heartbeat =
      Parse("heartbeat", R"({"pid":42,"ports":[8000,8001],"cpuPercent":12.5,"memBytes":1024})");
  ASSERT_TRUE(heartbeat.ok()) << heartbeat.status().ToString();
  EXPECT_EQ(std::get<HeartbeatReport>(heartbeat->payload),
            (HeartbeatReport{42, {8000, 8001}, 12.5, 1024}));

  StatusOr<Report> log = Parse("log", std::string("a\0\xff\n", 4), {{"offset", "10"}});
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  EXPECT_EQ(std::get<LogReport>(log->payload), (LogReport{10, std::string("a\0\xff\n", 4)}));

  StatusOr<Report> exit = Parse("exit", R"({"exitCode":137})");
  ASSERT_TRUE(exit.ok()) << exit.status().ToString();
  EXPECT_EQ(std::get<ExitReport>(exit->payload).exit_code, 137);

  StatusOr<Report> probe = Parse("probe", std::string("not ready\n\0", 11),
                                 {{"seq", "7"},
                                  {"exitCode", "3"},
                                  {"timedOut", "0"},
                                  {"latencyMs", "120"},
                                  {"startedMs", "1700000000000"}});
  ASSERT_TRUE(probe.ok()) << probe.status().ToString();
  EXPECT_EQ(std::get<ProbeReport>(probe->payload),
            (ProbeReport{7, 3, false, 120, 1700000000000, std::string("not ready\n\0", 11)}));
}

TEST(ParseReportTest, RejectsHostileProbeQueries) {
  const Query good = {
      {"seq", "1"}, {"exitCode", "0"}, {"timedOut", "1"}, {"latencyMs", "5"}, {"startedMs", "1"}};
  ASSERT_TRUE(Parse("probe", "", good).ok());
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"seq", "0"},      {"seq", "-1"},    {"exitCode", "256"},  {"exitCode", "x"},
      {"timedOut", "2"}, {"timedOut", ""}, {"latencyMs", "1.5"}, {"startedMs", "-3"},
  };
  for (const auto& [field, value] : bad) {
    Query query = good;
    query[field] = value;
    StatusOr<Report> report = Parse("probe", "", query);
    ASSERT_FALSE(report.ok()) << field << "=" << value;
    EXPECT_EQ(FirstField(report), "query." + field) << report.status().ToString();
  }
  for (const auto& [field, value] : good) {
    Query query = good;
    query.erase(field);
    EXPECT_EQ(FirstField(Parse("probe", "", query)), "query." + field);
  }
  ReportLimits limits;
  limits.max_probe_output_bytes = 4;
  Query query = good;
  query["event"] = "probe";
  query["lease"] = "1";
  EXPECT_EQ(ParseReport("d-1", query, kSecret, "12345", limits).status().code(),
            Code::kResourceExhausted);
}

TEST(ParseReportTest, RejectsHostileInputNamingField) {
  struct Case {
    std::string event;
    std::string body;
    Query extra;
    std::string field;
  };
  const std::vector<Case> cases = {
      {"restart", "{}", {}, "query.event"},
      {"started", "{\"pid\":", {}, "body"},
      {"started", "[1]", {}, "body"},
      {"started", R"({"pid":-5,"startTimeMs":1,"hostname":"h"})", {}, "body.pid"},
      {"started", R"({"pid":0,"startTimeMs":1,"hostname":"h"})", {}, "body.pid"},
      {"started", R"({"pid":"42","startTimeMs":1,"hostname":"h"})", {}, "body.pid"},
      {"started", R"({"pid":4,"startTimeMs":1})", {}, "body.hostname"},
      {"started", R"({"pid":4,"startTimeMs":1,"hostname":"h","x":1})", {}, "body.x"},
      {"heartbeat",
       R"({"pid":4,"ports":[80,70000],"cpuPercent":1,"memBytes":1})",
       {},
       "body.ports[1]"},
      {"heartbeat", R"({"pid":4,"ports":[0],"cpuPercent":1,"memBytes":1})", {}, "body.ports[0]"},
      {"heartbeat",
       R"({"pid":4,"ports":[80],"cpuPercent":-1,"memBytes":1})",
       {},
       "body.cpuPercent"},
      {"heartbeat", R"({"pid":4,"ports":[80],"cpuPercent":1,"memBytes":-1})", {}, "body.memBytes"},
      {"heartbeat",
       R"({"pid":18446744073709551615,"ports":[],"cpuPercent":1,"memBytes":1})",
       {},
       "body.pid"},
      {"exit", R"({"exitCode":256})", {}, "body.exitCode"},
      {"log", "bytes", {}, "query.offset"},
      {"log", "bytes", {{"offset", "-1"}}, "query.offset"},
      {"log", "bytes", {{"offset", "1e3"}}, "query.offset"},
  };
  for (const Case& c : cases) {
    StatusOr<Report> report = Parse(c.event, c.body, c.extra);
    ASSERT_FALSE(report.ok()) << c.event << " " << c.body;
    EXPECT_EQ(report.status().code(), Code::kInvalidArgument) << c.body;
    EXPECT_EQ(FirstField(report), c.field) << c.body << ": " << report.status().ToString();
  }
}

TEST(ParseReportTest, RejectsMissingSecretLeaseAndBadId) {
  Query query = {{"event", "exit"}, {"lease", "1"}};
  EXPECT_EQ(ParseReport("d-1", query, "", R"({"exitCode":0})").status().code(),
            Code::kUnauthenticated);
  EXPECT_EQ(FirstField(ParseReport("../x", query, kSecret, R"({"exitCode":0})")),
            "path.dispatchId");
  query.erase("lease");
  EXPECT_EQ(FirstField(ParseReport("d-1", query, kSecret, R"({"exitCode":0})")), "query.lease");
  query["lease"] = "abc";
  EXPECT_EQ(FirstField(ParseReport("d-1", query, kSecret, R"({"exitCode":0})")), "query.lease");
}

TEST(ParseReportTest, RejectsBodiesOverLimit) {
  ReportLimits limits;
  limits.max_log_bytes = 8;
  limits.max_json_bytes = 32;
  const Query log = {{"event", "log"}, {"lease", "1"}, {"offset", "0"}};
  EXPECT_TRUE(ParseReport("d-1", log, kSecret, "12345678", limits).ok());
  EXPECT_EQ(ParseReport("d-1", log, kSecret, "123456789", limits).status().code(),
            Code::kResourceExhausted);
  const Query exit = {{"event", "exit"}, {"lease", "1"}};
  EXPECT_EQ(ParseReport("d-1", exit, kSecret, std::string(33, ' '), limits).status().code(),
            Code::kResourceExhausted);
}

TEST(SecretsEqualTest, ComparesWholeSecrets) {
  EXPECT_TRUE(SecretsEqual("abc", "abc"));
  EXPECT_FALSE(SecretsEqual("abd", "abc"));
  EXPECT_FALSE(SecretsEqual("ab", "abc"));
  EXPECT_FALSE(SecretsEqual("abcd", "abc"));
  EXPECT_FALSE(SecretsEqual("", "abc"));
}

// Posts one report with curl and returns the HTTP status code.
int PostWithCurl(const std::string& url, const std::string& secret, const std::string& body,
                 testing::TempDir& dir) {
  testing::WriteFile(dir.path() / "body", body);
  std::vector<std::string> argv = {"/usr/bin/curl",
                                   "-s",
                                   "-o",
                                   "/dev/null",
                                   "-w",
                                   "%{http_code}",
                                   "-X",
                                   "POST",
                                   "-H",
                                   "Expect:",
                                   "--data-binary",
                                   "@" + (dir.path() / "body").string(),
                                   url};
  if (!secret.empty()) {
    argv.insert(argv.end() - 1, {"-H", std::string(kSecretHeader) + ": " + secret});
  }
  std::filesystem::remove(dir.path() / "curl.out");
  testing::ChildProcess curl(argv, {}, dir.path() / "curl.out");
  if (curl.Wait(seconds(20)) != 0) return -1;
  return std::stoi(testing::ReadFile(dir.path() / "curl.out"));
}

TEST(ReportHandlerTest, MapsOutcomesToHttpCodes) {
  testing::TempDir dir;
  testing::ReportServer server;
  ASSERT_TRUE(server.Start());
  server.sink().AddAttempt("d-1", kSecret, 5);
  const std::string base = server.BaseUrl() + kReportPathPrefix;
  const std::string exit = R"({"exitCode":3})";

  EXPECT_EQ(PostWithCurl(base + "d-1?event=exit&lease=5", kSecret, exit, dir), 200);
  EXPECT_EQ(PostWithCurl(base + "d-1?event=exit&lease=5", "wrong-secret-000000", exit, dir), 401);
  EXPECT_EQ(PostWithCurl(base + "d-1?event=exit&lease=5", "", exit, dir), 401);
  EXPECT_EQ(PostWithCurl(base + "d-1?event=exit&lease=4", kSecret, exit, dir), 409);
  EXPECT_EQ(PostWithCurl(base + "d-2?event=exit&lease=5", kSecret, exit, dir), 404);
  EXPECT_EQ(PostWithCurl(base + "d-1?event=exit&lease=5", kSecret, "{", dir), 400);
  EXPECT_EQ(PostWithCurl(base + "d-1?event=exit&lease=5", kSecret, R"({"exitCode":-1})", dir), 422);
  EXPECT_EQ(PostWithCurl(base + "d-1?event=nap&lease=5", kSecret, exit, dir), 422);
  EXPECT_EQ(PostWithCurl(base + "d-1?event=log&lease=5&offset=0", kSecret,
                         std::string(kDefaultMaxLogChunkBytes + 1, 'x'), dir),
            413);

  std::optional<FakeObservationSink::Attempt> attempt = server.sink().Get("d-1");
  ASSERT_TRUE(attempt.has_value());
  ASSERT_EQ(attempt->exits.size(), 1u);
  EXPECT_EQ(attempt->exits[0].exit_code, 3);
  EXPECT_EQ(attempt->rejected[Code::kUnauthenticated], 1);
  EXPECT_EQ(attempt->rejected[Code::kAborted], 1);
}

// A sink that fails every report with one fixed code.
class FailingSink final : public ObservationSink {
 public:
  explicit FailingSink(Status status) : status_(std::move(status)) {}
  Status OnStarted(const ReportContext&, const StartedReport&) override { return status_; }
  Status OnHeartbeat(const ReportContext&, const HeartbeatReport&) override { return status_; }
  Status OnLog(const ReportContext&, int64_t, std::string_view) override { return status_; }
  Status OnExit(const ReportContext&, const ExitReport&) override { return status_; }
  Status OnProbe(const ReportContext&, const ProbeReport&) override { return status_; }

 private:
  Status status_;
};

TEST(ReportHandlerTest, RepliesToOtherSinkErrorsWith500) {
  server::Request request;
  request.method = "POST";
  request.query = {{"event", "exit"}, {"lease", "1"}};
  request.headers = {{"x-svcd-attempt-secret", kSecret}};
  request.body = R"({"exitCode":0})";
  const server::PathParams params = {{"dispatchId", "d-1"}};

  // FailedPrecondition would be 409 by the usual mapping, which a launcher
  // takes for "superseded"; the handler must not let that through.
  FailingSink precondition(Status::FailedPrecondition("target is being deleted"));
  EXPECT_EQ(MakeReportHandler(precondition)(request, params).status, 500);
  FailingSink unavailable(Status::Unavailable("store is down"));
  EXPECT_EQ(MakeReportHandler(unavailable)(request, params).status, 503);
  FailingSink aborted(Status::Aborted("superseded"));
  EXPECT_EQ(MakeReportHandler(aborted)(request, params).status, 409);
}

}  // namespace
}  // namespace svcd::dispatch
