// Tests of the RuntimeStore's archive, retention and time-filter methods on
// real SQLite and real MariaDB.

#include <gtest/gtest.h>

#include "tests/archive/archive_test_support.h"

namespace svcd::archive_test {
namespace {

const std::string kMd5(32, 'a');

std::vector<int64_t> Seqs(const std::vector<store::LogLine>& lines) {
  std::vector<int64_t> seqs;
  for (const store::LogLine& line : lines) seqs.push_back(line.seq);
  return seqs;
}

std::vector<int64_t> Range(int64_t first, int64_t last) {
  std::vector<int64_t> seqs;
  for (int64_t seq = first; seq <= last; ++seq) seqs.push_back(seq);
  return seqs;
}

class ArchiveStoreTest : public ArchiveStoreFixture {
 protected:
  store::ArchiveRecord MakeArchive(const std::string& id,
                                   std::vector<store::ArchiveCoverage> targets) {
    store::ArchiveRecord archive;
    archive.archive_id = id;
    archive.deploy_uid = deploy_;
    archive.storage_url = "file:///data/archives/" + id + ".tar.gz";
    archive.bytes = 1234;
    archive.md5 = kMd5;
    archive.reason = "test";
    archive.targets = std::move(targets);
    return archive;
  }
};

TEST_P(ArchiveStoreTest, ReadLogsFilteredKeepsLinesSinceTime) {
  AddLines("master", 2, "early");
  now_ms_ += 5000;
  const int64_t since = now_ms_.load();
  AddLines("master", 3, "late");
  AddLines("worker-0", 1, "late");

  StatusOr<std::vector<store::LogLine>> lines =
      runtime().ReadLogsFiltered(deploy_, {.target = "master", .since_ms = since}, 100);
  ASSERT_TRUE(lines.ok()) << lines.status().ToString();
  EXPECT_EQ(Seqs(*lines), Range(3, 5));
  EXPECT_EQ(lines->front().content, "late-1");

  // Every target, and combined with after_seq, which applies to each target's seqs.
  lines = runtime().ReadLogsFiltered(deploy_, {.since_ms = since}, 100);
  ASSERT_TRUE(lines.ok()) << lines.status().ToString();
  ASSERT_EQ(lines->size(), 4u);
  EXPECT_EQ((*lines)[3].target, "worker-0");
  lines = runtime().ReadLogsFiltered(deploy_, {.after_seq = 3, .since_ms = since}, 100);
  ASSERT_TRUE(lines.ok()) << lines.status().ToString();
  EXPECT_EQ(Seqs(*lines), Range(4, 5));

  lines = runtime().ReadLogsFiltered(deploy_, {.since_ms = now_ms_ + 1}, 100);
  ASSERT_TRUE(lines.ok());
  EXPECT_TRUE(lines->empty());
}

TEST_P(ArchiveStoreTest, ReadLogsFilteredTailsEachTarget) {
  AddLines("master", 30, "early");
  AddLines("worker-0", 4, "early");
  now_ms_ += 5000;
  const int64_t since = now_ms_.load();
  AddLines("master", 3, "late");

  // The newest lines of every target, read past the first lines a plain
  // read with the same limit would return.
  StatusOr<std::vector<store::LogLine>> lines =
      runtime().ReadLogsFiltered(deploy_, {.tail = 2}, 10);
  ASSERT_TRUE(lines.ok()) << lines.status().ToString();
  ASSERT_EQ(lines->size(), 4u);
  EXPECT_EQ((*lines)[0].target, "master");
  EXPECT_EQ((*lines)[0].seq, 32);
  EXPECT_EQ((*lines)[1].content, "late-3");
  EXPECT_EQ((*lines)[2].target, "worker-0");
  EXPECT_EQ(Seqs({lines->begin() + 2, lines->end()}), Range(3, 4));

  // With other conditions the tail counts only the lines they select.
  lines =
      runtime().ReadLogsFiltered(deploy_, {.target = "master", .since_ms = since, .tail = 5}, 100);
  ASSERT_TRUE(lines.ok()) << lines.status().ToString();
  EXPECT_EQ(Seqs(*lines), Range(31, 33));
  lines =
      runtime().ReadLogsFiltered(deploy_, {.target = "master", .after_seq = 10, .tail = 50}, 100);
  ASSERT_TRUE(lines.ok());
  EXPECT_EQ(Seqs(*lines), Range(11, 33));

  // The limit still caps the whole read, and tail 0 selects nothing.
  lines = runtime().ReadLogsFiltered(deploy_, {.tail = 20}, 22);
  ASSERT_TRUE(lines.ok());
  ASSERT_EQ(lines->size(), 22u);
  EXPECT_EQ(lines->front().seq, 14);
  EXPECT_EQ(lines->back().target, "worker-0");
  EXPECT_EQ(lines->back().seq, 2);
  lines = runtime().ReadLogsFiltered(deploy_, {.tail = 0}, 25);
  ASSERT_TRUE(lines.ok());
  EXPECT_TRUE(lines->empty());
}

TEST_P(ArchiveStoreTest, ReadLogsFilteredRejectsInvalidFilter) {
  StatusOr<std::vector<store::LogLine>> lines =
      runtime().ReadLogsFiltered(deploy_, {.since_ms = -1}, 100);
  ASSERT_EQ(lines.status().code(), Code::kInvalidArgument);
  ASSERT_EQ(lines.status().causes().size(), 1u);
  EXPECT_EQ(lines.status().causes()[0].field, "filter.since_ms");
  EXPECT_EQ(runtime().ReadLogsFiltered(deploy_, {}, 0).status().code(), Code::kInvalidArgument);
  lines = runtime().ReadLogsFiltered(deploy_, {.tail = -2}, 100);
  ASSERT_EQ(lines.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(lines.status().causes().at(0).field, "filter.tail");
  EXPECT_EQ(runtime().ReadLogsFiltered(deploy_, {.target = "worker-9"}, 10).status().code(),
            Code::kNotFound);
}

TEST_P(ArchiveStoreTest, RecordArchiveStoresCoverageAndArtifacts) {
  AddLines("master", 4);
  AddLines("worker-1", 2);
  const std::string id = "123e4567-e89b-42d3-a456-426614174000";
  store::ArchiveRecord archive = MakeArchive(id, {{"master", 1, 4, 4}, {"worker-1", 1, 2, 2}});
  std::vector<store::ArtifactRecord> artifacts = {
      {"", "master", "", "SCRIPT", "", "#!/bin/sh\n", "sha256:ab", 10, 0},
      {"", "", "", "ARCHIVE", archive.storage_url, "", "md5:" + kMd5, 1234, 0}};
  Status recorded = runtime().RecordArchive(archive, artifacts, kUser);
  ASSERT_TRUE(recorded.ok()) << recorded.ToString();

  StatusOr<store::ArchiveRecord> stored = runtime().GetArchive(id);
  ASSERT_TRUE(stored.ok()) << stored.status().ToString();
  EXPECT_EQ(stored->deploy_uid, deploy_);
  EXPECT_EQ(stored->md5, kMd5);
  EXPECT_EQ(stored->bytes, 1234);
  EXPECT_EQ(stored->created_ms, now_ms_.load());
  ASSERT_EQ(stored->targets.size(), 2u);
  EXPECT_EQ(stored->targets[0].target, "master");
  EXPECT_EQ(stored->targets[0].last_seq, 4);
  EXPECT_EQ(stored->targets[1].target, "worker-1");

  StatusOr<std::vector<store::ArtifactRecord>> listed = runtime().ListArtifacts(deploy_);
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  ASSERT_EQ(listed->size(), 2u);
  int scripts = 0;
  for (const store::ArtifactRecord& artifact : *listed) {
    if (artifact.kind != "SCRIPT") continue;
    ++scripts;
    EXPECT_EQ(artifact.target, "master");
    EXPECT_EQ(artifact.content, "#!/bin/sh\n");
  }
  EXPECT_EQ(scripts, 1);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM op_audit_log WHERE entity_type = 'ARCHIVE' AND "
                  "operation_type = 'ARCHIVE' AND entity_id = '" +
                  id + "'"),
            1);

  StatusOr<std::vector<store::LogUsage>> usage = runtime().ReadLogUsage(deploy_);
  ASSERT_TRUE(usage.ok()) << usage.status().ToString();
  ASSERT_EQ(usage->size(), 3u);
  EXPECT_EQ((*usage)[0].archived_seq, 4);
  EXPECT_EQ((*usage)[1].archived_seq, 0);
  EXPECT_EQ((*usage)[2].archived_seq, 2);

  EXPECT_EQ(runtime().RecordArchive(archive, {}, kUser).code(), Code::kAlreadyExists);
  EXPECT_EQ(runtime().GetArchive("00000000-0000-4000-8000-000000000000").status().code(),
            Code::kNotFound);
}

TEST_P(ArchiveStoreTest, RecordArchiveRejectsInvalidInputAndWritesNothing) {
  const std::string id = "123e4567-e89b-42d3-a456-426614174001";
  struct Case {
    std::string field;
    std::function<void(store::ArchiveRecord&, std::vector<store::ArtifactRecord>&)> spoil;
  };
  const std::vector<Case> cases = {
      {"archive.archive_id", [](auto& a, auto&) { a.archive_id = "not-a-uuid"; }},
      {"archive.md5", [](auto& a, auto&) { a.md5 = "ABC"; }},
      {"archive.storage_url", [](auto& a, auto&) { a.storage_url = "archives/x.tar.gz"; }},
      {"archive.bytes", [](auto& a, auto&) { a.bytes = -1; }},
      {"archive.reason", [](auto& a, auto&) { a.reason = std::string(501, 'r'); }},
      {"archive.targets[0]", [](auto& a, auto&) { a.targets[0].first_seq = 0; }},
      {"artifacts[0].kind", [](auto&, auto& f) { f[0].kind = "BINARY"; }},
      {"artifacts[0]", [](auto&, auto& f) { f[0].content.clear(); }},
      {"artifacts[0].checksum", [](auto&, auto& f) { f[0].checksum = std::string(81, 'c'); }},
  };
  for (const Case& c : cases) {
    store::ArchiveRecord archive = MakeArchive(id, {{"master", 1, 2, 2}});
    std::vector<store::ArtifactRecord> artifacts = {
        {"", "master", "", "SCRIPT", "", "echo\n", "sha256:ab", 5, 0}};
    c.spoil(archive, artifacts);
    Status status = runtime().RecordArchive(archive, artifacts, kUser);
    ASSERT_EQ(status.code(), Code::kInvalidArgument) << c.field << ": " << status.ToString();
    ASSERT_EQ(status.causes().size(), 1u) << c.field;
    EXPECT_EQ(status.causes()[0].field, c.field);
  }

  // A target the deploy does not have fails after the first inserts, which
  // the transaction undoes.
  Status unknown = runtime().RecordArchive(
      MakeArchive(id, {{"master", 1, 2, 2}, {"worker-7", 1, 2, 2}}), {}, kUser);
  EXPECT_EQ(unknown.code(), Code::kNotFound) << unknown.ToString();
  EXPECT_EQ(Count("SELECT COUNT(*) FROM log_archive"), 0);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM log_archive_target"), 0);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM svc_artifact"), 0);
}

TEST_P(ArchiveStoreTest, PruneDeletesOnlyArchivedRowsPastTheBound) {
  AddLines("master", 20);
  AddLines("worker-0", 10);
  // Nothing is archived yet: nothing may go, whatever the bound.
  StatusOr<int64_t> deleted = runtime().PruneArchivedLogs(deploy_, {.max_lines = 5}, kUser);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(*deleted, 0);
  EXPECT_EQ(AllLines("master").size(), 20u);

  // The archive contains master's seqs 1..12. The bound of 5 lines puts 1..15
  // past it, but 13..15 are not archived, so they stay.
  ASSERT_TRUE(runtime()
                  .RecordArchive(
                      MakeArchive("123e4567-e89b-42d3-a456-426614174002", {{"master", 1, 12, 12}}),
                      {}, kUser)
                  .ok());
  deleted = runtime().PruneArchivedLogs(deploy_, {.max_lines = 5}, kUser);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(*deleted, 12);
  EXPECT_EQ(Seqs(AllLines("master")), Range(13, 20));
  EXPECT_EQ(Seqs(AllLines("worker-0")), Range(1, 10));
  EXPECT_EQ(Count("SELECT COUNT(*) FROM op_audit_log WHERE entity_type = 'ARCHIVE' AND "
                  "operation_type = 'DELETE'"),
            1);

  // New lines keep their seqs; a second prune finds nothing archived to drop.
  AddLines("master", 1, "after");
  EXPECT_EQ(AllLines("master").back().seq, 21);
  deleted = runtime().PruneArchivedLogs(deploy_, {.max_lines = 5}, kUser);
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(*deleted, 0);
}

TEST_P(ArchiveStoreTest, PruneHonoursTheByteBound) {
  // Ten lines of 100 bytes each ("é" is two bytes), all archived.
  std::string text;
  for (int i = 0; i < 50; ++i) text += "\xc3\xa9";
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(runtime().AppendAgentLog(deploy_, "master", text).ok());
  }
  StatusOr<std::vector<store::LogUsage>> usage = runtime().ReadLogUsage(deploy_);
  ASSERT_TRUE(usage.ok()) << usage.status().ToString();
  EXPECT_EQ((*usage)[0].lines, 10);
  EXPECT_EQ((*usage)[0].bytes, 1000);
  ASSERT_TRUE(runtime()
                  .RecordArchive(
                      MakeArchive("123e4567-e89b-42d3-a456-426614174003", {{"master", 1, 10, 10}}),
                      {}, kUser)
                  .ok());

  // 350 bytes hold the newest three lines; a fourth would make 400.
  StatusOr<int64_t> deleted =
      runtime().PruneArchivedLogs(deploy_, {.max_lines = 1000, .max_bytes = 350}, kUser);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(*deleted, 7);
  EXPECT_EQ(Seqs(AllLines("master")), Range(8, 10));
  EXPECT_EQ(runtime().PruneArchivedLogs(deploy_, {.max_lines = 0}, kUser).status().code(),
            Code::kInvalidArgument);
}

TEST_P(ArchiveStoreTest, ListDeploysOverRetentionFindsHeavyTargets) {
  AddLines("worker-1", 6);
  StatusOr<std::vector<std::string>> over = runtime().ListDeploysOverRetention({.max_lines = 6});
  ASSERT_TRUE(over.ok()) << over.status().ToString();
  EXPECT_TRUE(over->empty());
  over = runtime().ListDeploysOverRetention({.max_lines = 5});
  ASSERT_TRUE(over.ok()) << over.status().ToString();
  EXPECT_EQ(*over, std::vector<std::string>{deploy_});
  over = runtime().ListDeploysOverRetention({.max_lines = 100, .max_bytes = 10});
  ASSERT_TRUE(over.ok()) << over.status().ToString();
  EXPECT_EQ(*over, std::vector<std::string>{deploy_});
}

TEST_P(ArchiveStoreTest, DeployHistoryKeepsRemovedTargetsAndDeletedDeploys) {
  ASSERT_TRUE(runtime().SyncTargets(deploy_, {MakePlan(0, 2), MakePlan(1, 2)}, kUser).ok());
  ASSERT_TRUE(store_->Delete({api::kKindServiceDeploy, "eval", "qwen"}, kUser).ok());

  StatusOr<store::DeployHistory> history = runtime().ReadDeployHistory(deploy_);
  ASSERT_TRUE(history.ok()) << history.status().ToString();
  EXPECT_EQ(history->namespace_, "eval");
  EXPECT_EQ(history->name, "qwen");
  EXPECT_TRUE(history->deleted);
  ASSERT_EQ(history->targets.size(), 3u);
  EXPECT_TRUE(history->targets[0].live);
  EXPECT_EQ(history->targets[0].generation, 2);
  EXPECT_EQ(history->targets[0].env_rendered, "export SVCD_ROLE='master'\n");
  EXPECT_FALSE(history->targets[2].live);
  EXPECT_EQ(history->targets[2].name, "worker-1");
  EXPECT_EQ(runtime().ReadDeployHistory("00000000-0000-4000-8000-000000000000").status().code(),
            Code::kNotFound);
}

INSTANTIATE_TEST_SUITE_P(Stores, ArchiveStoreTest,
                         ::testing::Values(sql::Dialect::kSqlite, sql::Dialect::kMysql),
                         ::svcd::testing::ParamName);

}  // namespace
}  // namespace svcd::archive_test
