// End-to-end tests of log archives and `svcctl logs`: the real svcd runs
// the stand-in model server through the local executor, and svcctl, tar
// and md5sum check what comes out.

#include <openssl/evp.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/e2e/deploy_fixture.h"

namespace svcd::e2e {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

const std::vector<std::string> kToolEnv = {"PATH=/usr/local/bin:/usr/bin:/bin", "LC_ALL=C",
                                           "TZ=UTC"};

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string Md5Hex(const std::string& bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_md5(), nullptr);
  std::string hex;
  char pair[3];
  for (unsigned int i = 0; i < length; ++i) {
    std::snprintf(pair, sizeof pair, "%02x", digest[i]);
    hex += pair;
  }
  return hex;
}

class ArchiveE2eTest : public DeployE2eTest {
 protected:
  std::string DeployPath(const std::string& name = "quickstart") const {
    return std::string(kApiPrefix) + "/namespaces/default/servicedeploys/" + name;
  }

  HttpReply Get(const std::string& path) const {
    return SendRequest("GET", Url() + path, "", RequestOptions().WithToken(token_));
  }

  // Returns the stored log lines of `target` (every attempt), oldest first.
  nlohmann::json LogLines(const std::string& target, const std::string& extra = "") const {
    const HttpReply reply = Get(DeployPath() + "/log?target=" + target + extra);
    EXPECT_EQ(reply.status, 200) << reply.Describe();
    return reply.Json().value("items", nlohmann::json::array());
  }

  static std::vector<std::string> Contents(const nlohmann::json& items) {
    std::vector<std::string> contents;
    for (const auto& item : items) contents.push_back(item.value("content", ""));
    return contents;
  }

  // Starts the quickstart and waits until it is Ready and the master's
  // "listening" line is stored.
  nlohmann::json StartQuickstart() {
    ApplyWithSvcctl(QuickstartYaml({}), "quickstart");
    nlohmann::json deploy = WaitReady("quickstart");
    TrackTargets(deploy);
    EXPECT_TRUE(WaitUntil(
        [&] {
          for (const std::string& line : Contents(LogLines("master"))) {
            if (line.find("listening on") != std::string::npos) return true;
          }
          return false;
        },
        std::chrono::seconds(20)));
    return deploy;
  }
};

TEST_P(ArchiveE2eTest, SvcctlArchiveMatchesRecordedMd5) {
  const nlohmann::json deploy = StartQuickstart();
  const std::string uid = deploy["metadata"].value("uid", "");
  const std::string file = (temp_dir() / "quickstart.tar.gz").string();

  const CommandResult archived = Ctl({"archive", "sd/quickstart", "-o", file});
  ASSERT_EQ(archived.exit_code, 0) << archived.out << archived.err;
  EXPECT_THAT(archived.out, HasSubstr("verified"));

  const HttpReply list = Get(std::string(kApiPrefix) + "/archives?uid=" + uid);
  ASSERT_EQ(list.status, 200) << list.Describe();
  const nlohmann::json items = list.Json()["items"];
  ASSERT_EQ(items.size(), 1u);
  const nlohmann::json record = items[0];
  const std::string bytes = ReadFile(file);
  EXPECT_EQ(Md5Hex(bytes), record.value("md5", ""));
  EXPECT_EQ(static_cast<int64_t>(bytes.size()), record.value("bytes", int64_t{0}));

  const CommandResult listing = RunCommand({"tar", "tzf", file}, kToolEnv);
  ASSERT_EQ(listing.exit_code, 0) << listing.err;
  EXPECT_EQ(listing.err, "");
  const std::vector<std::string> names = SplitLines(listing.out);
  ASSERT_FALSE(names.empty());
  const std::string top = names.front();
  EXPECT_THAT(top, ::testing::StartsWith("default-quickstart-"));
  for (const char* target : {"master", "worker-0", "worker-1"}) {
    EXPECT_THAT(names, Contains(top + "logs/" + std::string(target) + ".log"));
    EXPECT_THAT(names, Contains(top + "scripts/" + std::string(target) + ".sh"));
    EXPECT_THAT(names, Contains(top + "env/" + std::string(target) + ".env"));
  }

  // The archived master log is every stored line up to the recorded seq.
  int64_t last_seq = 0;
  for (const auto& coverage : record["targets"]) {
    if (coverage.value("name", "") == "master") last_seq = coverage.value("lastSeq", int64_t{0});
  }
  ASSERT_GT(last_seq, 0);
  std::vector<std::string> expected;
  for (const auto& line : LogLines("master")) {
    if (line.value("seq", int64_t{0}) > last_seq) break;
    expected.push_back(std::to_string(line.value("seq", int64_t{0})) + "\t" +
                       std::to_string(line.value("attempt", 0)) + "\t");
    expected.back() += line.value("content", "");
  }
  const CommandResult master =
      RunCommand({"tar", "-xzOf", file, top + "logs/master.log"}, kToolEnv);
  ASSERT_EQ(master.exit_code, 0) << master.err;
  std::vector<std::string> archived_lines;
  for (const std::string& line : SplitLines(master.out)) {
    // seq, attempt, time, source, content: drop time and source.
    const size_t second_tab = line.find('\t', line.find('\t') + 1);
    const size_t fourth_tab = line.find('\t', line.find('\t', second_tab + 1) + 1);
    archived_lines.push_back(line.substr(0, second_tab + 1) + line.substr(fourth_tab + 1));
  }
  EXPECT_EQ(archived_lines, expected);

  // The download route sends the recorded MD5 in both headers.
  HttpReply download = Get(record.value("downloadPath", ""));
  ASSERT_EQ(download.status, 200) << download.Describe();
  EXPECT_EQ(download.headers["x-svcd-md5"], record.value("md5", ""));
  EXPECT_EQ(download.headers["content-type"], "application/gzip");
  EXPECT_EQ(download.headers["content-md5"].size(), 24u);  // base64 of 16 bytes
  EXPECT_EQ(download.body, bytes);
}

TEST_P(ArchiveE2eTest, ArchivesStayListedAfterDelete) {
  const nlohmann::json deploy = StartQuickstart();
  const std::string uid = deploy["metadata"].value("uid", "");
  const HttpReply created =
      SendRequest("POST", Url() + DeployPath() + "/archives?reason=before%20delete", "",
                  RequestOptions().WithToken(token_));
  ASSERT_EQ(created.status, 201) << created.Describe();
  const std::string id = created.Json().value("id", "");
  EXPECT_THAT(created.Json().value("reason", ""), HasSubstr("before delete"));

  const CommandResult deleted = Ctl({"delete", "sd", "quickstart", "--wait", "--timeout", "60s"});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.err;
  EXPECT_EQ(Get(DeployPath() + "/archives").status, 404);

  const CommandResult listed = Ctl({"archive", "--uid", uid, "--list"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_THAT(listed.out, HasSubstr(id));
  const std::string file = (temp_dir() / "after-delete.tar.gz").string();
  const CommandResult downloaded = Ctl({"archive", "--uid", uid, "--id", id, "-o", file});
  ASSERT_EQ(downloaded.exit_code, 0) << downloaded.err;
  EXPECT_EQ(RunCommand({"tar", "tzf", file}, kToolEnv).exit_code, 0);

  // Hostile or missing parameters get clear 400s and 404s.
  EXPECT_EQ(Get(std::string(kApiPrefix) + "/archives").status, 400);
  EXPECT_EQ(Get(std::string(kApiPrefix) + "/archives?uid=..%2Fetc").status, 400);
  EXPECT_EQ(
      Get(std::string(kApiPrefix) + "/archives?uid=00000000-0000-4000-8000-000000000000").status,
      404);
  EXPECT_EQ(Get(std::string(kApiPrefix) + "/archives/not-an-id").status, 400);
  const CommandResult neither = Ctl({"archive"});
  EXPECT_EQ(neither.exit_code, 1);
  EXPECT_THAT(neither.err, HasSubstr("sd/NAME or --uid UID"));
}

// Deleting a deploy packs its logs before the finalizer goes: the archive
// is listed by uid afterwards, with the deletion as its reason, and holds
// every target's log.
TEST_P(ArchiveE2eTest, DeleteArchivesBeforeTheFinalizerGoes) {
  const nlohmann::json deploy = StartQuickstart();
  const std::string uid = deploy["metadata"].value("uid", "");
  const CommandResult deleted = Ctl({"delete", "sd", "quickstart", "--wait", "--timeout", "60s"});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.err;

  const HttpReply listed = Get(std::string(kApiPrefix) + "/archives?uid=" + uid);
  ASSERT_EQ(listed.status, 200) << listed.Describe();
  const nlohmann::json items = listed.Json()["items"];
  ASSERT_EQ(items.size(), 1u) << items.dump(2);
  EXPECT_EQ(items[0].value("reason", ""), "deploy deleted");

  const std::string file = (temp_dir() / "deleted.tar.gz").string();
  const CommandResult downloaded = Ctl({"archive", "--uid", uid, "-o", file});
  ASSERT_EQ(downloaded.exit_code, 0) << downloaded.err;
  const CommandResult contents = RunCommand({"tar", "tzf", file}, kToolEnv);
  ASSERT_EQ(contents.exit_code, 0) << contents.err;
  for (const char* target : {"master", "worker-0", "worker-1"}) {
    EXPECT_THAT(contents.out, HasSubstr(target)) << contents.out;
  }
}

TEST_P(ArchiveE2eTest, DamagedArchiveFileFailsLoudly) {
  StartQuickstart();
  const HttpReply created = SendRequest("POST", Url() + DeployPath() + "/archive", "",
                                        RequestOptions().WithToken(token_));
  ASSERT_EQ(created.status, 201) << created.Describe();
  const nlohmann::json record = created.Json();
  const std::string path = options().data_dir + "/archives/" + record.value("deployUid", "") + "/" +
                           record.value("id", "") + ".tar.gz";
  ASSERT_TRUE(std::filesystem::exists(path)) << path;
  {
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(20);
    file.put('\x5a');
  }
  const HttpReply download = Get(record.value("downloadPath", ""));
  EXPECT_EQ(download.status, 500) << download.Describe();
  EXPECT_THAT(download.body, HasSubstr("damaged"));
  const std::string out = (temp_dir() / "damaged.tar.gz").string();
  const CommandResult ctl = Ctl({"archive", "--uid", record.value("deployUid", ""), "-o", out});
  EXPECT_EQ(ctl.exit_code, 1);
  EXPECT_FALSE(std::filesystem::exists(out));

  // A recorded archive whose file is gone is a 404 that names the file.
  std::filesystem::remove(path);
  const HttpReply missing = Get(record.value("downloadPath", ""));
  EXPECT_EQ(missing.status, 404) << missing.Describe();
  EXPECT_THAT(missing.body, HasSubstr("is missing"));
}

TEST_P(ArchiveE2eTest, LargeArchiveDownloadsWhole) {
  // 12,500 base64 lines of random bytes per target: an archive of several
  // MB that gzip cannot shrink much, sent in many blocks from disk.
  DeployKnobs knobs;
  knobs.prefix_before = "head -c 1500000 /dev/urandom | base64 -w 160; ";
  ApplyWithSvcctl(QuickstartYaml(knobs), "quickstart");
  TrackTargets(WaitReady("quickstart"));
  CommandResult logs;
  ASSERT_TRUE(WaitUntil(
      [&] {
        logs = Ctl({"logs", "sd/quickstart", "--target", "worker-1"});
        size_t full = 0;
        for (const std::string& line : SplitLines(logs.out)) full += line.size() == 160;
        return full == 12500;
      },
      std::chrono::seconds(60)))
      << logs.err;

  const std::string file = (temp_dir() / "large.tar.gz").string();
  const CommandResult archived = Ctl({"archive", "sd/quickstart", "-o", file});
  ASSERT_EQ(archived.exit_code, 0) << archived.out << archived.err;
  const std::string bytes = ReadFile(file);
  EXPECT_GT(bytes.size(), 4'000'000u);
  const std::string uid = Get(DeployPath()).Json()["metadata"].value("uid", "");
  const HttpReply list = Get(std::string(kApiPrefix) + "/archives?uid=" + uid);
  ASSERT_EQ(list.status, 200) << list.Describe();
  const nlohmann::json record = list.Json()["items"].at(0);
  EXPECT_EQ(Md5Hex(bytes), record.value("md5", ""));
  EXPECT_EQ(static_cast<int64_t>(bytes.size()), record.value("bytes", int64_t{0}));

  HttpReply download = Get(record.value("downloadPath", ""));
  ASSERT_EQ(download.status, 200) << download.status;
  EXPECT_EQ(download.headers["content-length"], std::to_string(bytes.size()));
  EXPECT_TRUE(download.body == bytes);
  const CommandResult master = RunCommand(
      {"sh", "-c", "tar -xzOf \"$0\" --wildcards '*/logs/master.log' | wc -l", file}, kToolEnv);
  ASSERT_EQ(master.exit_code, 0) << master.err;
  EXPECT_GE(std::stoi(master.out), 12500);
}

TEST_P(ArchiveE2eTest, LogsPreviousAndSinceReturnTheRightLines) {
  const nlohmann::json deploy = StartQuickstart();
  const int64_t master_pid = Targets(deploy).at("master").value("pid", int64_t{0});
  ASSERT_GT(master_pid, 0);
  ASSERT_EQ(kill(static_cast<pid_t>(master_pid), SIGKILL), 0);
  nlohmann::json restarted;
  ASSERT_TRUE(WaitForDeploy(
      "quickstart",
      [](const nlohmann::json& d) {
        const TargetMap targets = Targets(d);
        auto it = targets.find("master");
        return it != targets.end() && it->second.value("attempts", 0) >= 1 &&
               it->second.value("state", "") == "READY";
      },
      std::chrono::seconds(60), &restarted));
  TrackTargets(restarted);

  // --previous: exactly the lines of the attempt before the latest.
  const nlohmann::json all = LogLines("master");
  ASSERT_FALSE(all.empty());
  const int latest = all.back().value("attempt", 0);
  ASSERT_GE(latest, 2);
  std::vector<std::string> previous;
  for (const auto& line : all) {
    if (line.value("attempt", 0) == latest - 1) previous.push_back(line.value("content", ""));
  }
  ASSERT_FALSE(previous.empty());
  const CommandResult previous_output =
      Ctl({"logs", "sd/quickstart", "--target", "master", "--previous"});
  ASSERT_EQ(previous_output.exit_code, 0) << previous_output.err;
  EXPECT_EQ(SplitLines(previous_output.out), previous);

  // --since with an RFC 3339 time: the lines stored from that second on.
  const std::string cut = all[all.size() / 2].value("time", "");
  ASSERT_FALSE(cut.empty());
  const CommandResult since = Ctl({"logs", "sd/quickstart", "--target", "master", "--since", cut});
  ASSERT_EQ(since.exit_code, 0) << since.err;
  const nlohmann::json now_all = LogLines("master");
  std::vector<std::string> expected;
  for (const auto& line : now_all) {
    if (line.value("time", "") >= cut) expected.push_back(line.value("content", ""));
  }
  const std::vector<std::string> got = SplitLines(since.out);
  // Probe lines may arrive between the two reads, so compare the prefix.
  ASSERT_LE(got.size(), expected.size());
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got, std::vector<std::string>(expected.begin(), expected.begin() + got.size()));
  EXPECT_LT(got.size(), now_all.size());

  const CommandResult hour = Ctl({"logs", "sd/quickstart", "--target", "master", "--since", "1h"});
  ASSERT_EQ(hour.exit_code, 0) << hour.err;
  EXPECT_GE(SplitLines(hour.out).size(), all.size());
  const CommandResult future =
      Ctl({"logs", "sd/quickstart", "--target", "master", "--since", "2999-01-01T00:00:00Z"});
  ASSERT_EQ(future.exit_code, 0) << future.err;
  EXPECT_EQ(future.out, "");

  const CommandResult bad = Ctl({"logs", "sd/quickstart", "--since", "yesterday"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.err, HasSubstr("--since"));
  const CommandResult follow_previous =
      Ctl({"logs", "sd/quickstart", "--target", "master", "--previous", "-f"});
  EXPECT_EQ(follow_previous.exit_code, 1);
  EXPECT_THAT(follow_previous.err, HasSubstr("drop -f"));
}

TEST_P(ArchiveE2eTest, LogRouteRejectsInvalidSince) {
  StartQuickstart();
  for (const std::string query :
       {"sinceSeconds=abc", "sinceSeconds=0", "sinceSeconds=-5", "sinceTime=yesterday",
        "sinceTime=2024-13-01T00:00:00Z", "sinceSeconds=5&sinceTime=2024-01-01T00:00:00Z"}) {
    const HttpReply reply = Get(DeployPath() + "/log?" + query);
    EXPECT_EQ(reply.status, 400) << query << ": " << reply.Describe();
    EXPECT_THAT(reply.Json().value("message", ""), HasSubstr("since")) << query;
  }
  const HttpReply offset =
      Get(DeployPath() + "/log?target=master&sinceTime=2999-01-01T02:00:00%2B02:00");
  ASSERT_EQ(offset.status, 200) << offset.Describe();
  EXPECT_THAT(offset.Json()["items"], IsEmpty());
  const HttpReply old = Get(DeployPath() + "/log?target=master&sinceTime=2000-01-01T00:00:00.5Z");
  ASSERT_EQ(old.status, 200) << old.Describe();
  EXPECT_THAT(old.Json()["items"], Not(IsEmpty()));
}

TEST_P(ArchiveE2eTest, DroppedFollowResumesWithoutGapsOrRepeats) {
  const uint16_t port = PickFreePort();
  ASSERT_EQ(StartOwnSvcd(port), "");
  StartQuickstart();

  // svcctl logs -f runs in the background, stdout and stderr apart.
  const std::string out_path = (temp_dir() / "follow.out").string();
  const std::string err_path = (temp_dir() / "follow.err").string();
  BackgroundProcess follower;
  ASSERT_TRUE(follower.Start(
      {"/bin/sh", "-c",
       "exec \"$0\" --server \"$1\" logs sd/quickstart --target master -f 2>\"$2\"", kSvcctlBinary,
       Url(), err_path},
      {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + temp_dir().string()}, out_path));
  auto printed = [&] { return SplitLines(ReadFile(out_path)); };
  ASSERT_TRUE(WaitUntil([&] { return printed().size() >= 3; }, std::chrono::seconds(20)));

  // svcd goes away for a while; the launchers and the probes go on.
  KillOwnSvcd();
  ASSERT_TRUE(
      WaitUntil([&] { return ReadFile(err_path).find("reconnecting") != std::string::npos; },
                std::chrono::seconds(20)))
      << ReadFile(err_path);
  // The killed svcd's controller lease (3 s) must expire before another
  // svcd may take the store.
  std::this_thread::sleep_for(std::chrono::seconds(4));
  const size_t before = printed().size();
  ASSERT_EQ(StartOwnSvcd(port), "");
  // Probe requests add a master line every second once svcd is back.
  ASSERT_TRUE(WaitUntil([&] { return printed().size() >= before + 4; }, std::chrono::seconds(40)))
      << ReadFile(err_path);
  follower.Stop(std::chrono::seconds(5));

  const std::vector<std::string> lines = printed();
  const std::vector<std::string> stored = Contents(LogLines("master"));
  ASSERT_LE(lines.size(), stored.size());
  EXPECT_EQ(lines, std::vector<std::string>(stored.begin(), stored.begin() + lines.size()));
  EXPECT_THAT(ReadFile(err_path), HasSubstr("reconnected"));
}

// svcctl logs -f of a deploy that is deleted ends with status 0 and names
// the archive that contains the deploy's lines.
TEST_P(ArchiveE2eTest, FollowEndsWhenTheDeployIsDeleted) {
  const nlohmann::json deploy = StartQuickstart();
  const std::string uid = deploy["metadata"].value("uid", "");
  const std::string out_path = (temp_dir() / "follow.out").string();
  const std::string err_path = (temp_dir() / "follow.err").string();
  BackgroundProcess follower;
  ASSERT_TRUE(follower.Start(
      {"/bin/sh", "-c", "exec \"$0\" --server \"$1\" logs sd/quickstart -f 2>\"$2\"", kSvcctlBinary,
       Url(), err_path},
      {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + temp_dir().string()}, out_path));
  ASSERT_TRUE(WaitUntil([&] { return !ReadFile(out_path).empty(); }, std::chrono::seconds(20)));

  const CommandResult deleted = Ctl({"delete", "sd", "quickstart", "--wait", "--timeout", "60s"});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.err;
  ASSERT_TRUE(WaitUntil([&] { return !follower.Running(); }, std::chrono::seconds(20)))
      << ReadFile(err_path);
  EXPECT_EQ(follower.exit_code(), 0) << ReadFile(err_path);
  EXPECT_THAT(ReadFile(err_path), HasSubstr("svcctl archive --uid " + uid));
  EXPECT_THAT(ReadFile(err_path), Not(HasSubstr("error:")));
}

SVCD_E2E_INSTANTIATE(ArchiveE2eTest);

}  // namespace
}  // namespace svcd::e2e
