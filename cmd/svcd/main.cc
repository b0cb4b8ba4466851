// svcd: the API server, store and reconcile loop.

#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <thread>

#include "api/version.h"
#include "controllers/deploy_controller.h"
#include "dispatch/local_executor.h"
#include "dispatch/report_handler.h"
#include "metrics/exposition.h"
#include "metrics/svcd_metrics.h"
#include "powerjob/client.h"
#include "powerjob/powerjob_executor.h"
#include "probe/system_prober.h"
#include "reconciler/controller.h"
#include "server/api_handlers.h"
#include "server/archive_handlers.h"
#include "server/auth.h"
#include "server/http_server.h"
#include "store/store.h"

namespace {

struct Flags {
  std::string listen = "127.0.0.1:7070";
  std::string store;
  std::string store_password_file;
  std::string data_dir = "./svcd-data";
  int workers = 4;
  std::string token_file;
  std::string advertise_url;
  std::string log_level = "info";
  size_t max_body_bytes = 1 << 20;
  size_t max_script_bytes = 64 * 1024;
  int lease_ttl_seconds = 15;
  std::string metrics_listen;  // empty: /metrics on the API listener only
  std::vector<std::string> powerjob_urls;
  std::string powerjob_app;
  std::string powerjob_version = "auto";
  std::string powerjob_password_file;
  std::string powerjob_run_root = "/var/tmp/svcd/run";
  int powerjob_timeout_seconds = 10;
  int64_t log_retention_lines = 100000;
  int64_t log_retention_bytes = 64LL * 1024 * 1024;
  int log_retention_interval_seconds = 300;
};

// Reads a secret from a file, dropping one trailing newline.
svcd::StatusOr<std::string> ReadSecretFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return svcd::Status::InvalidArgument("cannot read password file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  std::string secret = text.str();
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  return secret;
}

// Builds the PowerJob client from the flags, or returns null when no
// --powerjob-url is given. The password comes from --powerjob-password-file
// or $SVCD_POWERJOB_PASSWORD, never from the command line.
svcd::StatusOr<std::unique_ptr<svcd::powerjob::Client>> PowerJobClient(
    const Flags& flags, svcd::metrics::SvcdMetrics& metrics) {
  if (flags.powerjob_urls.empty()) {
    if (!flags.powerjob_app.empty()) {
      return svcd::Status::InvalidArgument("--powerjob-app needs --powerjob-url");
    }
    return std::unique_ptr<svcd::powerjob::Client>();
  }
  if (flags.powerjob_app.empty()) {
    return svcd::Status::InvalidArgument(
        "--powerjob-url needs --powerjob-app, the PowerJob application svcd's jobs belong to");
  }
  auto profile = svcd::powerjob::ParseProfile(flags.powerjob_version, "--powerjob-version");
  if (!profile.ok()) return profile.status();
  svcd::powerjob::ClientOptions options;
  for (const std::string& list : flags.powerjob_urls) {
    std::stringstream items(list);
    std::string url;
    while (std::getline(items, url, ',')) {
      if (!url.empty()) options.servers.push_back(url);
    }
  }
  options.app_name = flags.powerjob_app;
  options.profile = *profile;
  options.timeout = std::chrono::seconds(flags.powerjob_timeout_seconds);
  options.on_result = [&metrics](std::string_view operation, std::string_view result) {
    metrics.IncPowerJobRequest(operation, result);
  };
  if (!flags.powerjob_password_file.empty()) {
    auto secret = ReadSecretFile(flags.powerjob_password_file);
    if (!secret.ok()) return secret.status();
    options.password = *secret;
  } else if (const char* env = std::getenv("SVCD_POWERJOB_PASSWORD"); env != nullptr) {
    options.password = env;
  }
  return svcd::powerjob::Client::Create(std::move(options));
}

std::string RandomSuffix() {
  static thread_local std::mt19937_64 random{std::random_device{}()};
  static const char kAlphabet[] = "bcdfghjklmnpqrstvwxz2456789";
  std::string out;
  for (int i = 0; i < 5; ++i) out += kAlphabet[random() % (sizeof kAlphabet - 1)];
  return out;
}

// Returns "boot BOOT_ID, pid:[INODE]": the kernel's boot id and this
// process's PID namespace, which tell a svcd on this machine and in this
// PID namespace from one elsewhere. "" when either cannot be read.
std::string MachineTag() {
  std::ifstream boot("/proc/sys/kernel/random/boot_id");
  std::string boot_id;
  std::getline(boot, boot_id);
  char ns[64] = {};
  const ssize_t length = readlink("/proc/self/ns/pid", ns, sizeof ns - 1);
  if (boot_id.empty() || length <= 0) return "";
  return "boot " + boot_id + ", " + std::string(ns, static_cast<size_t>(length));
}

std::string Holder(const Flags& flags) {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  std::string holder =
      std::string(host) + " pid " + std::to_string(getpid()) + " listening on " + flags.listen;
  const std::string tag = MachineTag();
  if (!tag.empty()) holder += " (" + tag + ")";
  return holder;
}

// Whether lease holder `holder` is a svcd of this machine and PID namespace
// whose process is gone (killed with SIGKILL, say), so its lease need not
// run out before this svcd starts.
bool HolderIsGone(const std::string& holder) {
  const std::string tag = MachineTag();
  const std::string suffix = " (" + tag + ")";
  if (tag.empty() || holder.size() <= suffix.size() ||
      holder.compare(holder.size() - suffix.size(), suffix.size(), suffix) != 0) {
    return false;
  }
  const size_t at = holder.find(" pid ");
  if (at == std::string::npos) return false;
  const long pid = std::strtol(holder.c_str() + at + 5, nullptr, 10);
  if (pid <= 1 || pid == getpid()) return false;
  std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
  if (!comm) return true;  // no such process
  std::string name;
  std::getline(comm, name);
  if (name != "svcd") return true;  // the pid was reused by another program
  // A killed svcd stays a zombie (state Z) until its parent reaps it; it
  // runs no more code, so its lease is free.
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  const size_t close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() &&
         (line[close + 2] == 'Z' || line[close + 2] == 'X');
}

// The URL launchers report to: --advertise-url, else the listen address,
// with a wildcard host replaced by loopback.
std::string AdvertiseUrl(const Flags& flags) {
  if (!flags.advertise_url.empty()) return flags.advertise_url;
  std::string listen = flags.listen;
  if (listen.rfind("0.0.0.0:", 0) == 0) listen = "127.0.0.1:" + listen.substr(8);
  return "http://" + listen;
}

int Fail(const svcd::Status& status) {
  std::cerr << "svcd: " << status.ToString() << "\n";
  return 1;
}

int Serve(Flags flags) {
  spdlog::set_level(spdlog::level::from_str(flags.log_level));
  std::error_code ec;
  std::filesystem::create_directories(flags.data_dir, ec);
  if (!ec)
    flags.data_dir = std::filesystem::absolute(flags.data_dir, ec).lexically_normal().string();
  if (ec) {
    return Fail(svcd::Status::InvalidArgument("cannot create data dir " + flags.data_dir + ": " +
                                              ec.message()));
  }
  const std::string store_url =
      flags.store.empty() ? "sqlite:" + (std::filesystem::path(flags.data_dir) / "svcd.db").string()
                          : flags.store;
  std::string password;
  if (!flags.store_password_file.empty()) {
    svcd::StatusOr<std::string> secret = ReadSecretFile(flags.store_password_file);
    if (!secret.ok()) return Fail(secret.status());
    password = *secret;
  } else if (const char* env = std::getenv("SVCD_STORE_PASSWORD"); env != nullptr) {
    password = env;
  }

  svcd::store::StoreOptions store_options;
  store_options.lease_ttl = std::chrono::seconds(flags.lease_ttl_seconds);
  auto store = svcd::store::OpenStore(store_url, password, store_options);
  if (!store.ok()) return Fail(store.status());
  const std::string holder = Holder(flags);
  auto lease = (*store)->AcquireLease(holder, [](const std::string& current) {
    const bool dead = HolderIsGone(current);
    if (dead) spdlog::warn("taking over the lease of svcd \"{}\", which no longer runs", current);
    return dead;
  });
  if (!lease.ok()) {
    std::cerr << "svcd: another svcd runs the controllers of this store: "
              << lease.status().message() << "\n";
    return 1;
  }
  // Every return from here on releases the lease, so a start that fails on
  // a later flag leaves the store free for the next attempt.
  struct LeaseRelease {
    svcd::store::Store* store;
    std::string holder;
    ~LeaseRelease() { store->ReleaseLease(holder); }
  } lease_release{store->get(), holder};

  std::unique_ptr<svcd::server::TokenAuthenticator> authenticator;
  if (!flags.token_file.empty()) {
    auto loaded = svcd::server::TokenAuthenticator::LoadFile(flags.token_file);
    if (!loaded.ok()) return Fail(loaded.status());
    authenticator = std::make_unique<svcd::server::TokenAuthenticator>(std::move(*loaded));
  }

  auto metrics = svcd::metrics::SvcdMetrics::Create(svcd::kVersion);
  if (!metrics.ok()) return Fail(metrics.status());

  // The reconcile loop: local executor, probes and the ServiceDeploy controller.
  svcd::reconciler::RealClock clock;
  svcd::dispatch::LocalExecutor executor({.data_dir = flags.data_dir}, clock);
  auto archiver = std::make_shared<svcd::archive::Archiver>(
      **store,
      svcd::archive::ArchiverOptions{.data_dir = flags.data_dir,
                                     .retention = {.max_lines = flags.log_retention_lines,
                                                   .max_bytes = flags.log_retention_bytes}});
  auto powerjob_client = PowerJobClient(flags, **metrics);
  if (!powerjob_client.ok()) return Fail(powerjob_client.status());
  std::unique_ptr<svcd::powerjob::PowerJobExecutor> powerjob;
  svcd::store::RuntimeStore& runtime = (*store)->runtime();
  if (*powerjob_client) {
    // Wrong credentials need a fix now, so svcd exits. A server that cannot
    // be reached yet may come back, and dispatches retry until it does.
    svcd::Status access = (*powerjob_client)->CheckAccess();
    if (access.code() == svcd::Code::kUnauthenticated) {
      return Fail(svcd::Status::Unauthenticated(
          access.message() + " (given by --powerjob-app and --powerjob-password-file or " +
          "SVCD_POWERJOB_PASSWORD)"));
    }
    if (!access.ok()) {
      spdlog::warn(
          "PowerJob cannot be reached at start ({}); dispatches to PowerJob Hosts "
          "fail and retry until it answers",
          access.ToString());
    }

    svcd::powerjob::PowerJobExecutorOptions options;
    options.remote_run_root = flags.powerjob_run_root;
    options.record_instance = [&runtime](const std::string& dispatch_id, int64_t instance_id) {
      svcd::Status recorded = runtime.RecordPowerJobInstance(dispatch_id, instance_id);
      if (!recorded.ok()) spdlog::warn("recording PowerJob instance: {}", recorded.message());
    };
    // The jobs live on in PowerJob, so a restarted svcd reuses them.
    options.record_job = [&runtime, app = flags.powerjob_app](const std::string& worker,
                                                              svcd::powerjob::JobKind kind,
                                                              int64_t job_id) {
      svcd::Status recorded =
          runtime.RecordPowerJobJob(app, worker, svcd::powerjob::JobKindName(kind), job_id);
      if (!recorded.ok()) spdlog::warn("recording PowerJob job: {}", recorded.message());
    };
    options.lookup_job = [&runtime, app = flags.powerjob_app](
                             const std::string& worker,
                             svcd::powerjob::JobKind kind) -> std::optional<int64_t> {
      auto job = runtime.LookupPowerJobJob(app, worker, svcd::powerjob::JobKindName(kind));
      if (!job.ok()) {
        spdlog::warn("reading PowerJob job: {}", job.status().message());
        return std::nullopt;
      }
      return *job;
    };
    options.lookup_instance = [&runtime](const std::string& dispatch_id) -> std::optional<int64_t> {
      auto dispatch = runtime.GetDispatch(dispatch_id);
      if (!dispatch.ok()) return std::nullopt;
      return dispatch->powerjob_instance_id;
    };
    options.lookup_host =
        [&runtime, store_ptr = store->get()](
            const svcd::dispatch::AttemptRef& attempt) -> std::optional<svcd::api::Host> {
      auto targets = runtime.ListTargets(attempt.deploy_uid);
      if (!targets.ok()) return std::nullopt;
      for (const auto& target : *targets) {
        if (target.name != attempt.target) continue;
        auto host = store_ptr->Get({svcd::api::kKindHost, "", target.host});
        if (host.ok()) return std::get<svcd::api::Host>(*host);
      }
      return std::nullopt;
    };
    powerjob = std::make_unique<svcd::powerjob::PowerJobExecutor>(std::move(options),
                                                                  **powerjob_client, clock);
  }
  svcd::probe::SystemProber prober;
  svcd::controllers::DeployController deploys(**store, executor, prober, clock,
                                              {.advertise_url = AdvertiseUrl(flags),
                                               .max_script_bytes = flags.max_script_bytes,
                                               .metrics = metrics->get(),
                                               .powerjob = powerjob.get(),
                                               .archiver = archiver.get()});
  svcd::reconciler::ControllerOptions controller_options;
  controller_options.name = "servicedeploy";
  controller_options.workers = flags.workers;
  controller_options.lister = [&deploys] { return deploys.ListKeys(); };
  controller_options.metrics = metrics->get();
  controller_options.queue_metrics = metrics->get();
  // A failed pass often failed on a remote call (PowerJob, a stop job), so
  // it is retried after 0.5 s, doubling up to 60 s, instead of the generic
  // 5 ms. The overall bucket stays at 10 qps with a burst of 100.
  {
    auto backoff = svcd::reconciler::ExponentialBackoffRateLimiter::Create(
        std::chrono::milliseconds(500), std::chrono::seconds(60));
    auto bucket = svcd::reconciler::TokenBucketRateLimiter::Create(
        svcd::reconciler::kDefaultQps, svcd::reconciler::kDefaultBurst, clock);
    if (!backoff.ok()) return Fail(backoff.status());
    if (!bucket.ok()) return Fail(bucket.status());
    std::vector<std::unique_ptr<svcd::reconciler::RateLimiter>> limiters;
    limiters.push_back(std::move(*backoff));
    limiters.push_back(std::move(*bucket));
    auto limiter = svcd::reconciler::MaxOfRateLimiter::Create(std::move(limiters));
    if (!limiter.ok()) return Fail(limiter.status());
    controller_options.rate_limiter = std::move(*limiter);
  }
  auto controller =
      svcd::reconciler::Controller::Create(std::move(controller_options), deploys, clock);
  if (!controller.ok()) return Fail(controller.status());
  svcd::reconciler::Controller* loop = controller->get();
  deploys.SetEnqueue([loop](const std::string& key) { loop->Enqueue(key); });

  svcd::store::Store* store_ptr = store->get();
  auto on_change = [loop, store_ptr](const std::string& kind, const std::string& ns,
                                     const std::string& name) {
    if (kind == svcd::api::kKindServiceDeploy) {
      loop->Enqueue(ns + "/" + name);
      return;
    }
    auto users = kind == svcd::api::kKindHost ? store_ptr->DeploysUsingHost(name)
                                              : store_ptr->DeploysUsingTemplate(name);
    if (!users.ok()) return;
    for (const auto& user : *users) loop->Enqueue(user.namespace_ + "/" + user.name);
  };
  svcd::server::Router router;
  svcd::server::ApiHandlers handlers(**store, {.max_script_bytes = flags.max_script_bytes,
                                               .make_suffix = RandomSuffix,
                                               .on_change = on_change});
  if (svcd::Status registered = handlers.Register(router); !registered.ok())
    return Fail(registered);
  if (svcd::Status added = svcd::server::RegisterArchiveRoutes(router, **store, archiver);
      !added.ok()) {
    return Fail(added);
  }
  if (svcd::Status added = svcd::metrics::AddMetricsRoute(router, (*metrics)->registry());
      !added.ok()) {
    return Fail(added);
  }
  if (svcd::Status added = svcd::dispatch::AddReportRoute(router, deploys); !added.ok()) {
    return Fail(added);
  }
  svcd::server::HttpServerOptions http_options;
  http_options.listen = flags.listen;
  http_options.max_body_bytes = flags.max_body_bytes;
  http_options.workers = static_cast<size_t>(std::max(8, flags.workers * 2));
  http_options.readiness_check = [store_ptr] { return store_ptr->Ping(); };
  http_options.request_observer = svcd::metrics::ApiRequestObserver(**metrics);
  svcd::server::HttpServer server(http_options, std::move(router), std::move(authenticator));
  if (svcd::Status started = server.Start(); !started.ok()) {
    (*store)->ReleaseLease(holder);
    return Fail(started);
  }
  spdlog::info("svcd {} serving on {} with store {}", svcd::kVersion, server.BaseUrl(),
               store_url.rfind("sqlite:", 0) == 0 ? store_url : "mysql");
  // The separate metrics listener starts after the API server: both would
  // share one acceptor in this process if the addresses were the same.
  std::unique_ptr<svcd::server::HttpServer> metrics_server;
  if (!flags.metrics_listen.empty()) {
    std::unique_ptr<svcd::server::TokenAuthenticator> metrics_auth;
    if (!flags.token_file.empty()) {
      auto loaded = svcd::server::TokenAuthenticator::LoadFile(flags.token_file);
      if (!loaded.ok()) return Fail(loaded.status());
      metrics_auth = std::make_unique<svcd::server::TokenAuthenticator>(std::move(*loaded));
    }
    auto started = svcd::metrics::StartMetricsListener(
        {.address = flags.metrics_listen, .authenticator = std::move(metrics_auth)},
        (*metrics)->registry());
    if (!started.ok()) {
      server.Stop(std::chrono::seconds(5));
      (*store)->ReleaseLease(holder);
      return Fail(started.status());
    }
    metrics_server = std::move(*started);
    spdlog::info("metrics served on {}", metrics_server->BaseUrl());
  }
  if (svcd::Status started = loop->Start(); !started.ok()) return Fail(started);
  archiver->StartRetentionSweep(std::chrono::seconds(flags.log_retention_interval_seconds));
  auto keys = deploys.ListKeys();
  if (keys.ok()) {
    for (const std::string& key : *keys) loop->Enqueue(key);
  }

  // Block the stop signals in this thread; they are taken by sigwait below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);

  // Renew the lease until stopped; losing it to another svcd ends this one.
  std::atomic<bool> stopping{false};
  std::mutex mutex;
  std::condition_variable wake;
  std::thread renewer([&] {
    std::unique_lock lock(mutex);
    while (!wake.wait_for(lock, std::chrono::seconds(flags.lease_ttl_seconds) / 3,
                          [&] { return stopping.load(); })) {
      auto renewed = store_ptr->RenewLease(holder);
      if (renewed.ok()) continue;
      if (renewed.status().code() == svcd::Code::kFailedPrecondition) {
        spdlog::error("lost the controller lease: {}; stopping", renewed.status().message());
        kill(getpid(), SIGTERM);
        return;
      }
      spdlog::warn("renewing the controller lease failed: {}", renewed.status().message());
    }
  });

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  spdlog::info("received signal {}; stopping", signal_number);
  {
    std::lock_guard lock(mutex);
    stopping = true;
  }
  wake.notify_all();
  renewer.join();
  svcd::Status loop_stopped = loop->Stop(std::chrono::seconds(30));
  if (!loop_stopped.ok()) spdlog::warn("{}", loop_stopped.message());
  deploys.Shutdown();
  archiver->StopRetentionSweep();
  if (metrics_server) metrics_server->Stop(std::chrono::seconds(5));
  svcd::Status stopped = server.Stop(std::chrono::seconds(10));
  if (!stopped.ok()) spdlog::warn("{}", stopped.message());
  (*store)->ReleaseLease(holder);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Block the stop signals before any thread starts, so every thread
  // inherits the mask and sigwait in Serve receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  CLI::App app{"svcd: declarative reconciler for model-serving deployments"};
  Flags flags;
  app.add_option("--listen", flags.listen, "Address of the REST API, HOST:PORT")
      ->capture_default_str();
  app.add_option("--store", flags.store,
                 "sqlite:PATH or mysql://USER@HOST:PORT/DB (default: sqlite:DATA_DIR/svcd.db); "
                 "the MySQL password comes from $SVCD_STORE_PASSWORD or --store-password-file");
  app.add_option("--store-password-file", flags.store_password_file,
                 "File holding the MySQL password");
  app.add_option("--data-dir", flags.data_dir,
                 "Directory for the SQLite store, run dirs and archives")
      ->capture_default_str();
  app.add_option("--workers", flags.workers, "Concurrent reconciles")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--token-file", flags.token_file,
                 "Lines token,user,role (viewer, editor, admin); without it only loopback "
                 "addresses are served");
  app.add_option("--advertise-url", flags.advertise_url,
                 "URL launchers report to (default: the listen address)");
  app.add_option("--log-level", flags.log_level, "trace, debug, info, warn or error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}))
      ->capture_default_str();
  app.add_option("--max-body-bytes", flags.max_body_bytes, "Largest request body; larger gets 413")
      ->capture_default_str();
  app.add_option("--max-script-bytes", flags.max_script_bytes,
                 "Largest rendered script of one node")
      ->capture_default_str();
  app.add_option("--lease-ttl-seconds", flags.lease_ttl_seconds,
                 "A controller lease not renewed for this long may be taken over")
      ->check(CLI::Range(3, 3600))
      ->capture_default_str();
  app.add_option("--metrics-listen", flags.metrics_listen,
                 "Also serve /metrics on this HOST:PORT of its own (it is always served on "
                 "--listen too)");
  app.add_option("--powerjob-url", flags.powerjob_urls,
                 "PowerJob server URLs (comma-separated or repeated), tried in order on network "
                 "errors; enables Hosts with executor powerjob. The password comes from "
                 "$SVCD_POWERJOB_PASSWORD or --powerjob-password-file");
  app.add_option("--powerjob-app", flags.powerjob_app, "PowerJob application name");
  app.add_option("--powerjob-version", flags.powerjob_version,
                 "PowerJob server line: auto, 4.3 or 5.1")
      ->capture_default_str();
  app.add_option("--powerjob-password-file", flags.powerjob_password_file,
                 "File holding the PowerJob application password");
  app.add_option("--powerjob-run-root", flags.powerjob_run_root,
                 "Directory on PowerJob hosts for run directories")
      ->capture_default_str();
  app.add_option("--powerjob-timeout-seconds", flags.powerjob_timeout_seconds,
                 "Limit of each PowerJob request")
      ->check(CLI::Range(1, 300))
      ->capture_default_str();
  app.add_option("--log-retention-lines", flags.log_retention_lines,
                 "Log lines kept per target; older lines are deleted once archived")
      ->check(CLI::Range(int64_t{1000}, int64_t{1} << 40))
      ->capture_default_str();
  app.add_option("--log-retention-bytes", flags.log_retention_bytes,
                 "Log bytes kept per target; older lines are deleted once archived")
      ->check(CLI::Range(int64_t{1} << 20, int64_t{1} << 50))
      ->capture_default_str();
  app.add_option("--log-retention-interval-seconds", flags.log_retention_interval_seconds,
                 "How often targets over the retention bounds are archived and pruned")
      ->check(CLI::Range(10, 86400))
      ->capture_default_str();
  CLI::App* version = app.add_subcommand("version", "Print the svcd version and exit");
  CLI11_PARSE(app, argc, argv);

  if (version->parsed()) {
    std::cout << "svcd " << svcd::kVersion << "\n";
    return 0;
  }
  return Serve(flags);
}
