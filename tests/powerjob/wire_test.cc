// The PowerJob wire format without a server: form bodies, envelopes, int64
// ids beyond 2^53, job and instance records, and the stop script's lines.

#include "powerjob/wire.h"

#include <gtest/gtest.h>

#include "powerjob/stop_script.h"

namespace svcd::powerjob {
namespace {

using nlohmann::json;

// 2^53 + 1 cannot be held by a double; a parse through one yields 2^53.
constexpr int64_t kAboveDoubleRange = 9007199254740993;
constexpr int64_t kSnowflakeId = 761377896689369793;

TEST(WireTest, FormEncodingEscapesReservedBytes) {
  EXPECT_EQ(wire::EncodeForm({{"a b", "x&y=z"}, {"s", "#!/bin/sh\n'q'%"}}),
            "a+b=x%26y%3Dz&s=%23%21%2Fbin%2Fsh%0A%27q%27%25");
  EXPECT_EQ(wire::EncodeForm({}), "");
  EXPECT_EQ(wire::EncodeForm({{"k", ""}}), "k=");
}

TEST(WireTest, EnvelopeKeepsIdAboveDoubleRange) {
  StatusOr<wire::Envelope> envelope =
      wire::ParseEnvelope(R"({"success":true,"data":9007199254740993,"message":null,"x":1})");
  ASSERT_TRUE(envelope.ok()) << envelope.status().ToString();
  EXPECT_TRUE(envelope->success);
  StatusOr<int64_t> id = wire::ReadInt64(envelope->data, "data");
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(*id, kAboveDoubleRange);
}

TEST(WireTest, ReadInt64RejectsFractionsAndOverflow) {
  for (const char* text : {"7.6e17", "761377896689369793.0", "9223372036854775808",
                           "99999999999999999999", "true", "\"12a\"", "\"\"", "null"}) {
    StatusOr<int64_t> value = wire::ReadInt64(json::parse(text), "data.instanceId");
    ASSERT_FALSE(value.ok()) << text;
    EXPECT_NE(value.status().message().find("data.instanceId"), std::string::npos) << text;
  }
  EXPECT_EQ(*wire::ReadInt64(json::parse("\"761377896689369793\""), "id"), kSnowflakeId);
  EXPECT_EQ(*wire::ReadInt64(json::parse("-5"), "id"), -5);
  EXPECT_EQ(*wire::ReadInt64(json::parse("9223372036854775807"), "id"), INT64_MAX);
}

TEST(WireTest, EnvelopeCarriesFailureMessageAndCode) {
  StatusOr<wire::Envelope> envelope = wire::ParseEnvelope(
      R"({"success":false,"data":null,"message":"TOKEN_EXPIRED:old","code":"-403"})");
  ASSERT_TRUE(envelope.ok());
  EXPECT_FALSE(envelope->success);
  EXPECT_EQ(envelope->message, "TOKEN_EXPIRED:old");
  EXPECT_EQ(envelope->code, "-403");
  EXPECT_TRUE(wire::IsAuthErrorCode(envelope->code));
  EXPECT_FALSE(wire::IsAuthErrorCode("-500"));
  EXPECT_FALSE(wire::IsAuthErrorCode(""));
}

TEST(WireTest, EnvelopeRejectsNonObjects) {
  EXPECT_FALSE(wire::ParseEnvelope("<html>").ok());
  EXPECT_FALSE(wire::ParseEnvelope("[1]").ok());
  EXPECT_FALSE(wire::ParseEnvelope(R"({"data":1})").ok());
  EXPECT_FALSE(wire::ParseEnvelope(R"({"success":"true"})").ok());
}

TEST(WireTest, InstanceInfoParsesEveryField) {
  const char* text = R"({"jobId":12,"appId":3,"instanceId":761377896689369793,
    "wfInstanceId":null,"jobParams":"#!/bin/sh","instanceParams":null,"status":5,"type":1,
    "result":"[INPUT]: hi\n;[ERROR]: ","expectedTriggerTime":1733570000000,
    "actualTriggerTime":1733570000015,"finishedTime":1733570003120,
    "taskTrackerAddress":"10.1.2.3:27777","runningTimes":1,
    "gmtCreate":"2024-12-07T11:13:20.000+00:00","gmtModified":1733570003125})";
  StatusOr<InstanceInfo> info = wire::ParseInstanceInfo(json::parse(text));
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->instance_id, kSnowflakeId);
  EXPECT_EQ(info->job_id, 12);
  EXPECT_EQ(info->status, kSucceed);
  EXPECT_EQ(info->result, "[INPUT]: hi\n;[ERROR]: ");
  EXPECT_EQ(info->instance_params, "");
  EXPECT_FALSE(info->wf_instance_id.has_value());
  EXPECT_EQ(info->actual_trigger_time_ms, 1733570000015);
  EXPECT_EQ(info->task_tracker_address, "10.1.2.3:27777");
  EXPECT_EQ(info->running_times, 1);
}

TEST(WireTest, InstanceInfoNamesBadField) {
  StatusOr<InstanceInfo> info =
      wire::ParseInstanceInfo(json::parse(R"({"instanceId":1.5e18,"status":1})"));
  ASSERT_FALSE(info.ok());
  EXPECT_NE(info.status().message().find("instanceId"), std::string::npos);
  info = wire::ParseInstanceInfo(json::parse(R"({"instanceId":1})"));
  ASSERT_FALSE(info.ok());
  EXPECT_NE(info.status().message().find("data.status is missing"), std::string::npos);
}

TEST(WireTest, JobInfoAcceptsCodesAndNames) {
  StatusOr<JobInfo> job = wire::ParseJobInfo(json::parse(
      R"({"id":7,"appId":1,"jobName":"j","timeExpressionType":1,"executeType":"STANDALONE",
          "processorType":1,"processorInfo":"p","designatedWorkers":"1.2.3.4:1","status":1})"));
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  EXPECT_EQ(job->id, 7);
  EXPECT_EQ(job->execute_type, 1);
  EXPECT_EQ(job->designated_workers, "1.2.3.4:1");
  EXPECT_FALSE(wire::ParseJobInfo(json::parse(R"({"id":7,"executeType":"ODD"})")).ok());
}

TEST(WireTest, JobSpecUsesPowerJobNames) {
  JobSpec spec;
  spec.name = "svcd-attempt@w";
  spec.designated_workers = "127.0.0.1:27777";
  json body = wire::EncodeJobSpec(spec, kAboveDoubleRange);
  EXPECT_EQ(body["appId"].get<int64_t>(), kAboveDoubleRange);
  EXPECT_EQ(body["timeExpressionType"], "API");
  EXPECT_EQ(body["executeType"], "STANDALONE");
  EXPECT_EQ(body["processorType"], "BUILT_IN");
  EXPECT_EQ(body["processorInfo"], kShellProcessor);
  EXPECT_EQ(body["instanceRetryNum"], 0);
  EXPECT_EQ(body["maxInstanceNum"], 0);
  EXPECT_EQ(body["enable"], true);
  EXPECT_FALSE(body.contains("id"));
  EXPECT_NE(body.dump().find("9007199254740993"), std::string::npos);
}

TEST(WireTest, AppAuthRejectsHeaderBreakingToken) {
  EXPECT_TRUE(wire::ParseAppAuth(json::parse(R"({"appId":1,"token":"a.b.c"})")).ok());
  StatusOr<wire::AppAuth> bad =
      wire::ParseAppAuth(json::parse(R"({"appId":1,"token":"a\r\nX-Evil: 1"})"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message().find("Evil"), std::string::npos);
  EXPECT_FALSE(wire::ParseAppAuth(json::parse(R"({"appId":1})")).ok());
}

TEST(WireTest, Md5MatchesKnownDigest) {
  EXPECT_EQ(wire::Md5Hex(""), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(wire::Md5Hex("abc"), "900150983cd24fb0d6963f7d28e17f72");
}

TEST(WireTest, ShellResultOutputTakesStdout) {
  EXPECT_EQ(wire::ShellResultOutput("[INPUT]: a\nb\n;[ERROR]: c\n"), "a\nb\n");
  EXPECT_EQ(wire::ShellResultOutput("no worker available"), "no worker available");
}

TEST(StopOutputTest, ParsesGoneAndSurvivors) {
  StatusOr<StopOutput> gone =
      ParseStopOutput("noise\nsvcd-stop: gone signalled=3 exit=137 claimed=0\n");
  ASSERT_TRUE(gone.ok()) << gone.status().ToString();
  EXPECT_TRUE(gone->result.stopped);
  EXPECT_EQ(gone->result.signalled, 3);
  EXPECT_EQ(gone->result.exit_status, 137);
  EXPECT_FALSE(gone->claimed);

  StatusOr<StopOutput> left = ParseStopOutput(
      "svcd-stop: survivors signalled=2 exit=none claimed=1 survivor=41:service:sleep "
      "survivor=42:launcher:sh\n");
  ASSERT_TRUE(left.ok()) << left.status().ToString();
  EXPECT_FALSE(left->result.stopped);
  EXPECT_FALSE(left->result.exit_status.has_value());
  EXPECT_TRUE(left->claimed);
  ASSERT_EQ(left->result.survivors.size(), 2u);
  EXPECT_EQ(left->result.survivors[0].pid, 41);
  EXPECT_EQ(left->result.survivors[0].role, "service");
  EXPECT_EQ(left->result.survivors[0].command, "sleep");
}

TEST(StopOutputTest, MissingOrErrorLineIsInternal) {
  StatusOr<StopOutput> none = ParseStopOutput("sh: 1: awk: not found\n");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), Code::kInternal);
  EXPECT_NE(none.status().message().find("awk: not found"), std::string::npos);
  StatusOr<StopOutput> error =
      ParseStopOutput("svcd-stop: error reason=cannot-create-run-directory");
  ASSERT_FALSE(error.ok());
  EXPECT_NE(error.status().message().find("cannot-create-run-directory"), std::string::npos);
}

TEST(StopOutputTest, InspectLineMapsOntoAttemptInfo) {
  StatusOr<dispatch::AttemptInfo> info = ParseInspectOutput(
      "svcd-inspect: claimed=1 pid=10 alive=1 launcher_pid=9 launcher_alive=1 exit=none "
      "stop_reason=none log_bytes=12 log_offset=6\n",
      "/run/a");
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->state, dispatch::AttemptState::kRunning);
  EXPECT_EQ(info->pid, 10);
  EXPECT_EQ(info->launcher_pid, 9);
  EXPECT_EQ(info->log_bytes, 12);
  EXPECT_EQ(info->log_bytes_reported, 6);
  EXPECT_EQ(info->attempt_dir, "/run/a");

  info = ParseInspectOutput(
      "svcd-inspect: claimed=1 pid=none alive=0 launcher_pid=none "
      "launcher_alive=0 exit=none stop_reason=cancelled log_bytes=0 "
      "log_offset=0",
      "/run/a");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->state, dispatch::AttemptState::kCancelled);
  EXPECT_EQ(info->stop_reason, "cancelled");

  info = ParseInspectOutput("svcd-inspect: claimed=0", "/run/a");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->state, dispatch::AttemptState::kNotClaimed);
}

TEST(StopScriptTest, RenderRejectsBadSpec) {
  StopScriptSpec spec;
  spec.run_dir = "relative/dir";
  spec.dispatch_id = "../x";
  spec.grace = std::chrono::milliseconds(-1);
  StatusOr<std::string> script = RenderStopScript(spec);
  ASSERT_FALSE(script.ok());
  EXPECT_EQ(script.status().code(), Code::kInvalidArgument);
  ASSERT_EQ(script.status().causes().size(), 3u);
  EXPECT_EQ(script.status().causes()[0].field, "run_dir");
  EXPECT_EQ(script.status().causes()[1].field, "dispatch_id");
  EXPECT_EQ(script.status().causes()[2].field, "grace");
}

TEST(StopScriptTest, RenderQuotesValues) {
  StopScriptSpec spec;
  spec.run_dir = "/tmp/it's here";
  spec.dispatch_id = "d-1";
  StatusOr<std::string> script = RenderStopScript(spec);
  ASSERT_TRUE(script.ok()) << script.status().ToString();
  EXPECT_EQ(script->rfind("#!/bin/sh\n", 0), 0u);
  EXPECT_NE(script->find("run_dir='/tmp/it'\\''s here'\n"), std::string::npos);
  EXPECT_NE(script->find("grace_polls='50'\n"), std::string::npos);
}

}  // namespace
}  // namespace svcd::powerjob
