// svcd_bench: measures the reconcile loop against minimal baselines.
//
//   throughput  no-op reconcile passes per second of the real Controller and
//               DeployController over a converged SQLite store, beside a
//               minimal queue that reads each deploy's row
//   latency     apply-to-Ready seconds of the quickstart deploy on the real
//               svcd, beside starting the same processes directly
//
// The measured rounds of each pair alternate (A, B, A, B, ...), so load from
// other processes on the machine falls on both sides. Progress goes to
// stderr; the report goes to stdout, as text or, with --json, as JSON.

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>

#include "bench/latency.h"
#include "bench/stats.h"
#include "bench/throughput.h"

namespace {

using svcd::Status;
using svcd::StatusOr;
using svcd::bench::Summary;

struct Flags {
  int deploys = 10000;
  int targets = 4;
  int workers = 4;
  int rounds = 10;
  std::string only;  // "", "throughput" or "latency"
  std::string svcd;  // default: svcd beside this program
  std::string standin;
  std::string manifest = SVCD_BENCH_QUICKSTART;
  std::string seed_dir;  // set in main: /dev/shm when it exists
  int timeout_seconds = 600;
  bool json = false;
};

void Progress(const std::string& line) { std::cerr << "svcd_bench: " << line << std::endl; }

// Returns the directory of this program, or "" when /proc/self/exe is unreadable.
std::filesystem::path ProgramDir() {
  std::error_code error;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  return error ? std::filesystem::path() : self.parent_path();
}

nlohmann::json SummaryJson(const std::vector<double>& values) {
  const Summary summary = svcd::bench::Summarize(values);
  return {{"count", summary.count}, {"median", summary.median}, {"p90", summary.p90},
          {"min", summary.min},     {"max", summary.max},       {"values", values}};
}

std::string Row(const std::string& label, const std::vector<double>& values, int precision) {
  const Summary summary = svcd::bench::Summarize(values);
  std::ostringstream out;
  out << "  " << std::left << std::setw(40) << label << std::right << std::fixed
      << std::setprecision(precision);
  for (double value : {summary.median, summary.p90, summary.min, summary.max}) {
    out << std::setw(11) << value;
  }
  return out.str();
}

std::string Header() {
  std::ostringstream out;
  out << "  " << std::left << std::setw(40) << "" << std::right;
  for (const char* column : {"median", "p90", "min", "max"}) out << std::setw(11) << column;
  return out.str();
}

nlohmann::json ThroughputJson(const svcd::bench::ThroughputResult& result) {
  const double controller = svcd::bench::Summarize(result.controller_per_second).median;
  const double baseline = svcd::bench::Summarize(result.baseline_per_second).median;
  return {{"seed_seconds", result.seed_seconds},
          {"warmup_seconds", result.warmup_seconds},
          {"controller_reconciles_per_second", SummaryJson(result.controller_per_second)},
          {"baseline_reads_per_second", SummaryJson(result.baseline_per_second)},
          {"baseline_over_controller", svcd::bench::Ratio(baseline, controller)}};
}

nlohmann::json LatencyJson(const svcd::bench::LatencyResult& result) {
  const double svcd_ready = svcd::bench::Summarize(result.svcd_ready).median;
  const double direct = svcd::bench::Summarize(result.direct_ready).median;
  return {{"svcd_apply_to_ready_seconds", SummaryJson(result.svcd_ready)},
          {"svcd_delete_to_gone_seconds", SummaryJson(result.svcd_delete)},
          {"direct_start_to_probes_passed_seconds", SummaryJson(result.direct_ready)},
          {"svcd_over_direct", svcd::bench::Ratio(svcd_ready, direct)}};
}

void PrintThroughput(const Flags& flags, const svcd::bench::ThroughputResult& result) {
  const nlohmann::json json = ThroughputJson(result);
  std::cout << "No-op reconcile throughput: " << flags.deploys << " deploys of " << flags.targets
            << " targets, " << flags.workers << " workers, " << flags.rounds << " rounds\n"
            << Header() << "\n"
            << Row("controller, reconciles/s", result.controller_per_second, 0) << "\n"
            << Row("minimal queue reading the row, keys/s", result.baseline_per_second, 0) << "\n"
            << "  ratio of medians, minimal queue / controller: " << std::fixed
            << std::setprecision(2) << json["baseline_over_controller"].get<double>() << "\n"
            << "  (seeding took " << std::setprecision(1) << result.seed_seconds
            << " s; the warm-up round that wrote every status took " << result.warmup_seconds
            << " s)\n\n";
}

void PrintLatency(const Flags& flags, const svcd::bench::LatencyResult& result) {
  const nlohmann::json json = LatencyJson(result);
  std::cout << "Apply-to-Ready latency: quickstart deploy (master and 2 workers), " << flags.rounds
            << " rounds, seconds\n"
            << Header() << "\n"
            << Row("svcd, apply to phase Ready", result.svcd_ready, 3) << "\n"
            << Row("svcd, delete to deploy gone", result.svcd_delete, 3) << "\n"
            << Row("direct posix_spawn, to probes passed", result.direct_ready, 3) << "\n"
            << "  ratio of medians, svcd / direct: " << std::fixed << std::setprecision(2)
            << json["svcd_over_direct"].get<double>() << "\n\n";
}

// Creates a fresh directory under the system's temporary directory.
StatusOr<std::filesystem::path> MakeWorkDir() {
  std::error_code error;
  std::string pattern =
      (std::filesystem::temp_directory_path(error) / "svcd-bench-XXXXXX").string();
  if (error) return Status::Internal("no temporary directory: " + error.message());
  if (mkdtemp(pattern.data()) == nullptr) {
    return Status::Internal("cannot create " + pattern + ": " + std::strerror(errno));
  }
  return std::filesystem::path(pattern);
}

// Fills the paths that default to files beside this program, and checks
// that the latency benchmark's programs exist.
Status ResolvePaths(Flags& flags) {
  const std::filesystem::path dir = ProgramDir();
  if (flags.svcd.empty()) flags.svcd = (dir / "svcd").string();
  if (flags.standin.empty()) {
    flags.standin =
        (std::filesystem::path(flags.svcd).parent_path() / "svcd-standin-model-server").string();
  }
  if (flags.only == "throughput") return Status::Ok();
  for (const auto& [flag, path] : {std::pair{"--svcd", flags.svcd}, {"--standin", flags.standin}}) {
    if (access(path.c_str(), X_OK) != 0) {
      return Status::InvalidArgument(std::string(flag) + ": " + path +
                                     " is not an executable file; build it or pass its path");
    }
  }
  return Status::Ok();
}

// Runs the benchmarks that --only selects in `work_dir`, adds their results
// to `report` and, unless --json, prints them.
Status RunBenchmarks(const Flags& flags, const std::filesystem::path& work_dir,
                     nlohmann::json& report) {
  const std::chrono::seconds timeout(flags.timeout_seconds);
  if (flags.only != "latency") {
    std::filesystem::create_directories(work_dir / "throughput");
    StatusOr<svcd::bench::ThroughputResult> result =
        svcd::bench::RunThroughput({work_dir / "throughput", flags.seed_dir, flags.deploys,
                                    flags.targets, flags.workers, flags.rounds, timeout, Progress});
    if (!result.ok()) return result.status();
    report["throughput"] = ThroughputJson(*result);
    if (!flags.json) PrintThroughput(flags, *result);
  }

  if (flags.only != "throughput") {
    std::filesystem::create_directories(work_dir / "latency");
    StatusOr<svcd::bench::LatencyResult> result =
        svcd::bench::RunLatency({work_dir / "latency", flags.svcd, flags.standin, flags.manifest,
                                 flags.rounds, timeout, Progress});
    if (!result.ok()) return result.status();
    report["latency"] = LatencyJson(*result);
    if (!flags.json) PrintLatency(flags, *result);
  }
  return Status::Ok();
}

int Run(Flags flags) {
  if (Status resolved = ResolvePaths(flags); !resolved.ok()) {
    std::cerr << "svcd_bench: " << resolved.message() << "\n";
    return 2;
  }
  StatusOr<std::filesystem::path> work_dir = MakeWorkDir();
  if (!work_dir.ok()) {
    std::cerr << "svcd_bench: " << work_dir.status().message() << "\n";
    return 1;
  }

  nlohmann::json report = {{"config",
                            {{"deploys", flags.deploys},
                             {"targets", flags.targets},
                             {"workers", flags.workers},
                             {"rounds", flags.rounds}}}};
  if (Status status = RunBenchmarks(flags, *work_dir, report); !status.ok()) {
    std::cerr << "svcd_bench: " << status.ToString() << "\nsvcd_bench: kept " << work_dir->string()
              << " for inspection\n";
    return 1;
  }
  if (flags.json) std::cout << report.dump(2) << "\n";
  std::error_code error;
  std::filesystem::remove_all(*work_dir, error);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "svcd_bench: no-op reconcile throughput and apply-to-Ready latency of svcd, each "
      "beside a minimal baseline"};
  Flags flags;
  std::error_code error;
  if (std::filesystem::is_directory("/dev/shm", error)) flags.seed_dir = "/dev/shm";
  app.add_option("--deploys", flags.deploys, "ServiceDeploys in the throughput store")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  app.add_option("--targets", flags.targets, "Targets per deploy, the master included")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--workers", flags.workers,
                 "Worker threads of the Controller and of the minimal queue")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--rounds", flags.rounds, "Measured rounds of each side of each benchmark")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app.add_option("--only", flags.only, "Run one benchmark: throughput or latency")
      ->check(CLI::IsMember({"throughput", "latency"}));
  app.add_option("--svcd", flags.svcd, "The svcd binary (default: svcd beside this program)");
  app.add_option("--standin", flags.standin,
                 "The stand-in model server (default: svcd-standin-model-server beside svcd)");
  app.add_option("--manifest", flags.manifest,
                 "The quickstart manifest; its ports 18000-18002 are replaced by free ones")
      ->capture_default_str();
  app.add_option("--timeout", flags.timeout_seconds,
                 "Maximum wait, in seconds, for any one step: a throughput round, svcd start, "
                 "a deploy becoming Ready or gone, the direct processes passing their probes")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
  app.add_option("--seed-dir", flags.seed_dir,
                 "Directory, ideally on tmpfs, where the throughput store is seeded before it "
                 "moves to the temporary directory; \"\" seeds in place, which is slower")
      ->capture_default_str();
  app.add_flag("--json", flags.json, "Print the report as JSON");
  CLI11_PARSE(app, argc, argv);

  // Library log lines go to stderr, so stdout holds only the report.
  spdlog::set_default_logger(spdlog::stderr_color_mt("svcd_bench"));
  spdlog::set_level(spdlog::level::warn);
  return Run(flags);
}
