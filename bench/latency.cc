#include "bench/latency.h"

#include <charconv>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "api/codec.h"
#include "api/defaults.h"
#include "bench/child_process.h"
#include "bench/http_client.h"
#include "probe/system_prober.h"
#include "reconciler/clock.h"
#include "render/render.h"

namespace svcd::bench {
namespace {

using reconciler::Clock;
using reconciler::TimePoint;

constexpr std::chrono::milliseconds kPollInterval{20};
constexpr std::chrono::milliseconds kRequestTimeout{10000};
constexpr std::chrono::milliseconds kStopGrace{10000};
constexpr char kApi[] = "/apis/svcd.io/v1alpha1";
// The quickstart's ports, replaced by free ones: the master's, then the workers'.
constexpr const char* kQuickstartPorts[] = {"18000", "18001", "18002"};
constexpr char kStandinName[] = "svcd-standin-model-server";

double SecondsSince(const Clock& clock, TimePoint start) {
  return std::chrono::duration<double>(clock.Now() - start).count();
}

// Calls `check` every kPollInterval until it returns true or an error, or
// `timeout` passes (DeadlineExceeded naming `what`).
Status PollUntil(Clock& clock, std::chrono::seconds timeout, const std::string& what,
                 const std::function<StatusOr<bool>()>& check) {
  const TimePoint deadline = reconciler::DeadlineAfter(clock.Now(), timeout);
  while (true) {
    StatusOr<bool> done = check();
    if (!done.ok()) return done.status();
    if (*done) return Status::Ok();
    if (clock.Now() >= deadline) {
      return Status::DeadlineExceeded("timed out after " + std::to_string(timeout.count()) +
                                      " s waiting for " + what + "; raise --timeout");
    }
    clock.SleepUntil(reconciler::DeadlineAfter(clock.Now(), kPollInterval));
  }
}

// One node of the deploy as the direct baseline starts it.
struct Node {
  std::string name;  // master, worker-0, ...
  std::vector<std::string> argv;
  std::vector<std::string> env;
  probe::ProbeTarget probe;
};

struct Quickstart {
  std::string yaml;  // the manifest with free ports
  std::string namespace_;
  std::string name;
  std::vector<Node> nodes;
};

StatusOr<std::string> ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArgument("cannot read the manifest " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Replaces every occurrence of each quickstart port with its free port.
StatusOr<std::string> SubstitutePorts(std::string text, const std::vector<uint16_t>& ports,
                                      const std::string& source) {
  for (size_t i = 0; i < ports.size(); ++i) {
    const std::string from = kQuickstartPorts[i];
    const std::string to = std::to_string(ports[i]);
    size_t count = 0;
    for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at)) {
      text.replace(at, from.size(), to);
      at += to.size();
      ++count;
    }
    if (count == 0) {
      return Status::InvalidArgument(source + ": port " + from +
                                     " does not occur; pass the quickstart manifest");
    }
  }
  return text;
}

// Returns the value after "--port" in a node's argv.
StatusOr<int> PortArg(const render::NodeScript& node) {
  for (size_t i = 0; i + 1 < node.argv_tail.size(); ++i) {
    if (node.argv_tail[i] != "--port") continue;
    const std::string& text = node.argv_tail[i + 1];
    int port = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), port);
    if (error != std::errc() || end != text.data() + text.size() || port < 1 || port > 65535) {
      return Status::InvalidArgument("node " + node.name + ": --port \"" + text +
                                     "\" is not a port from 1 to 65535");
    }
    return port;
  }
  return Status::InvalidArgument("node " + node.name +
                                 " has no --port argument, so its TCP check has no port");
}

// Builds the direct start of one rendered node: the stand-in with the
// node's argv and exported variables, and the probe svcd runs for it.
StatusOr<Node> NodeOf(const render::NodeScript& script, const std::optional<api::Probe>& probe,
                      const std::filesystem::path& standin) {
  Node node;
  node.name = script.name;
  node.argv = {standin.string()};
  node.argv.insert(node.argv.end(), script.argv_tail.begin(), script.argv_tail.end());
  node.env = EnvironmentWithPath(standin.parent_path().string());
  for (const api::EnvVar& env : script.envs) node.env.push_back(env.name + "=" + env.value);
  node.probe.address = script.address;
  if (probe) {
    node.probe.probe = *probe;
    return node;
  }
  StatusOr<int> port = PortArg(script);
  if (!port.ok()) return port.status();
  api::Probe tcp;
  tcp.tcp = api::TcpProbe{*port};
  tcp.timeout_seconds = 1;
  node.probe.probe = tcp;
  return node;
}

// The decoded quickstart objects, with their defaults filled in.
struct Objects {
  std::optional<api::Host> host;
  std::optional<api::ServiceTemplate> tmpl;
  std::optional<api::ServiceDeploy> deploy;
};

StatusOr<Objects> DecodeQuickstart(const std::string& yaml, const std::string& source) {
  StatusOr<std::vector<api::Object>> objects =
      api::DecodeObjects(yaml, api::Format::kYaml, {.source_name = source});
  if (!objects.ok()) return objects.status();
  Objects out;
  for (api::Object& object : *objects) {
    api::ApplyDefaults(object);
    if (auto* host = std::get_if<api::Host>(&object)) out.host = *host;
    if (auto* tmpl = std::get_if<api::ServiceTemplate>(&object)) out.tmpl = *tmpl;
    if (auto* deploy = std::get_if<api::ServiceDeploy>(&object)) out.deploy = *deploy;
  }
  if (!out.host || !out.tmpl || !out.deploy) {
    return Status::InvalidArgument(source +
                                   ": expected one Host, one ServiceTemplate and one "
                                   "ServiceDeploy, as in the quickstart manifest");
  }
  const std::string& prefix = out.tmpl->spec.fixed_prefix;
  if (prefix.size() < sizeof kStandinName - 1 ||
      prefix.compare(prefix.size() - (sizeof kStandinName - 1), std::string::npos, kStandinName) !=
          0) {
    return Status::InvalidArgument(source + ": ServiceTemplate " + out.tmpl->metadata.name +
                                   " spec.fixedPrefix must end with " + kStandinName +
                                   ", because the direct baseline starts that program");
  }
  return out;
}

StatusOr<Quickstart> LoadQuickstart(const LatencyOptions& options,
                                    const std::vector<uint16_t>& ports) {
  const std::string source = options.manifest.string();
  StatusOr<std::string> text = ReadFile(options.manifest);
  if (!text.ok()) return text.status();
  StatusOr<std::string> yaml = SubstitutePorts(*text, ports, source);
  if (!yaml.ok()) return yaml.status();
  StatusOr<Objects> objects = DecodeQuickstart(*yaml, source);
  if (!objects.ok()) return objects.status();
  const api::ServiceDeploy& deploy = *objects->deploy;
  StatusOr<render::RenderedDeploy> rendered = render::RenderDeploy(
      deploy, *objects->tmpl, {{objects->host->metadata.name, *objects->host}});
  if (!rendered.ok()) return rendered.status();

  Quickstart out{*yaml, deploy.metadata.namespace_, deploy.metadata.name, {}};
  const auto& tmpl = objects->tmpl->spec;
  const std::optional<api::Probe> master_probe = deploy.spec.probe ? deploy.spec.probe : tmpl.probe;
  const std::optional<api::Probe> worker_probe =
      deploy.spec.worker_probe ? deploy.spec.worker_probe : tmpl.worker_probe;
  StatusOr<Node> master = NodeOf(rendered->master, master_probe, options.standin);
  if (!master.ok()) return master.status();
  out.nodes.push_back(std::move(*master));
  for (const render::NodeScript& script : rendered->workers) {
    StatusOr<Node> worker = NodeOf(script, worker_probe, options.standin);
    if (!worker.ok()) return worker.status();
    out.nodes.push_back(std::move(*worker));
  }
  return out;
}

// svcd as a child process, and a client of its API.
class Svcd {
 public:
  Svcd(Clock& clock, uint16_t port)
      : clock_(clock),
        port_(port),
        process_(clock),
        client_("http://127.0.0.1:" + std::to_string(port), kRequestTimeout) {}

  // Starts svcd and waits until /readyz returns 200.
  Status Start(const LatencyOptions& options);
  // Stops svcd with SIGTERM, then SIGKILL after 30 s.
  Status Stop() { return process_.Stop(std::chrono::seconds(30)); }
  HttpClient& client() { return client_; }
  bool Running() { return process_.Running(); }

 private:
  Clock& clock_;
  const uint16_t port_;
  ChildProcess process_;
  HttpClient client_;
};

Status Svcd::Start(const LatencyOptions& options) {
  const std::filesystem::path log = options.work_dir / "svcd.log";
  const std::vector<std::string> argv = {options.svcd.string(),
                                         "--listen",
                                         "127.0.0.1:" + std::to_string(port_),
                                         "--data-dir",
                                         (options.work_dir / "svcd-data").string(),
                                         "--log-level",
                                         "warn"};
  // svcd passes PATH to launchers, so the scripts find the stand-in by name.
  Status started =
      process_.Start(argv, EnvironmentWithPath(options.standin.parent_path().string()), log);
  if (!started.ok()) return started;
  return PollUntil(clock_, options.timeout, "svcd to serve /readyz", [&]() -> StatusOr<bool> {
    if (!process_.Running()) {
      return Status::Internal("svcd exited at start; see " + log.string());
    }
    StatusOr<HttpReply> reply = client_.Send("GET", "/readyz");
    return reply.ok() && reply->status == 200;
  });
}

std::string DeployPath(const Quickstart& quickstart) {
  return std::string(kApi) + "/namespaces/" + quickstart.namespace_ + "/servicedeploys/" +
         quickstart.name;
}

// Returns the deploy's status.phase, or "" while it has none.
StatusOr<std::string> PhaseOf(HttpClient& client, const Quickstart& quickstart) {
  StatusOr<HttpReply> reply = client.Send("GET", DeployPath(quickstart) + "/status");
  if (!reply.ok()) return reply.status();
  if (reply->status != 200) {
    return Status::Internal("GET status of " + quickstart.name + " returned " +
                            std::to_string(reply->status) + ": " + reply->body);
  }
  nlohmann::json body = nlohmann::json::parse(reply->body, nullptr, false);
  if (!body.is_object() || !body.contains("status") || !body["status"].is_object()) {
    return std::string();
  }
  return body["status"].value("phase", "");
}

// Deletes the deploy and waits until GET returns 404.
Status DeleteDeploy(Svcd& svcd, const Quickstart& quickstart, Clock& clock,
                    std::chrono::seconds timeout) {
  StatusOr<HttpReply> reply = svcd.client().Send("DELETE", DeployPath(quickstart));
  if (!reply.ok()) return reply.status();
  if (reply->status >= 300 && reply->status != 404) {
    return Status::Internal("DELETE " + quickstart.name + " returned " +
                            std::to_string(reply->status) + ": " + reply->body);
  }
  return PollUntil(clock, timeout, "deploy " + quickstart.name + " to be deleted",
                   [&]() -> StatusOr<bool> {
                     StatusOr<HttpReply> got = svcd.client().Send("GET", DeployPath(quickstart));
                     if (!got.ok()) return got.status();
                     return got->status == 404;
                   });
}

// Applies the deploy, waits for Ready, deletes it and waits until it is
// gone. Returns the seconds to Ready and to gone.
StatusOr<std::pair<double, double>> SvcdRound(Svcd& svcd, const Quickstart& quickstart,
                                              Clock& clock, std::chrono::seconds timeout) {
  const TimePoint start = clock.Now();
  StatusOr<HttpReply> applied =
      svcd.client().Send("POST", std::string(kApi) + "/apply", quickstart.yaml, "application/yaml");
  if (!applied.ok()) return applied.status();
  if (applied->status >= 300) {
    return Status::Internal("apply returned " + std::to_string(applied->status) + ": " +
                            applied->body);
  }
  Status ready = PollUntil(clock, timeout, "deploy " + quickstart.name + " to be Ready",
                           [&]() -> StatusOr<bool> {
                             StatusOr<std::string> phase = PhaseOf(svcd.client(), quickstart);
                             if (!phase.ok()) return phase.status();
                             if (*phase == "Failed") {
                               return Status::Internal("svcd reports deploy " + quickstart.name +
                                                       " Failed; see its events");
                             }
                             return *phase == "Ready";
                           });
  if (!ready.ok()) return ready;
  const double ready_seconds = SecondsSince(clock, start);

  const TimePoint delete_start = clock.Now();
  Status deleted = DeleteDeploy(svcd, quickstart, clock, timeout);
  if (!deleted.ok()) return deleted;
  return std::pair{ready_seconds, SecondsSince(clock, delete_start)};
}

// Starts every node directly and waits until each passes its probe once.
// Returns the seconds from the first start to the last pass.
StatusOr<double> DirectRound(const Quickstart& quickstart, probe::Prober& prober, Clock& clock,
                             const LatencyOptions& options) {
  std::vector<std::unique_ptr<ChildProcess>> processes;
  const TimePoint start = clock.Now();
  for (const Node& node : quickstart.nodes) {
    processes.push_back(std::make_unique<ChildProcess>(clock));
    Status started = processes.back()->Start(node.argv, node.env,
                                             options.work_dir / ("direct-" + node.name + ".log"));
    if (!started.ok()) return started;
  }
  std::vector<bool> passed(quickstart.nodes.size(), false);
  Status ready = PollUntil(
      clock, options.timeout, "the direct processes to pass their probes", [&]() -> StatusOr<bool> {
        bool all = true;
        for (size_t i = 0; i < passed.size(); ++i) {
          if (passed[i]) continue;
          if (!processes[i]->Running()) {
            return Status::Internal(
                quickstart.nodes[i].name + " exited; see " +
                (options.work_dir / ("direct-" + quickstart.nodes[i].name + ".log")).string());
          }
          passed[i] = prober.Run(quickstart.nodes[i].probe).success;
          all = all && passed[i];
        }
        return all;
      });
  const double seconds = SecondsSince(clock, start);
  for (auto& process : processes) {
    Status stopped = process->Stop(kStopGrace);
    if (ready.ok() && !stopped.ok()) ready = stopped;
  }
  if (!ready.ok()) return ready;
  return seconds;
}

using Progress = std::function<void(const std::string&)>;

Status RunRounds(Svcd& svcd, const Quickstart& quickstart, const LatencyOptions& options,
                 Clock& clock, LatencyResult& result, const Progress& progress) {
  probe::SystemProber prober;
  for (int round = 1; round <= options.rounds; ++round) {
    StatusOr<std::pair<double, double>> measured =
        SvcdRound(svcd, quickstart, clock, options.timeout);
    if (!measured.ok()) return measured.status();
    result.svcd_ready.push_back(measured->first);
    result.svcd_delete.push_back(measured->second);
    StatusOr<double> direct = DirectRound(quickstart, prober, clock, options);
    if (!direct.ok()) return direct.status();
    result.direct_ready.push_back(*direct);
    progress("round " + std::to_string(round) + " of " + std::to_string(options.rounds) +
             ": svcd Ready after " + std::to_string(measured->first) + " s, deleted after " +
             std::to_string(measured->second) + " s; direct " + std::to_string(*direct) + " s");
  }
  return Status::Ok();
}

}  // namespace

StatusOr<LatencyResult> RunLatency(const LatencyOptions& options) {
  Progress progress = [&](const std::string& line) {
    if (options.progress) options.progress("latency: " + line);
  };
  reconciler::RealClock clock;
  std::set<uint16_t> used_ports;
  std::vector<uint16_t> ports;
  for (int i = 0; i < 4; ++i) {
    StatusOr<uint16_t> port = PickFreePort(used_ports);
    if (!port.ok()) return port.status();
    ports.push_back(*port);
  }
  StatusOr<Quickstart> quickstart =
      LoadQuickstart(options, std::vector<uint16_t>(ports.begin() + 1, ports.end()));
  if (!quickstart.ok()) return quickstart.status();

  Svcd svcd(clock, ports[0]);
  Status status = svcd.Start(options);
  if (status.ok()) progress("svcd serves on 127.0.0.1:" + std::to_string(ports[0]));
  LatencyResult result;
  if (status.ok()) status = RunRounds(svcd, *quickstart, options, clock, result, progress);
  if (!status.ok() && svcd.Running()) {
    // Launchers and services outlive svcd, so stop them through a delete first.
    Status deleted = DeleteDeploy(svcd, *quickstart, clock, options.timeout);
    if (!deleted.ok()) progress("cleanup: " + deleted.message());
  }
  Status stopped = svcd.Stop();
  if (!status.ok())
    return Status(status.code(), status.message() + " (svcd log: " +
                                     (options.work_dir / "svcd.log").string() + ")");
  if (!stopped.ok()) return stopped;
  return result;
}

}  // namespace svcd::bench
