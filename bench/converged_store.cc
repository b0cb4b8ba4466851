#include "bench/converged_store.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <utility>

#include "api/codec.h"
#include "api/defaults.h"
#include "controllers/deploy_pass.h"
#include "reconciler/clock.h"
#include "render/render.h"

namespace svcd::bench {
namespace {

// The deploys' template runs `sleep`, and has no probe: a target without a
// probe is ready while its process runs, so a pass needs no probe state,
// which lives only in memory.
constexpr char kFixtureYaml[] = R"(apiVersion: svcd.io/v1alpha1
kind: Host
metadata: {name: bench-local}
spec: {address: 127.0.0.1, executor: local}
---
apiVersion: svcd.io/v1alpha1
kind: ServiceTemplate
metadata: {name: bench-sleep}
spec:
  sceneType: other
  fixedPrefix: exec sleep
  defaultEnvs: [{name: BENCH, value: "1"}]
  defaultMasterArgs: [{value: "3600"}]
  defaultWorkerArgs: [{value: "3600"}]
---
apiVersion: svcd.io/v1alpha1
kind: ServiceDeploy
metadata: {name: bench-prototype, namespace: bench}
spec:
  templateRef: bench-sleep
  modelName: bench-model
  master: {host: bench-local}
  workerStaggerSeconds: 0
)";

constexpr int kDeploysPerBatch = 500;
constexpr int kProgressEvery = 2000;  // a multiple of kDeploysPerBatch

std::string DeployName(int index) {
  char name[32];
  std::snprintf(name, sizeof name, "bench-%06d", index);
  return name;
}

// Records a converged target: one started attempt, state READY.
Status ConvergeTarget(store::RuntimeStore& runtime, const std::string& uid,
                      const std::string& target, int64_t start_ms) {
  // The hash of a secret that no launcher has, so no report can match it.
  StatusOr<std::string> secret_hash = controllers::SecretHash(uid + "/" + target);
  if (!secret_hash.ok()) return secret_hash.status();
  StatusOr<store::DispatchRecord> dispatch =
      runtime.BeginAttempt(uid, target, "local", *secret_hash, 0);
  if (!dispatch.ok()) return dispatch.status();
  // The pid of this process: a live pid, as a launcher would have reported.
  Status started =
      runtime.RecordStarted(dispatch->dispatch_id, dispatch->lease_version, getpid(), start_ms);
  if (!started.ok()) return started;
  store::TargetUpdate ready;
  ready.state = "READY";
  ready.stage = "READY";
  ready.message = "";
  return runtime.UpdateTarget(uid, target, dispatch->lease_version, ready, "bench");
}

// Writes the target rows of one stored deploy, as rendered by the controller.
Status ConvergeDeploy(store::RuntimeStore& runtime, const api::Object& stored,
                      const api::ServiceTemplate& tmpl,
                      const std::map<std::string, api::Host>& hosts, int64_t start_ms) {
  api::Object defaulted = stored;
  api::ApplyDefaults(defaulted);
  const api::ServiceDeploy& deploy = std::get<api::ServiceDeploy>(defaulted);
  StatusOr<render::RenderedDeploy> rendered = render::RenderDeploy(deploy, tmpl, hosts);
  if (!rendered.ok()) return rendered.status();
  const std::string& uid = deploy.metadata.uid;
  Status synced = runtime.SyncTargets(
      uid, controllers::PlansOf(*rendered, deploy.metadata.generation), "bench");
  if (!synced.ok()) return synced;
  std::vector<std::string> targets = {rendered->master.name};
  for (const render::NodeScript& worker : rendered->workers) targets.push_back(worker.name);
  for (const std::string& target : targets) {
    Status converged = ConvergeTarget(runtime, uid, target, start_ms);
    if (!converged.ok()) return converged;
  }
  return Status::Ok();
}

// Moves the SQLite file `from` and its WAL files, if any, to `to`, across
// file systems. The store on `from` must be closed.
Status MoveDatabase(const std::filesystem::path& from, const std::filesystem::path& to) {
  for (const char* suffix : {"", "-wal", "-shm"}) {
    const std::filesystem::path source = from.string() + suffix;
    std::error_code error;
    if (!std::filesystem::exists(source, error)) continue;
    std::filesystem::copy_file(source, to.string() + suffix, error);
    if (!error) std::filesystem::remove(source, error);
    if (error) {
      return Status::Internal("cannot move " + source.string() + " to " + to.string() + suffix +
                              ": " + error.message());
    }
  }
  return Status::Ok();
}

StatusOr<std::vector<api::Object>> DecodeFixture() {
  StatusOr<std::vector<api::Object>> objects =
      api::DecodeObjects(kFixtureYaml, api::Format::kYaml, {.source_name = "bench fixture"});
  if (!objects.ok()) return objects.status();
  if (objects->size() != 3) return Status::Internal("the bench fixture must hold 3 objects");
  return objects;
}

// The Host and ServiceTemplate as stored, and the deploy to copy.
struct Fixture {
  std::map<std::string, api::Host> hosts;
  api::ServiceTemplate tmpl;
  api::ServiceDeploy prototype;
};

StatusOr<Fixture> WriteFixture(store::Store& store, int targets) {
  StatusOr<std::vector<api::Object>> objects = DecodeFixture();
  if (!objects.ok()) return objects.status();
  store::BatchOptions batch;
  batch.user = "bench";
  StatusOr<std::vector<store::WriteResult>> written = store.WriteBatch(
      {{store::Write::Op::kCreate, (*objects)[0]}, {store::Write::Op::kCreate, (*objects)[1]}},
      batch);
  if (!written.ok()) return written.status();
  Fixture fixture;
  fixture.hosts[kBenchHost] = std::get<api::Host>((*written)[0].object);
  fixture.tmpl = std::get<api::ServiceTemplate>((*written)[1].object);
  fixture.prototype = std::get<api::ServiceDeploy>((*objects)[2]);
  // The finalizer that the apply endpoint adds to every new deploy.
  fixture.prototype.metadata.finalizers = {api::kDeployFinalizer};
  api::NodeSpec worker;
  worker.host = kBenchHost;
  fixture.prototype.spec.workers.assign(targets - 1, worker);
  return fixture;
}

// Creates the deploys numbered [first, last) in one batch and converges each.
Status SeedBatch(store::Store& store, const Fixture& fixture, int first, int last, int64_t start_ms,
                 std::vector<std::string>& keys) {
  std::vector<store::Write> writes;
  for (int i = first; i < last; ++i) {
    api::ServiceDeploy deploy = fixture.prototype;
    deploy.metadata.name = DeployName(i);
    writes.push_back({store::Write::Op::kCreate, deploy});
  }
  store::BatchOptions batch;
  batch.user = "bench";
  StatusOr<std::vector<store::WriteResult>> results = store.WriteBatch(writes, batch);
  if (!results.ok()) return results.status();
  for (const store::WriteResult& result : *results) {
    const api::ObjectMeta& meta = api::MetaOf(result.object);
    const std::string key = meta.namespace_ + "/" + meta.name;
    Status converged =
        ConvergeDeploy(store.runtime(), result.object, fixture.tmpl, fixture.hosts, start_ms);
    if (!converged.ok()) {
      return Status(converged.code(), "deploy " + key + ": " + converged.message());
    }
    keys.push_back(key);
  }
  return Status::Ok();
}

// Seeds the store at `path`, as SeedConvergedStore describes.
StatusOr<ConvergedStore> SeedAt(const SeedOptions& options, const std::filesystem::path& path) {
  StatusOr<std::unique_ptr<store::Store>> opened = store::OpenStore("sqlite:" + path.string(), "");
  if (!opened.ok()) return opened.status();
  ConvergedStore out;
  out.store = std::move(*opened);
  StatusOr<Fixture> fixture = WriteFixture(*out.store, options.targets);
  if (!fixture.ok()) return fixture.status();

  const int64_t start_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               reconciler::RealClock().WallNow().time_since_epoch())
                               .count();
  for (int first = 0; first < options.deploys; first += kDeploysPerBatch) {
    const int last = std::min(options.deploys, first + kDeploysPerBatch);
    Status seeded = SeedBatch(*out.store, *fixture, first, last, start_ms, out.keys);
    if (!seeded.ok()) return seeded;
    if (options.progress && (last % kProgressEvery == 0 || last == options.deploys)) {
      options.progress("seeded " + std::to_string(last) + " of " + std::to_string(options.deploys) +
                       " deploys");
    }
  }
  return out;
}

}  // namespace

StatusOr<ConvergedStore> SeedConvergedStore(const SeedOptions& options) {
  if (options.deploys < 1) return Status::InvalidArgument("--deploys must be at least 1");
  if (options.targets < 1) return Status::InvalidArgument("--targets must be at least 1");
  const std::filesystem::path path = options.staging_dir.empty()
                                         ? options.db_path
                                         : options.staging_dir / options.db_path.filename();
  for (const std::filesystem::path& file : {options.db_path, path}) {
    std::error_code error;
    if (std::filesystem::exists(file, error)) {
      return Status::AlreadyExists(file.string() + " exists; pass a new path");
    }
  }
  StatusOr<ConvergedStore> seeded = SeedAt(options, path);
  if (!seeded.ok() || path == options.db_path) return seeded;

  seeded->store.reset();  // closing the last connection checkpoints the WAL
  if (Status moved = MoveDatabase(path, options.db_path); !moved.ok()) return moved;
  StatusOr<std::unique_ptr<store::Store>> reopened =
      store::OpenStore("sqlite:" + options.db_path.string(), "");
  if (!reopened.ok()) return reopened.status();
  seeded->store = std::move(*reopened);
  return seeded;
}

}  // namespace svcd::bench
