#include "archive/archiver.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "archive/tar_gz_writer.h"

namespace svcd::archive {
namespace {

namespace fs = std::filesystem;

// Lines read from the store per call while packing a target's log.
constexpr int kPageLines = 10000;
constexpr size_t kMaxReasonBytes = 500;

int64_t SystemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Formats `ms` as "2024-05-01T12:00:00.123Z".
std::string Rfc3339Ms(int64_t ms) {
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[40];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm);
  char fraction[8];
  std::snprintf(fraction, sizeof fraction, ".%03dZ", static_cast<int>(ms % 1000));
  return std::string(text) + fraction;
}

// Formats `ms` as "20240501T120000Z" for a directory name.
std::string CompactTime(int64_t ms) {
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y%m%dT%H%M%SZ", &tm);
  return text;
}

StatusOr<std::string> NewUuid() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    return Status::Internal("OpenSSL could not generate random bytes for an archive id");
  }
  bytes[6] = (bytes[6] & 0x0f) | 0x40;  // version 4
  bytes[8] = (bytes[8] & 0x3f) | 0x80;  // RFC 4122 variant
  static const char kDigits[] = "0123456789abcdef";
  std::string text;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) text += '-';
    text += kDigits[bytes[i] >> 4];
    text += kDigits[bytes[i] & 15];
  }
  return text;
}

// Flushes the directory entry of a renamed file to disk.
void SyncDirectory(const fs::path& directory) {
  int fd = open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  fsync(fd);
  close(fd);
}

// Removes the files of a failed or finished run; errors are ignored
// because the files are temporary.
void RemoveQuietly(const fs::path& path) {
  std::error_code ignored;
  fs::remove(path, ignored);
}

// One file added to the archive, for archive.json.
struct PackedFile {
  std::string path;  // inside the top directory
  int64_t bytes = 0;
  std::string sha256;
};

// The state of one archive run: the tar writer and what it has packed.
class PackRun {
 public:
  PackRun(store::RuntimeStore& runtime, TarGzWriter& writer, std::string top, int64_t mtime_s,
          fs::path spool_dir, std::string archive_id)
      : runtime_(runtime),
        writer_(writer),
        top_(std::move(top)),
        mtime_s_(mtime_s),
        spool_dir_(std::move(spool_dir)),
        archive_id_(std::move(archive_id)) {}

  // Packs the lines of `target` with seq > `after_seq` into logs/TARGET.log.
  // Sets `coverage` to the range packed; lines 0 when there were none.
  Status PackLog(const std::string& deploy_uid, const store::TargetHistory& target,
                 int64_t after_seq, store::ArchiveCoverage& coverage);

  // Adds a text file, remembering its checksum for archive.json.
  Status AddText(const std::string& path, const std::string& content) {
    Status status = writer_.AddFile(top_ + "/" + path, content, mtime_s_);
    if (status.ok()) {
      files_.push_back({path, static_cast<int64_t>(content.size()), Sha256Hex(content)});
    }
    return status;
  }

  const std::vector<PackedFile>& files() const { return files_; }
  const std::string& top() const { return top_; }

 private:
  store::RuntimeStore& runtime_;
  TarGzWriter& writer_;
  const std::string top_;
  const int64_t mtime_s_;
  const fs::path spool_dir_;
  const std::string archive_id_;
  std::vector<PackedFile> files_;
};

Status PackRun::PackLog(const std::string& deploy_uid, const store::TargetHistory& target,
                        int64_t after_seq, store::ArchiveCoverage& coverage) {
  // Lines are spooled to a file first, because a tar header needs the
  // size before the bytes and a log may be far larger than memory wants.
  const fs::path spool = spool_dir_ / ("." + archive_id_ + "." + target.name + ".log.tmp");
  std::ofstream out(spool, std::ios::binary | std::ios::trunc);
  if (!out) return Status::Internal("cannot create spool file " + spool.string());
  Sha256Digest digest;
  coverage = {target.name, 0, 0, 0};
  int64_t cursor = after_seq, bytes = 0;
  while (true) {
    store::LogFilter filter;
    filter.target = target.name;
    filter.after_seq = cursor;
    StatusOr<std::vector<store::LogLine>> page =
        runtime_.ReadLogsFiltered(deploy_uid, filter, kPageLines);
    if (!page.ok()) {
      RemoveQuietly(spool);
      return page.status();
    }
    for (const store::LogLine& line : *page) {
      std::string text = std::to_string(line.seq) + "\t" + std::to_string(line.attempt) + "\t" +
                         Rfc3339Ms(line.time_ms) + "\t" + line.source + "\t" + line.content + "\n";
      out << text;
      digest.Update(text);
      bytes += static_cast<int64_t>(text.size());
      if (coverage.lines == 0) coverage.first_seq = line.seq;
      coverage.last_seq = line.seq;
      ++coverage.lines;
      cursor = line.seq;
    }
    if (page->size() < static_cast<size_t>(kPageLines)) break;
  }
  out.close();
  const std::string path = "logs/" + target.name + ".log";
  Status status = out ? writer_.AddFileFrom(top_ + "/" + path, spool.string(), mtime_s_)
                      : Status::Internal("writing spool file " + spool.string() + " failed");
  RemoveQuietly(spool);
  if (status.ok()) files_.push_back({path, bytes, digest.Hex()});
  return status;
}

}  // namespace

Archiver::Archiver(store::Store& store, ArchiverOptions options)
    : store_(store), options_(std::move(options)) {}

Archiver::~Archiver() { StopRetentionSweep(); }

int64_t Archiver::NowMs() const { return options_.now_ms ? options_.now_ms() : SystemNowMs(); }

StatusOr<store::ArchiveRecord> Archiver::ArchiveDeploy(const std::string& deploy_uid,
                                                       const std::string& reason) {
  if (reason.size() > kMaxReasonBytes) {
    return Status::InvalidArgument("archive reason of " + std::to_string(reason.size()) +
                                   " bytes is over the limit of 500 bytes; shorten it");
  }
  std::lock_guard lock(run_mutex_);
  StatusOr<store::ArchiveRecord> archive = Pack(deploy_uid, reason, /*only_unarchived=*/false);
  if (archive.ok()) Prune(deploy_uid);
  return archive;
}

namespace {

// The scripts and env files of every target, and earlier ones kept as
// artifacts. Adds the artifact rows to record for files not recorded yet.
Status PackScripts(PackRun& run, const store::DeployHistory& history,
                   const std::vector<store::ArtifactRecord>& recorded,
                   std::vector<store::ArtifactRecord>& to_record) {
  std::set<std::string> known;  // target, kind and checksum of recorded files
  for (const store::ArtifactRecord& artifact : recorded) {
    known.insert(artifact.target + "\n" + artifact.kind + "\n" + artifact.checksum);
  }
  std::set<std::string> current;
  for (const store::TargetHistory& target : history.targets) {
    const std::pair<const char*, const std::string*> files[] = {{"SCRIPT", &target.cmd_rendered},
                                                                {"ENV_FILE", &target.env_rendered}};
    for (const auto& [kind, content] : files) {
      if (content->empty()) continue;
      const bool script = std::string(kind) == "SCRIPT";
      Status status = run.AddText(
          (script ? "scripts/" : "env/") + target.name + (script ? ".sh" : ".env"), *content);
      if (!status.ok()) return status;
      const std::string checksum = "sha256:" + run.files().back().sha256;
      const std::string key = target.name + "\n" + kind + "\n" + checksum;
      current.insert(key);
      if (known.count(key) > 0) continue;
      to_record.push_back({"", target.name, target.latest_dispatch_id, kind, "", *content, checksum,
                           static_cast<int64_t>(content->size()), 0});
      known.insert(key);
    }
  }
  // Earlier scripts and env files, each once.
  for (const store::ArtifactRecord& artifact : recorded) {
    if (artifact.kind != "SCRIPT" && artifact.kind != "ENV_FILE") continue;
    const std::string key = artifact.target + "\n" + artifact.kind + "\n" + artifact.checksum;
    if (artifact.content.empty() || !current.insert(key).second) continue;
    const std::string name = artifact.checksum.substr(artifact.checksum.find(':') + 1, 12);
    Status status = run.AddText(
        "history/" + artifact.target + "/" + name + (artifact.kind == "SCRIPT" ? ".sh" : ".env"),
        artifact.content);
    if (!status.ok()) return status;
  }
  return Status::Ok();
}

// Returns archive.json: what the archive holds.
std::string Manifest(const PackRun& run, const store::DeployHistory& history,
                     const std::vector<store::ArchiveCoverage>& coverage, const std::string& id,
                     const std::string& reason, int64_t created_ms, bool only_unarchived) {
  nlohmann::json targets = nlohmann::json::array();
  for (const store::TargetHistory& target : history.targets) {
    nlohmann::json entry = {{"name", target.name},
                            {"role", target.role},
                            {"host", target.host},
                            {"live", target.live},
                            {"generation", target.generation},
                            {"commandHash", target.command_hash},
                            {"lines", 0}};
    for (const store::ArchiveCoverage& range : coverage) {
      if (range.target != target.name) continue;
      entry["firstSeq"] = range.first_seq;
      entry["lastSeq"] = range.last_seq;
      entry["lines"] = range.lines;
    }
    targets.push_back(entry);
  }
  nlohmann::json files = nlohmann::json::array();
  for (const PackedFile& file : run.files()) {
    files.push_back({{"path", file.path}, {"bytes", file.bytes}, {"sha256", file.sha256}});
  }
  return nlohmann::json(
             {{"apiVersion", "svcd.io/v1alpha1"},
              {"kind", "LogArchive"},
              {"id", id},
              {"deploy",
               {{"uid", history.deploy_uid},
                {"namespace", history.namespace_},
                {"name", history.name},
                {"deleted", history.deleted}}},
              {"reason", reason},
              {"created", Rfc3339Ms(created_ms)},
              {"scope", only_unarchived ? "lines no earlier archive holds" : "every stored line"},
              {"logFormat", "seq<TAB>attempt<TAB>time<TAB>source<TAB>content"},
              {"targets", targets},
              {"files", files}})
             .dump(2) +
         "\n";
}

}  // namespace

StatusOr<store::ArchiveRecord> Archiver::Pack(const std::string& deploy_uid,
                                              const std::string& reason, bool only_unarchived) {
  store::RuntimeStore& runtime = store_.runtime();
  StatusOr<store::DeployHistory> history = runtime.ReadDeployHistory(deploy_uid);
  if (!history.ok()) return history.status();
  std::map<std::string, int64_t> archived;  // target name to highest archived seq
  if (only_unarchived) {
    StatusOr<std::vector<store::LogUsage>> usage = runtime.ReadLogUsage(deploy_uid);
    if (!usage.ok()) return usage.status();
    for (const store::LogUsage& entry : *usage) archived[entry.target] = entry.archived_seq;
  }
  StatusOr<std::vector<store::ArtifactRecord>> recorded = runtime.ListArtifacts(deploy_uid);
  if (!recorded.ok()) return recorded.status();
  StatusOr<std::string> id = NewUuid();
  if (!id.ok()) return id.status();

  const fs::path directory = fs::path(options_.data_dir) / "archives" / deploy_uid;
  std::error_code ec;
  fs::create_directories(directory, ec);
  if (ec) return Status::Internal("cannot create " + directory.string() + ": " + ec.message());
  const fs::path temp = directory / ("." + *id + ".tar.gz.tmp");
  const fs::path final_path = directory / (*id + ".tar.gz");
  const int64_t now = NowMs();

  StatusOr<std::unique_ptr<TarGzWriter>> writer = TarGzWriter::Create(temp.string());
  if (!writer.ok()) return writer.status();
  PackRun run(runtime, **writer, history->namespace_ + "-" + history->name + "-" + CompactTime(now),
              now / 1000, directory, *id);
  std::vector<store::ArchiveCoverage> coverage;
  std::vector<store::ArtifactRecord> artifacts;
  auto fail = [&](const Status& status) {
    writer->reset();
    RemoveQuietly(temp);
    return status;
  };

  Status status = (*writer)->AddDirectory(run.top(), now / 1000);
  for (const store::TargetHistory& target : history->targets) {
    if (!status.ok()) break;
    store::ArchiveCoverage range;
    status = run.PackLog(deploy_uid, target, archived[target.name], range);
    if (status.ok() && range.lines > 0) coverage.push_back(range);
  }
  if (status.ok() && only_unarchived && coverage.empty()) {
    fail(Status::Ok());
    return store::ArchiveRecord();  // nothing new to archive
  }
  if (status.ok()) status = PackScripts(run, *history, *recorded, artifacts);
  if (status.ok()) {
    status = (*writer)->AddFile(
        run.top() + "/archive.json",
        Manifest(run, *history, coverage, *id, reason, now, only_unarchived), now / 1000);
  }
  if (!status.ok()) return fail(status);
  StatusOr<TarGzSummary> summary = (*writer)->Finish();
  if (!summary.ok()) return fail(summary.status());

  // Only a complete, flushed file gets its final name, and only a file
  // with its final name is recorded.
  fs::rename(temp, final_path, ec);
  if (ec) return fail(Status::Internal("cannot rename " + temp.string() + ": " + ec.message()));
  SyncDirectory(directory);

  store::ArchiveRecord record;
  record.archive_id = *id;
  record.deploy_uid = deploy_uid;
  record.storage_url = "file://" + final_path.string();
  record.bytes = summary->bytes;
  record.md5 = summary->md5;
  record.reason = reason;
  record.targets = coverage;
  artifacts.push_back(
      {"", "", "", "ARCHIVE", record.storage_url, "", "md5:" + summary->md5, summary->bytes, 0});
  Status recorded_status = runtime.RecordArchive(record, artifacts, options_.user);
  if (!recorded_status.ok()) {
    RemoveQuietly(final_path);
    return recorded_status;
  }
  StatusOr<store::ArchiveRecord> stored = runtime.GetArchive(*id);
  spdlog::info("archived deploy={}/{} uid={} archive={} bytes={} targets={} reason=\"{}\"",
               history->namespace_, history->name, deploy_uid, *id, summary->bytes, coverage.size(),
               reason);
  return stored.ok() ? *stored : record;
}

void Archiver::Prune(const std::string& deploy_uid) {
  StatusOr<int64_t> deleted =
      store_.runtime().PruneArchivedLogs(deploy_uid, options_.retention, options_.user);
  if (!deleted.ok()) {
    spdlog::warn("pruning archived log lines of deploy uid={} failed: {}", deploy_uid,
                 deleted.status().ToString());
  } else if (*deleted > 0) {
    spdlog::info("pruned {} archived log lines of deploy uid={}", *deleted, deploy_uid);
  }
}

namespace {

// Returns whether `name` is a temporary file of an archive run: the
// archive or a target's spooled log, "." first and ".tmp" last.
bool IsRunTempFile(const std::string& name) {
  return name.size() > 5 && name.front() == '.' && name.ends_with(".tmp");
}

// Returns whether `text` has the form of the archive ids NewUuid makes.
bool IsUuidText(const std::string& text) {
  if (text.size() != 36) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    const char c = text[i];
    if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

StatusOr<int> Archiver::RemoveStaleFiles() {
  std::lock_guard lock(run_mutex_);
  const fs::path root = fs::path(options_.data_dir) / "archives";
  const auto oldest = fs::file_time_type::clock::now() - options_.stale_file_age;
  int removed = 0;
  try {
    if (!fs::exists(root)) return 0;
    for (const fs::directory_entry& folder : fs::directory_iterator(root)) {
      if (!folder.is_directory()) continue;
      for (const fs::directory_entry& entry : fs::directory_iterator(folder.path())) {
        const std::string name = entry.path().filename().string();
        if (!entry.is_regular_file() || entry.last_write_time() > oldest) continue;
        const std::string id = name.ends_with(".tar.gz") ? name.substr(0, name.size() - 7) : "";
        if (IsUuidText(id)) {
          StatusOr<store::ArchiveRecord> record = store_.runtime().GetArchive(id);
          if (record.ok()) continue;
          if (record.status().code() != Code::kNotFound) return record.status();
        } else if (!IsRunTempFile(name)) {
          continue;  // not a file an archive run writes
        }
        std::error_code ec;
        if (!fs::remove(entry.path(), ec)) continue;
        spdlog::warn("removed {}: an archive run left it unrecorded, and it is older than {} s",
                     entry.path().string(), options_.stale_file_age.count());
        ++removed;
      }
    }
  } catch (const fs::filesystem_error& e) {
    return Status::Internal("cannot list the files under " + root.string() + ": " + e.what());
  }
  return removed;
}

Status Archiver::SweepRetention() {
  StatusOr<int> stale = RemoveStaleFiles();
  if (!stale.ok())
    spdlog::warn("removing stale archive files failed: {}", stale.status().ToString());
  store::LogRetention trigger = options_.retention;
  trigger.max_lines += std::max<int64_t>(
      1, static_cast<int64_t>(static_cast<double>(trigger.max_lines) * options_.retention_slack));
  trigger.max_bytes += std::max<int64_t>(
      1, static_cast<int64_t>(static_cast<double>(trigger.max_bytes) * options_.retention_slack));
  StatusOr<std::vector<std::string>> uids = store_.runtime().ListDeploysOverRetention(trigger);
  if (!uids.ok()) return uids.status();

  Status first_error;
  for (const std::string& uid : *uids) {
    std::lock_guard lock(run_mutex_);
    StatusOr<store::ArchiveRecord> archive =
        Pack(uid,
             "retention: a target holds more than " + std::to_string(options_.retention.max_lines) +
                 " lines or " + std::to_string(options_.retention.max_bytes) + " bytes",
             /*only_unarchived=*/true);
    if (!archive.ok()) {
      spdlog::error("retention archive of deploy uid={} failed: {}", uid,
                    archive.status().ToString());
      if (first_error.ok()) first_error = archive.status();
      continue;
    }
    Prune(uid);
  }
  if (first_error.ok() && !stale.ok()) return stale.status();
  return first_error;
}

void Archiver::StartRetentionSweep(std::chrono::milliseconds interval) {
  std::lock_guard lock(sweep_mutex_);
  if (sweeper_.joinable()) return;
  sweep_stopping_ = false;
  sweeper_ = std::thread([this, interval] {
    std::unique_lock wait_lock(sweep_mutex_);
    while (!sweep_wake_.wait_for(wait_lock, interval, [this] { return sweep_stopping_; })) {
      wait_lock.unlock();
      Status swept = SweepRetention();
      if (!swept.ok()) spdlog::warn("log retention pass failed: {}", swept.ToString());
      wait_lock.lock();
    }
  });
}

void Archiver::StopRetentionSweep() {
  {
    std::lock_guard lock(sweep_mutex_);
    sweep_stopping_ = true;
  }
  sweep_wake_.notify_all();
  if (sweeper_.joinable()) sweeper_.join();
}

StatusOr<std::string> Archiver::LocalPath(const store::ArchiveRecord& archive) const {
  const std::string scheme = "file://";
  if (archive.storage_url.rfind(scheme, 0) != 0) {
    return Status::NotFound("archive " + archive.archive_id + " is stored at " +
                            archive.storage_url + ", which is not a local file");
  }
  const fs::path path = fs::path(archive.storage_url.substr(scheme.size())).lexically_normal();
  const fs::path root = (fs::path(options_.data_dir) / "archives").lexically_normal();
  const fs::path relative = path.lexically_relative(root);
  if (relative.empty() || *relative.begin() == "..") {
    return Status::NotFound("archive " + archive.archive_id + " lies outside " + root.string() +
                            "; it belongs to another data dir");
  }
  return path.string();
}

}  // namespace svcd::archive
