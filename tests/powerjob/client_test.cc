// The PowerJob client against the stand-in server over real HTTP on
// loopback, for both profiles, plus raw servers that reset connections.

#include "powerjob/client.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <thread>

#include "powerjob/wire.h"
#include "tests/powerjob/standin.h"

namespace svcd::powerjob {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::DeadUrl;
using testing::ResetServer;
using testing::Standin;
using testing::StandinOptions;

constexpr int64_t k2Pow53 = int64_t{1} << 53;

// Sends every log line of the test to a ring buffer, so a test can read
// what the client logged.
class CapturedLog {
 public:
  CapturedLog() : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(1000)) {
    previous_ = spdlog::default_logger();
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink_));
    spdlog::set_level(spdlog::level::debug);
  }
  ~CapturedLog() { spdlog::set_default_logger(previous_); }

  std::string Text() const {
    std::string text;
    for (const std::string& line : sink_->last_formatted()) text += line;
    return text;
  }

 private:
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
  std::shared_ptr<spdlog::logger> previous_;
};

StandinOptions WithProfile(std::string profile, std::vector<std::string> faults = {},
                           uint16_t port = 0) {
  StandinOptions options;
  options.profile = std::move(profile);
  options.faults = std::move(faults);
  options.port = port;
  return options;
}

// Returns the stand-in's count of `op` once it equals `expected`, or after
// 3 s: the stand-in records a call after writing its response.
int CountOf(const Standin& standin, const std::string& op, int expected) {
  dispatch::testing::WaitUntil([&] { return standin.Count(op) == expected; }, seconds(3));
  return standin.Count(op);
}

std::unique_ptr<Client> MakeClient(std::vector<std::string> servers, Profile profile,
                                   std::string password = testing::kPassword,
                                   milliseconds timeout = seconds(10)) {
  ClientOptions options;
  options.servers = std::move(servers);
  options.app_name = testing::kApp;
  options.password = std::move(password);
  options.profile = profile;
  options.timeout = timeout;
  StatusOr<std::unique_ptr<Client>> client = Client::Create(std::move(options));
  EXPECT_TRUE(client.ok()) << client.status().ToString();
  return client.ok() ? std::move(*client) : nullptr;
}

JobSpec ShellJob(const std::string& name) {
  JobSpec spec;
  spec.name = name;
  spec.params = "echo from-job-params\n";
  spec.designated_workers = testing::kWorker;
  return spec;
}

// Polls the instance until it finishes; returns its last record.
InstanceInfo WaitFinished(Client& client, int64_t instance_id) {
  InstanceInfo info;
  dispatch::testing::WaitUntil(
      [&] {
        StatusOr<InstanceInfo> read = client.FetchInstanceInfo(instance_id);
        if (read.ok()) info = *read;
        return read.ok() && IsFinished(info.status);
      },
      seconds(20));
  return info;
}

struct ProfileCase {
  std::string label;
  std::string standin_profile;
  Profile profile;
};

void PrintTo(const ProfileCase& value, std::ostream* out) { *out << value.label; }

class ClientProfileTest : public ::testing::TestWithParam<ProfileCase> {
 protected:
  void SetUp() override {
    StandinOptions options;
    options.profile = GetParam().standin_profile;
    standin_ = std::make_unique<Standin>(options);
    ASSERT_TRUE(standin_->Start()) << standin_->log();
  }

  std::unique_ptr<Standin> standin_;
};

TEST_P(ClientProfileTest, RunsShellJobWithIdAboveDoubleRange) {
  std::unique_ptr<Client> client = MakeClient({standin_->url()}, GetParam().profile);
  ASSERT_NE(client, nullptr);

  StatusOr<int64_t> job = client->SaveJob(ShellJob("client-test"));
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  StatusOr<JobInfo> info = client->FetchJob(*job);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->name, "client-test");
  EXPECT_EQ(info->designated_workers, testing::kWorker);
  EXPECT_EQ(info->processor_info, kShellProcessor);
  EXPECT_EQ(info->execute_type, 1);

  StatusOr<int64_t> instance = client->RunJob(*job, "echo from-instance 'a&b=c'\n");
  ASSERT_TRUE(instance.ok()) << instance.status().ToString();
  EXPECT_GT(*instance, k2Pow53);
  // The stand-in's own record, read as exact JSON integers, has the same id.
  bool listed = false;
  for (const auto& record : standin_->Instances()) {
    listed = listed || record["id"].get<int64_t>() == *instance;
  }
  EXPECT_TRUE(listed) << standin_->Instances().dump();

  InstanceInfo done = WaitFinished(*client, *instance);
  EXPECT_EQ(done.instance_id, *instance);
  EXPECT_EQ(done.status, kSucceed) << done.result;
  EXPECT_EQ(wire::ShellResultOutput(done.result), "from-instance a&b=c\n");
  StatusOr<int> status = client->FetchInstanceStatus(*instance);
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  EXPECT_EQ(*status, kSucceed);
  EXPECT_EQ(client->profile(),
            GetParam().profile == Profile::kAuto
                ? (GetParam().standin_profile == "5.1" ? Profile::kV5 : Profile::kV4)
                : GetParam().profile);
}

TEST_P(ClientProfileTest, WrongPasswordIsUnauthenticatedWithoutSecret) {
  CapturedLog log;
  const std::string password = "Wrong-Secret-31337";
  std::unique_ptr<Client> client = MakeClient({standin_->url()}, GetParam().profile, password);
  ASSERT_NE(client, nullptr);

  StatusOr<int64_t> job = client->SaveJob(ShellJob("never"));
  ASSERT_FALSE(job.ok());
  EXPECT_EQ(job.status().code(), Code::kUnauthenticated) << job.status().ToString();
  const std::string& message = job.status().message();
  EXPECT_NE(message.find("saveJob not sent"), std::string::npos) << message;
  EXPECT_NE(message.find(standin_->url()), std::string::npos) << message;
  EXPECT_EQ(message.find(password), std::string::npos) << message;
  EXPECT_EQ(message.find(wire::Md5Hex(password)), std::string::npos) << message;
  EXPECT_EQ(log.Text().find(password), std::string::npos);
  EXPECT_EQ(log.Text().find(wire::Md5Hex(password)), std::string::npos);
  EXPECT_EQ(CountOf(*standin_, "saveJob", 0), 0);
}

TEST_P(ClientProfileTest, ServerErrorNamesOperationServerAndMessage) {
  std::unique_ptr<Client> client = MakeClient({standin_->url()}, GetParam().profile);
  ASSERT_NE(client, nullptr);

  StatusOr<JobInfo> job = client->FetchJob(424242);
  ASSERT_FALSE(job.ok());
  EXPECT_EQ(job.status().code(), Code::kNotFound) << job.status().ToString();
  EXPECT_NE(job.status().message().find("fetchJob at " + standin_->url()), std::string::npos)
      << job.status().message();
  EXPECT_NE(job.status().message().find("can't find job by jobId: 424242"), std::string::npos)
      << job.status().message();
}

TEST_P(ClientProfileTest, StopOfFinishedInstanceIsFailedPrecondition) {
  std::unique_ptr<Client> client = MakeClient({standin_->url()}, GetParam().profile);
  ASSERT_NE(client, nullptr);
  StatusOr<int64_t> job = client->SaveJob(ShellJob("short"));
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  StatusOr<int64_t> instance = client->RunJob(*job, "exit 0\n");
  ASSERT_TRUE(instance.ok()) << instance.status().ToString();
  ASSERT_EQ(WaitFinished(*client, *instance).status, kSucceed);

  Status stopped = client->StopInstance(*instance);
  EXPECT_EQ(stopped.code(), Code::kFailedPrecondition) << stopped.ToString();
  EXPECT_NE(stopped.message().find("can't stop finished instance"), std::string::npos);
  EXPECT_TRUE(client->RetryInstance(*instance).ok());
  EXPECT_EQ(WaitFinished(*client, *instance).running_times, 2);
}

TEST_P(ClientProfileTest, FailsOverFromDeadUrlToLiveOne) {
  std::unique_ptr<Client> client =
      MakeClient({DeadUrl(), DeadUrl(), standin_->url()}, GetParam().profile);
  ASSERT_NE(client, nullptr);

  StatusOr<int64_t> job = client->SaveJob(ShellJob("failover"));
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  EXPECT_EQ(client->current_server(), standin_->url());
  StatusOr<int64_t> instance = client->RunJob(*job, "exit 0\n");
  ASSERT_TRUE(instance.ok()) << instance.status().ToString();
  EXPECT_EQ(CountOf(*standin_, "saveJob", 1), 1);
  EXPECT_EQ(CountOf(*standin_, "runJob", 1), 1);
}

TEST_P(ClientProfileTest, ResetBeforeAnswerMovesReadsOn) {
  ResetServer reset;
  std::unique_ptr<Client> client = MakeClient({reset.url(), standin_->url()}, GetParam().profile);
  ASSERT_NE(client, nullptr);

  // Authentication and fetchJob may be repeated, so after a reset they move
  // on to the live server, which the client then keeps using.
  StatusOr<JobInfo> missing = client->FetchJob(1);
  EXPECT_EQ(missing.status().code(), Code::kNotFound) << missing.status().ToString();
  EXPECT_GE(reset.connections(), 1);
  EXPECT_EQ(client->current_server(), standin_->url());
  EXPECT_EQ(CountOf(*standin_, "fetchJob", 1), 1);
}

TEST_P(ClientProfileTest, CloseBeforeAnswerDoesNotResendWrites) {
  StandinOptions options;
  options.profile = GetParam().standin_profile;
  Standin second(options);
  ASSERT_TRUE(second.Start()) << second.log();
  std::unique_ptr<Client> client = MakeClient({standin_->url(), second.url()}, GetParam().profile);
  ASSERT_NE(client, nullptr);
  StatusOr<int64_t> job = client->SaveJob(ShellJob("before"));
  ASSERT_TRUE(job.ok()) << job.status().ToString();

  // The first server now reads each request and closes without a response.
  standin_->SetFaults({{"server-down", true}});
  for (const std::string op : {"saveJob", "runJob"}) {
    StatusOr<int64_t> id =
        op == "saveJob" ? client->SaveJob(ShellJob("lost")) : client->RunJob(*job, "exit 0\n");
    ASSERT_FALSE(id.ok()) << op;
    EXPECT_EQ(id.status().code(), Code::kDeadlineExceeded) << id.status().ToString();
    EXPECT_NE(id.status().message().find(op + " at " + standin_->url()), std::string::npos)
        << id.status().message();
    EXPECT_NE(id.status().message().find(
                  "the answer was lost, and the call is not repeated automatically"),
              std::string::npos)
        << id.status().message();
    EXPECT_EQ(CountOf(second, op, 0), 0) << op;
  }

  // A read moves on to the second server.
  StatusOr<JobInfo> read = client->FetchJob(*job);
  EXPECT_EQ(read.status().code(), Code::kNotFound) << read.status().ToString();
  EXPECT_EQ(client->current_server(), second.url());
}

TEST_P(ClientProfileTest, SlowRunJobIsNotResent) {
  StandinOptions options;
  options.profile = GetParam().standin_profile;
  Standin second(options);
  ASSERT_TRUE(second.Start()) << second.log();
  std::unique_ptr<Client> client = MakeClient({standin_->url(), second.url()}, GetParam().profile,
                                              testing::kPassword, milliseconds(1000));
  ASSERT_NE(client, nullptr);
  StatusOr<int64_t> job = client->SaveJob(ShellJob("slow"));
  ASSERT_TRUE(job.ok()) << job.status().ToString();

  standin_->SetFaults({{"slow", 2.5}});
  StatusOr<int64_t> instance = client->RunJob(*job, "exit 0\n");
  ASSERT_FALSE(instance.ok());
  EXPECT_EQ(instance.status().code(), Code::kDeadlineExceeded) << instance.status().ToString();
  EXPECT_NE(instance.status().message().find(
                "the answer was lost, and the call is not repeated automatically"),
            std::string::npos)
      << instance.status().message();
  // NOTE: the stand-in leaves a call out of /_standin/calls when writing
  // its late response fails, so the instances it created are counted.
  std::this_thread::sleep_for(seconds(3));
  EXPECT_EQ(standin_->Instances().size(), 1u);
  EXPECT_EQ(second.Instances().size(), 0u);
  EXPECT_EQ(CountOf(second, "runJob", 0), 0);
}

TEST_P(ClientProfileTest, NoServerReachableIsUnavailable) {
  CapturedLog log;
  std::unique_ptr<Client> client = MakeClient({DeadUrl(), DeadUrl()}, GetParam().profile);
  ASSERT_NE(client, nullptr);
  StatusOr<int64_t> instance = client->RunJob(1, "exit 0\n");
  ASSERT_FALSE(instance.ok());
  EXPECT_EQ(instance.status().code(), Code::kUnavailable) << instance.status().ToString();
  EXPECT_NE(instance.status().message().find("runJob not sent"), std::string::npos);
  EXPECT_EQ(instance.status().message().find(testing::kPassword), std::string::npos);
  EXPECT_EQ(log.Text().find(testing::kPassword), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Profiles, ClientProfileTest,
                         ::testing::Values(ProfileCase{"v4", "4.3", Profile::kV4},
                                           ProfileCase{"v5", "5.1", Profile::kV5},
                                           ProfileCase{"auto_on_v4", "4.3", Profile::kAuto},
                                           ProfileCase{"auto_on_v5", "5.1", Profile::kAuto}),
                         [](const ::testing::TestParamInfo<ProfileCase>& info) {
                           return info.param.label;
                         });

TEST(ClientTest, AutoDetectsOldServerByNotFound) {
  Standin standin(WithProfile("4.3"));
  ASSERT_TRUE(standin.Start()) << standin.log();
  std::unique_ptr<Client> client = MakeClient({standin.url()}, Profile::kAuto);
  ASSERT_TRUE(client->SaveJob(ShellJob("auto")).ok());
  EXPECT_EQ(client->profile(), Profile::kV4);
  EXPECT_EQ(CountOf(standin, "authApp", 1), 1);
  EXPECT_EQ(CountOf(standin, "assert", 1), 1);
}

TEST(ClientTest, ReauthenticatesOnceAfterTokenRejection) {
  const uint16_t port = dispatch::testing::FreePort();
  StandinOptions options = WithProfile("5.1", {"openapi-auth"}, port);
  auto standin = std::make_unique<Standin>(options);
  ASSERT_TRUE(standin->Start()) << standin->log();
  std::unique_ptr<Client> client = MakeClient({standin->url()}, Profile::kV5);
  ASSERT_TRUE(client->SaveJob(ShellJob("first")).ok());

  // A restarted server signs with a new key, so the old token is invalid
  // (-401): the client authenticates again and repeats the call once.
  standin.reset();
  standin = std::make_unique<Standin>(options);
  ASSERT_TRUE(standin->Start()) << standin->log();
  StatusOr<int64_t> job = client->SaveJob(ShellJob("second"));
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  EXPECT_EQ(CountOf(*standin, "authApp", 1), 1);
  EXPECT_EQ(CountOf(*standin, "saveJob", 2), 2);
  EXPECT_EQ(standin->Calls()["calls"][0]["reply"]["code"], "-401");
}

TEST(ClientTest, StopsAfterOneReauthentication) {
  Standin standin(WithProfile("5.1", {"openapi-auth", "token-expired"}));
  ASSERT_TRUE(standin.Start()) << standin.log();
  std::unique_ptr<Client> client = MakeClient({standin.url()}, Profile::kV5);

  StatusOr<JobInfo> job = client->FetchJob(1);
  ASSERT_FALSE(job.ok());
  EXPECT_EQ(job.status().code(), Code::kUnauthenticated) << job.status().ToString();
  EXPECT_NE(job.status().message().find("TOKEN_EXPIRED"), std::string::npos);
  EXPECT_NE(job.status().message().find("code -403"), std::string::npos);
  EXPECT_EQ(CountOf(standin, "authApp", 2), 2);
  EXPECT_EQ(CountOf(standin, "fetchJob", 2), 2);
}

TEST(ClientTest, MissingAuthHeaderCausesNoResend) {
  Standin standin(WithProfile("5.1", {"missing-auth-header"}));
  ASSERT_TRUE(standin.Start()) << standin.log();
  std::unique_ptr<Client> client = MakeClient({standin.url()}, Profile::kV5);

  StatusOr<int64_t> job = client->SaveJob(ShellJob("once"));
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  StatusOr<int64_t> instance = client->RunJob(*job, "exit 0\n");
  ASSERT_TRUE(instance.ok()) << instance.status().ToString();
  EXPECT_EQ(CountOf(standin, "authApp", 1), 1);
  EXPECT_EQ(CountOf(standin, "saveJob", 1), 1);
  EXPECT_EQ(CountOf(standin, "runJob", 1), 1);
  EXPECT_EQ(standin.Instances().size(), 1u);
}

TEST(ClientTest, TokenHeadersCarryAppId) {
  Standin standin(WithProfile("5.1", {"openapi-auth"}));
  ASSERT_TRUE(standin.Start()) << standin.log();
  std::unique_ptr<Client> client = MakeClient({standin.url()}, Profile::kV5);
  ASSERT_TRUE(client->SaveJob(ShellJob("headers")).ok());
  const auto calls = standin.Calls()["calls"];
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[1]["op"], "saveJob");
  EXPECT_EQ(calls[1]["appIdHeader"], "1");
  EXPECT_EQ(calls[1]["tokenHeader"], "<redacted>");
}

TEST(ClientTest, OversizedInstanceParamsAreNotSent) {
  Standin standin(WithProfile("4.3"));
  ASSERT_TRUE(standin.Start()) << standin.log();
  std::unique_ptr<Client> client = MakeClient({standin.url()}, Profile::kV4);
  StatusOr<int64_t> job = client->SaveJob(ShellJob("big"));
  ASSERT_TRUE(job.ok());
  StatusOr<int64_t> instance = client->RunJob(*job, std::string(1024 * 1024, '\n'));
  ASSERT_FALSE(instance.ok());
  EXPECT_EQ(instance.status().code(), Code::kInvalidArgument) << instance.status().ToString();
  EXPECT_EQ(CountOf(standin, "runJob", 0), 0);
}

TEST(ClientTest, CreateRejectsBadOptions) {
  ClientOptions options;
  options.servers = {"ftp://x", "http://h:1/path", "10.0.0.5:7700"};
  options.timeout = milliseconds(0);
  StatusOr<std::unique_ptr<Client>> client = Client::Create(options);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), Code::kInvalidArgument);
  std::vector<std::string> fields;
  for (const Cause& cause : client.status().causes()) fields.push_back(cause.field);
  EXPECT_EQ(fields, (std::vector<std::string>{"servers[0]", "servers[1]", "app_name", "timeout"}));
}

TEST(ClientTest, ParseProfileNamesAcceptedValues) {
  EXPECT_EQ(*ParseProfile("4.3"), Profile::kV4);
  EXPECT_EQ(*ParseProfile("5"), Profile::kV5);
  EXPECT_EQ(*ParseProfile("auto"), Profile::kAuto);
  StatusOr<Profile> bad = ParseProfile("6", "--powerjob-version");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().causes().front().field, "--powerjob-version");
  EXPECT_NE(bad.status().message().find("auto, 4.3 or 5.1"), std::string::npos);
}

}  // namespace
}  // namespace svcd::powerjob
