// A real SQLite store filled with ServiceDeploys whose targets already run,
// as far as the store can tell, so that a reconcile pass finds nothing to do.

#ifndef SVCD_BENCH_CONVERGED_STORE_H_
#define SVCD_BENCH_CONVERGED_STORE_H_

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "api/status.h"
#include "store/store.h"

namespace svcd::bench {

struct SeedOptions {
  std::filesystem::path db_path;  // the SQLite file to create; must not exist
  // The directory in which the file is built before it moves to db_path;
  // empty builds it in place. Every store call commits on its own, and each
  // commit waits for fsync, so seeding on tmpfs (such as /dev/shm) is many
  // times faster.
  std::filesystem::path staging_dir;
  int deploys = 10000;
  int targets = 4;  // per deploy: one master and targets - 1 workers; at least 1
  // Called now and then with a line of progress, such as "seeded 2000 of 10000 deploys".
  std::function<void(const std::string&)> progress;
};

struct ConvergedStore {
  std::unique_ptr<store::Store> store;
  std::vector<std::string> keys;  // "namespace/name" of every deploy, in creation order
};

// The namespace, Host and ServiceTemplate of the seeded deploys.
inline constexpr char kBenchNamespace[] = "bench";
inline constexpr char kBenchHost[] = "bench-local";
inline constexpr char kBenchTemplate[] = "bench-sleep";

// Creates the store and writes, through Store::WriteBatch, one local Host,
// one ServiceTemplate without probes and `deploys` ServiceDeploys. Then, for
// each deploy, it records through the RuntimeStore what the controller and
// a launcher would have recorded once the deploy converged. These are the
// target rows of the rendered scripts (SyncTargets), one attempt per target
// (BeginAttempt), its started report with a pid (RecordStarted) and the
// state READY (UpdateTarget). No process is started and no run directory is
// written.
// The deploys' status stays empty; the first reconcile pass writes it.
// With a staging_dir, the store is then closed, its files are moved to
// db_path, and the returned store is opened there.
//
// Errors: InvalidArgument for deploys < 1 or targets < 1, AlreadyExists
// when db_path or the staging file exists, Internal when a file cannot be
// moved, and any error of the store or the renderer, with the deploy it
// concerns.
StatusOr<ConvergedStore> SeedConvergedStore(const SeedOptions& options);

}  // namespace svcd::bench

#endif  // SVCD_BENCH_CONVERGED_STORE_H_
