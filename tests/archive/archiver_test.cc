// Tests of the Archiver and the tar.gz writer: real files checked with the
// system's tar, gzip and md5sum, over a real store (SQLite and MariaDB).

#include "archive/archiver.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "archive/tar_gz_writer.h"
#include "tests/archive/archive_test_support.h"
#include "tests/e2e/process.h"

namespace svcd::archive_test {
namespace {

namespace fs = std::filesystem;
using ::testing::Contains;
using ::testing::HasSubstr;

const std::vector<std::string> kToolEnv = {"PATH=/usr/local/bin:/usr/bin:/bin", "LC_ALL=C",
                                           "TZ=UTC"};

e2e::CommandResult Tool(const std::vector<std::string>& argv) {
  return e2e::RunCommand(argv, kToolEnv);
}

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

// Returns what `tar -xzOf ARCHIVE MEMBER` prints.
std::string Member(const std::string& archive, const std::string& member) {
  e2e::CommandResult result = Tool({"tar", "-xzOf", archive, member});
  EXPECT_EQ(result.exit_code, 0) << member << ": " << result.err;
  return result.out;
}

class ArchiverTest : public ArchiveStoreFixture {
 protected:
  void SetUp() override {
    ArchiveStoreFixture::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    data_dir_ =
        fs::temp_directory_path() / ("svcd-archive-test-" + ::svcd::testing::RandomSuffix());
    fs::create_directories(data_dir_);
  }
  void TearDown() override {
    std::error_code ignored;
    if (!data_dir_.empty()) fs::remove_all(data_dir_, ignored);
  }

  archive::ArchiverOptions Options() {
    archive::ArchiverOptions options;
    options.data_dir = data_dir_.string();
    options.now_ms = [this] { return now_ms_.load(); };
    return options;
  }

  std::string PathOf(const store::ArchiveRecord& record) {
    return record.storage_url.substr(std::string("file://").size());
  }

  // Returns the names of the files under the deploy's archive folder.
  std::vector<std::string> ArchiveFiles() {
    std::vector<std::string> names;
    const fs::path folder = data_dir_ / "archives" / deploy_;
    if (!fs::exists(folder)) return names;
    for (const auto& entry : fs::directory_iterator(folder)) {
      names.push_back(entry.path().filename().string());
    }
    return names;
  }

  fs::path data_dir_;
};

TEST_P(ArchiverTest, ArchiveHoldsEveryTargetLogAndScript) {
  // Two attempts of the master, with svcd's own lines beside the service's.
  StatusOr<store::DispatchRecord> first =
      runtime().BeginAttempt(deploy_, "master", "local", std::string(64, 'a'), 0);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_TRUE(runtime()
                  .AppendLog(first->dispatch_id, first->lease_version, 0,
                             "loading model\nlistening\tport 8000\n")
                  .ok());
  ASSERT_TRUE(runtime().AppendAgentLog(deploy_, "master", "probe failed: refused").ok());
  StatusOr<store::DispatchRecord> second =
      runtime().BeginAttempt(deploy_, "master", "local", std::string(64, 'b'), 1);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  ASSERT_TRUE(
      runtime().AppendLog(second->dispatch_id, second->lease_version, 0, "second attempt\n").ok());
  AddLines("worker-0", 3, "w0");

  archive::Archiver archiver(*store_, Options());
  StatusOr<store::ArchiveRecord> record = archiver.ArchiveDeploy(deploy_, "unit test");
  ASSERT_TRUE(record.ok()) << record.status().ToString();
  const std::string path = PathOf(*record);
  ASSERT_TRUE(fs::exists(path)) << path;

  // The recorded size and MD5 are the file's, as md5sum computes it.
  EXPECT_EQ(record->bytes, static_cast<int64_t>(fs::file_size(path)));
  e2e::CommandResult md5sum = Tool({"md5sum", path});
  ASSERT_EQ(md5sum.exit_code, 0) << md5sum.err;
  EXPECT_EQ(md5sum.out.substr(0, 32), record->md5);
  EXPECT_EQ(Tool({"gzip", "-t", path}).exit_code, 0);

  e2e::CommandResult listing = Tool({"tar", "tzf", path});
  ASSERT_EQ(listing.exit_code, 0) << listing.err;
  EXPECT_EQ(listing.err, "");
  const std::vector<std::string> names = SplitLines(listing.out);
  const std::string top = "eval-qwen-20231114T221320Z/";
  for (const std::string& name :
       {"", "logs/master.log", "logs/worker-0.log", "logs/worker-1.log", "scripts/master.sh",
        "scripts/worker-1.sh", "env/worker-0.env", "archive.json"}) {
    EXPECT_THAT(names, Contains(top + name));
  }

  const std::vector<std::string> master = SplitLines(Member(path, top + "logs/master.log"));
  ASSERT_EQ(master.size(), 4u);
  EXPECT_EQ(master[0], "1\t1\t2023-11-14T22:13:20.000Z\tSERVICE\tloading model");
  EXPECT_EQ(master[1], "2\t1\t2023-11-14T22:13:20.000Z\tSERVICE\tlistening\tport 8000");
  EXPECT_EQ(master[2], "3\t1\t2023-11-14T22:13:20.000Z\tAGENT\tprobe failed: refused");
  EXPECT_EQ(master[3], "4\t2\t2023-11-14T22:13:20.000Z\tSERVICE\tsecond attempt");
  EXPECT_EQ(Member(path, top + "scripts/master.sh"), MakePlan(0).cmd_rendered);
  EXPECT_EQ(Member(path, top + "env/worker-1.env"), MakePlan(2).env_rendered);

  nlohmann::json manifest = nlohmann::json::parse(Member(path, top + "archive.json"));
  EXPECT_EQ(manifest["deploy"]["uid"], deploy_);
  EXPECT_EQ(manifest["reason"], "unit test");
  EXPECT_EQ(manifest["targets"][0]["lastSeq"], 4);
  EXPECT_EQ(manifest["targets"][2]["lines"], 0);

  ASSERT_EQ(record->targets.size(), 2u);  // worker-1 has no lines
  EXPECT_EQ(record->targets[0].target, "master");
  EXPECT_EQ(record->targets[0].last_seq, 4);
  EXPECT_EQ(record->targets[1].lines, 3);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM svc_artifact WHERE kind = 'SCRIPT'"), 3);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM svc_artifact WHERE kind = 'ENV_FILE'"), 3);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM svc_artifact WHERE kind = 'ARCHIVE' AND checksum = 'md5:" +
                  record->md5 + "'"),
            1);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM svc_artifact WHERE kind = 'SCRIPT' AND dispatch_id = '" +
                  second->dispatch_id + "'"),
            1);
  EXPECT_THAT(ArchiveFiles(), ::testing::ElementsAre(record->archive_id + ".tar.gz"));
}

TEST_P(ArchiverTest, LaterArchiveKeepsEarlierScriptsOnce) {
  archive::Archiver archiver(*store_, Options());
  ASSERT_TRUE(archiver.ArchiveDeploy(deploy_, "first").ok());
  ASSERT_TRUE(
      runtime().SyncTargets(deploy_, {MakePlan(0, 2), MakePlan(1, 2), MakePlan(2, 2)}, kUser).ok());
  now_ms_ += 1000;
  StatusOr<store::ArchiveRecord> second = archiver.ArchiveDeploy(deploy_, "second");
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  // Generation 2 changed every script but no env file.
  EXPECT_EQ(Count("SELECT COUNT(*) FROM svc_artifact WHERE kind = 'SCRIPT'"), 6);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM svc_artifact WHERE kind = 'ENV_FILE'"), 3);

  const std::string path = PathOf(*second);
  const std::string top = "eval-qwen-20231114T221321Z/";
  e2e::CommandResult listing = Tool({"tar", "tzf", path});
  ASSERT_EQ(listing.exit_code, 0) << listing.err;
  int history = 0;
  for (const std::string& name : SplitLines(listing.out)) {
    if (name.rfind(top + "history/master/", 0) != 0) continue;
    ++history;
    EXPECT_EQ(Member(path, name), MakePlan(0, 1).cmd_rendered);
  }
  EXPECT_EQ(history, 1);
  EXPECT_EQ(Member(path, top + "scripts/master.sh"), MakePlan(0, 2).cmd_rendered);
}

TEST_P(ArchiverTest, RetentionSweepArchivesNewLinesThenPrunes) {
  archive::ArchiverOptions options = Options();
  options.retention = {.max_lines = 10, .max_bytes = 1 << 20};
  archive::Archiver archiver(*store_, options);
  AddLines("master", 11);
  // 11 lines are within the bound plus 10 % slack: nothing happens.
  ASSERT_TRUE(archiver.SweepRetention().ok());
  EXPECT_EQ(Count("SELECT COUNT(*) FROM log_archive"), 0);

  AddLines("master", 19, "more");
  Status swept = archiver.SweepRetention();
  ASSERT_TRUE(swept.ok()) << swept.ToString();
  StatusOr<std::vector<store::ArchiveRecord>> archives = runtime().ListArchives(deploy_);
  ASSERT_TRUE(archives.ok());
  ASSERT_EQ(archives->size(), 1u);
  EXPECT_EQ(archives->front().targets.at(0).first_seq, 1);
  EXPECT_EQ(archives->front().targets.at(0).last_seq, 30);
  std::vector<store::LogLine> left = AllLines("master");
  ASSERT_EQ(left.size(), 10u);
  EXPECT_EQ(left.front().seq, 21);

  // The next retention archive contains only the lines no earlier archive contains.
  AddLines("master", 5, "late");
  now_ms_ += 1000;
  ASSERT_TRUE(archiver.SweepRetention().ok());
  archives = runtime().ListArchives(deploy_);
  ASSERT_TRUE(archives.ok());
  ASSERT_EQ(archives->size(), 2u);
  EXPECT_EQ(archives->front().targets.at(0).first_seq, 31);
  EXPECT_EQ(archives->front().targets.at(0).last_seq, 35);
  EXPECT_EQ(AllLines("master").front().seq, 26);
}

TEST_P(ArchiverTest, FailedRecordLeavesNoArchiveBehind) {
  AddLines("master", 3);
  archive::Archiver archiver(*store_, Options());
  EXPECT_EQ(archiver.ArchiveDeploy("00000000-0000-4000-8000-000000000000", "x").status().code(),
            Code::kNotFound);
  EXPECT_EQ(archiver.ArchiveDeploy(deploy_, std::string(501, 'r')).status().code(),
            Code::kInvalidArgument);

  // With the coverage table gone, recording fails after the file was
  // written and renamed: the file must go too.
  ASSERT_TRUE(RunSql("DROP TABLE log_archive_target").ok());
  StatusOr<store::ArchiveRecord> failed = archiver.ArchiveDeploy(deploy_, "doomed");
  EXPECT_FALSE(failed.ok());
  EXPECT_TRUE(ArchiveFiles().empty()) << ArchiveFiles().front();
  EXPECT_EQ(Count("SELECT COUNT(*) FROM log_archive"), 0);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM svc_artifact"), 0);
  EXPECT_EQ(AllLines("master").size(), 3u);
}

TEST_P(ArchiverTest, SweepRemovesOnlyStaleUnrecordedFiles) {
  AddLines("master", 3);
  archive::Archiver archiver(*store_, Options());
  StatusOr<store::ArchiveRecord> recorded = archiver.ArchiveDeploy(deploy_, "unrelated");
  ASSERT_TRUE(recorded.ok()) << recorded.status().ToString();
  const std::string recorded_name = recorded->archive_id + ".tar.gz";

  // What a crash leaves: a renamed file without its record, and the
  // temporary files of a run. Young files and files of other shapes stay.
  const fs::path folder = data_dir_ / "archives" / deploy_;
  const std::string orphan = "0b7f3a52-6c1e-4d6a-9e3f-2a4b5c6d7e8f.tar.gz";
  const std::vector<std::string> stale = {orphan, ".0b7f3a52.tar.gz.tmp",
                                          ".0b7f3a52.master.log.tmp"};
  const std::vector<std::string> unrelated = {"notes.tar.gz", "README", ".hidden"};
  const auto hour_ago = fs::file_time_type::clock::now() - std::chrono::hours(1);
  for (const std::string& name : stale) std::ofstream(folder / name) << "x";
  for (const std::string& name : unrelated) std::ofstream(folder / name) << "x";
  for (const auto& entry : fs::directory_iterator(folder)) fs::last_write_time(entry, hour_ago);
  const std::string young = "1c8e4b63-7d2f-4e7b-8f40-3b5c6d7e8f90.tar.gz";
  std::ofstream(folder / young) << "x";

  StatusOr<int> removed = archiver.RemoveStaleFiles();
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_EQ(*removed, 3);
  std::vector<std::string> left = ArchiveFiles();
  std::sort(left.begin(), left.end());
  std::vector<std::string> expected = unrelated;
  expected.push_back(young);
  expected.push_back(recorded_name);
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(left, expected);

  // The retention sweep runs the same removal.
  fs::last_write_time(folder / young, hour_ago);
  EXPECT_TRUE(archiver.SweepRetention().ok());
  EXPECT_FALSE(fs::exists(folder / young));
  EXPECT_TRUE(fs::exists(folder / recorded_name));
  StatusOr<int> again = archiver.RemoveStaleFiles();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0);
}

TEST_P(ArchiverTest, LocalPathStaysInsideTheDataDir) {
  archive::Archiver archiver(*store_, Options());
  store::ArchiveRecord record;
  record.archive_id = "a";
  record.storage_url = "file://" + (data_dir_ / "archives" / "x" / "a.tar.gz").string();
  EXPECT_TRUE(archiver.LocalPath(record).ok());
  record.storage_url = "file://" + (data_dir_ / "archives" / ".." / "svcd.db").string();
  EXPECT_EQ(archiver.LocalPath(record).status().code(), Code::kNotFound);
  record.storage_url = "file:///etc/passwd";
  EXPECT_EQ(archiver.LocalPath(record).status().code(), Code::kNotFound);
  record.storage_url = "s3://bucket/a.tar.gz";
  EXPECT_EQ(archiver.LocalPath(record).status().code(), Code::kNotFound);
}

INSTANTIATE_TEST_SUITE_P(Stores, ArchiverTest,
                         ::testing::Values(sql::Dialect::kSqlite, sql::Dialect::kMysql),
                         ::svcd::testing::ParamName);

class TarGzWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("svcd-tar-test-" + ::svcd::testing::RandomSuffix());
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  fs::path dir_;
};

TEST_F(TarGzWriterTest, LongNamesAndLargeFilesListCleanly) {
  const std::string path = (dir_ / "t.tar.gz").string();
  StatusOr<std::unique_ptr<archive::TarGzWriter>> writer = archive::TarGzWriter::Create(path);
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  const std::string long_name = std::string(120, 'd') + "/" + std::string(90, 'f') + ".log";
  std::string big;
  for (int i = 0; i < 200000; ++i) big += std::to_string(i) + "\n";
  const std::string source = (dir_ / "source.bin").string();
  std::ofstream(source, std::ios::binary) << big;

  ASSERT_TRUE((*writer)->AddDirectory("top", 1'700'000'000).ok());
  ASSERT_TRUE((*writer)->AddFile("top/empty", "", 1'700'000'000).ok());
  ASSERT_TRUE((*writer)->AddFile(long_name, "x\n", 1'700'000'000).ok());
  ASSERT_TRUE((*writer)->AddFileFrom("top/big.log", source, 1'700'000'000).ok());
  StatusOr<archive::TarGzSummary> summary = (*writer)->Finish();
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  EXPECT_EQ(summary->bytes, static_cast<int64_t>(fs::file_size(path)));
  const std::string bytes = ReadFile(path);
  EXPECT_EQ(summary->md5, archive::Md5Hex(bytes));
  EXPECT_EQ(summary->sha256, archive::Sha256Hex(bytes));

  e2e::CommandResult listing = Tool({"tar", "tvzf", path});
  ASSERT_EQ(listing.exit_code, 0) << listing.err;
  EXPECT_EQ(listing.err, "");
  const std::vector<std::string> lines = SplitLines(listing.out);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_THAT(lines[0], HasSubstr("drwxr-xr-x root/root"));
  EXPECT_THAT(lines[1], HasSubstr(" 0 2023-11-14 22:13 top/empty"));
  EXPECT_THAT(lines[2], HasSubstr(long_name));
  EXPECT_THAT(lines[3], HasSubstr(std::to_string(big.size()) + " 2023-11-14 22:13 top/big.log"));
  EXPECT_EQ(Member(path, "top/big.log"), big);
  EXPECT_EQ(Member(path, long_name), "x\n");
  // tar pads the archive to whole 10240-byte records.
  e2e::CommandResult raw = Tool({"sh", "-c", "gzip -dc '" + path + "' | wc -c"});
  EXPECT_EQ(std::stoll(raw.out) % 10240, 0);
}

TEST_F(TarGzWriterTest, RejectsUnsafeNames) {
  StatusOr<std::unique_ptr<archive::TarGzWriter>> writer =
      archive::TarGzWriter::Create((dir_ / "t.tar.gz").string());
  ASSERT_TRUE(writer.ok());
  for (const std::string& name :
       {std::string("../escape"), std::string("/etc/passwd"), std::string("a//b"),
        std::string("a/./b"), std::string(""), std::string(256, 'n'), std::string("a\0b", 3)}) {
    EXPECT_EQ((*writer)->AddFile(name, "x", 0).code(), Code::kInvalidArgument) << name;
  }
  EXPECT_EQ(archive::TarGzWriter::Create((dir_ / "t.tar.gz").string()).status().code(),
            Code::kInternal);
}

}  // namespace
}  // namespace svcd::archive_test
