// Archiver: packs a deploy's log lines, rendered scripts and env files into
// a .tar.gz under the data dir, records it in the store (log_archive, its
// per-target coverage and svc_artifact rows), and enforces log retention.
//
// Archive layout, under one top directory NAMESPACE-NAME-YYYYMMDDTHHMMSSZ/:
//   archive.json         deploy uid, namespace, name, reason, creation time,
//                        per target: role, host, seq range and line count,
//                        and the SHA-256 of every other file
//   logs/TARGET.log      one line per log row: seq, attempt, RFC 3339 time
//                        in UTC with milliseconds, source, content,
//                        separated by tabs (content may contain more tabs)
//   scripts/TARGET.sh    the target's latest rendered script
//   env/TARGET.env       the export lines of that script
//   history/TARGET/...   earlier scripts and env files recorded as artifacts
//
// A crash leaves no half archive recorded: the file is written under a
// temporary name, flushed, renamed, and only then recorded. The files a
// crash leaves behind (temporary files, and a renamed file whose record was
// never written) are removed by the retention sweep once they are older
// than `stale_file_age`.
//
// Thread-safety: every method may be called from several threads; archive
// runs of one Archiver take turns.

#ifndef SVCD_ARCHIVE_ARCHIVER_H_
#define SVCD_ARCHIVE_ARCHIVER_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "api/status.h"
#include "store/runtime_store.h"
#include "store/store.h"

namespace svcd::archive {

struct ArchiverOptions {
  // svcd's data dir; archives go to DATA_DIR/archives/DEPLOY_UID/ID.tar.gz.
  // Must be an absolute path.
  std::string data_dir;
  // The log rows kept per target; older rows are deleted once archived.
  store::LogRetention retention;
  // The retention sweep archives a target only when it holds this share
  // more than the bound (0.1: 10 %), so each sweep archive holds a useful
  // batch of lines instead of a few.
  double retention_slack = 0.1;
  // The operator recorded in audit rows.
  std::string user = "svcd";
  // The clock for file times and names, in milliseconds since the Unix
  // epoch. Default: the system clock.
  std::function<int64_t()> now_ms;
  // Unrecorded files in the archives folder older than this, by their
  // modification time on the system clock, are left over from a crash.
  // A run records its file within moments of the rename, so a younger
  // file may still be on its way to its record.
  std::chrono::seconds stale_file_age{600};
};

class Archiver {
 public:
  // `store` must outlive the Archiver.
  Archiver(store::Store& store, ArchiverOptions options);
  // Stops the retention sweep, waiting for a running pass to end.
  ~Archiver();

  Archiver(const Archiver&) = delete;
  Archiver& operator=(const Archiver&) = delete;

  // Packs every stored log line of every target of the deploy (live and
  // removed targets, all attempts), the scripts and env files, records the
  // archive with `reason` (at most 500 bytes), then deletes the archived
  // rows that retention no longer keeps. Works on deleted deploys. Returns
  // the recorded archive. NotFound for an unknown uid; InvalidArgument for
  // a long reason; Internal when the file cannot be written. A failed call
  // leaves no recorded archive and no file. A failed prune after a
  // recorded archive is logged, not returned.
  StatusOr<store::ArchiveRecord> ArchiveDeploy(const std::string& deploy_uid,
                                               const std::string& reason);

  // Runs one retention pass: removes the files a crash left behind (see
  // RemoveStaleFiles), then each deploy with a target over the bound plus
  // the slack gets an archive of its lines that no archive holds yet, and
  // its archived rows past the bound are deleted. Returns the first error
  // after trying every deploy.
  Status SweepRetention();

  // Removes the files in DATA_DIR/archives/*/ older than `stale_file_age`
  // that no archive run will finish: temporary files, and .tar.gz files
  // whose id has no archive record. Returns the number removed; Internal
  // when the folder cannot be read, or the store's error.
  StatusOr<int> RemoveStaleFiles();

  // Starts a thread that runs SweepRetention every `interval` until
  // StopRetentionSweep or the destructor. Errors are logged. Calling it
  // again while the thread runs does nothing.
  void StartRetentionSweep(std::chrono::milliseconds interval);
  void StopRetentionSweep();

  // Returns the local path of a recorded archive file. NotFound when its
  // storage URL is not a file under this data dir's archives folder.
  StatusOr<std::string> LocalPath(const store::ArchiveRecord& archive) const;

  const ArchiverOptions& options() const { return options_; }

 private:
  // Packs and records an archive; `only_unarchived` limits each target's
  // lines to those after its highest archived seq. Returns NotFound-free
  // "nothing to do" as an empty archive id when `only_unarchived` finds no
  // new line. Caller holds run_mutex_.
  StatusOr<store::ArchiveRecord> Pack(const std::string& deploy_uid, const std::string& reason,
                                      bool only_unarchived);
  // Deletes archived rows past the bound; logs and swallows errors.
  void Prune(const std::string& deploy_uid);
  int64_t NowMs() const;

  store::Store& store_;
  const ArchiverOptions options_;
  std::mutex run_mutex_;  // one archive run at a time

  std::mutex sweep_mutex_;
  std::condition_variable sweep_wake_;
  bool sweep_stopping_ = false;  // guarded by sweep_mutex_
  std::thread sweeper_;
};

}  // namespace svcd::archive

#endif  // SVCD_ARCHIVE_ARCHIVER_H_
