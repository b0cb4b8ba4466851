#include "tests/e2e/deploy_fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

namespace svcd::e2e {
namespace {

std::string ArgList(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) out += (i == 0 ? "" : ", ") + items[i];
  return out + "]";
}

void KillGroupAndPid(pid_t pid) {
  const pid_t group = getpgid(pid);
  // Never the test's own group: only groups that a launcher's setsid made.
  if (group > 1 && group != getpgrp()) kill(-group, SIGKILL);
  kill(pid, SIGKILL);
}

}  // namespace

bool ProcessAlive(int64_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(stat, text)) return false;
  const size_t paren = text.rfind(')');
  if (paren == std::string::npos || paren + 2 >= text.size()) return false;
  return text[paren + 2] != 'Z' && text[paren + 2] != 'X';
}

bool TcpConnects(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool connected = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  close(fd);
  return connected;
}

bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

void DeployE2eTest::SetUp() {
  E2eTest::SetUp();
  if (IsSkipped() || HasFatalFailure()) return;
  std::set<uint16_t> ports;
  while (ports.size() < 3) ports.insert(PickFreePort());
  auto it = ports.begin();
  master_port_ = *it++;
  worker_ports_ = {*it++, *it};
  fixture_url_ = server().base_url();
}

void DeployE2eTest::TearDown() {
  const bool own_running = own_svcd_ != nullptr && own_svcd_->Running();
  if (server().Running() || own_running) {
    for (const std::string& name : deploy_names_) {
      Ctl({"delete", "sd", name, "--wait", "--timeout", "30s"});
    }
  }
  KillLeftovers();
  if (own_running) {
    const int exit_code = own_svcd_->Stop();
    EXPECT_EQ(exit_code, 0) << "the test's own svcd did not stop cleanly";
  }
  E2eTest::TearDown();
}

void DeployE2eTest::KillLeftovers() {
  if (temp_dir().empty()) return;
  for (int round = 0; round < 3; ++round) {
    std::vector<int64_t> pids = ProcessesUnder(temp_dir());
    for (int64_t pid : tracked_pids_) {
      if (ProcessAlive(pid)) pids.push_back(pid);
    }
    if (pids.empty()) return;
    for (int64_t pid : pids) KillGroupAndPid(static_cast<pid_t>(pid));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

void DeployE2eTest::CheckExecProbeRunsInTheLauncher(DeployKnobs knobs) {
  const std::string dirs = (temp_dir() / "probe-dirs").string();
  const std::filesystem::path sick = temp_dir() / "sick";
  knobs.scope = "Target";
  knobs.template_extra =
      "  workerProbe:\n    exec:\n      command:\n        - sh\n        - -c\n"
      "        - 'pwd >>" +
      dirs + "; test ! -f " + sick.string() +
      " && kill -0 \"$SVCD_SERVICE_PID\"'\n"
      "    periodSeconds: 1\n    timeoutSeconds: 2\n    failureThreshold: 2\n";
  ApplyWithSvcctl(QuickstartYaml(knobs), knobs.name);
  nlohmann::json deploy = WaitReady(knobs.name, std::chrono::seconds(60));
  ASSERT_FALSE(HasFailure());
  TrackTargets(deploy);
  const TargetMap before = Targets(deploy);
  std::stringstream ran;
  ran << std::ifstream(dirs).rdbuf();
  for (const char* worker : {"worker-0", "worker-1"}) {
    const std::string id = before.at(worker).value("dispatchId", "");
    ASSERT_FALSE(id.empty()) << deploy.dump(2);
    EXPECT_THAT(ran.str(), ::testing::HasSubstr("/attempts/" + id + "\n"));
  }

  // Failing the probe restarts both workers, and only them.
  std::ofstream(sick).put('1');
  ASSERT_TRUE(WaitForDeploy(
      knobs.name,
      [&](const nlohmann::json& d) {
        const TargetMap t = Targets(d);
        return t.size() == 3 && t.at("worker-0").value("attempts", 0) >= 1 &&
               t.at("worker-1").value("attempts", 0) >= 1;
      },
      std::chrono::seconds(60), &deploy))
      << deploy.dump(2);
  std::filesystem::remove(sick);
  deploy = WaitReady(knobs.name, std::chrono::seconds(60));
  ASSERT_FALSE(HasFailure());
  TrackTargets(deploy);
  const TargetMap after = Targets(deploy);
  EXPECT_EQ(after.at("master").value("attempts", -1), 0);
  EXPECT_EQ(after.at("master")["pid"], before.at("master")["pid"]);
  for (const char* worker : {"worker-0", "worker-1"}) {
    EXPECT_NE(after.at(worker).value("dispatchId", ""), before.at(worker).value("dispatchId", ""));
  }
  bool reason_seen = false;
  for (const auto& [reason, message] : Events(knobs.name)) {
    reason_seen = reason_seen ||
                  message.find("the exec probe exited with 1 on the host") != std::string::npos;
  }
  EXPECT_TRUE(reason_seen) << "no event quotes the failing probe result";
}

std::string DeployE2eTest::TemplateDocument(const DeployKnobs& knobs) const {
  std::string yaml = "apiVersion: svcd.io/v1alpha1\nkind: ServiceTemplate\nmetadata:\n";
  yaml += "  name: standin-vllm\n";
  yaml += "spec:\n";
  yaml += "  sceneType: vllm\n";
  yaml += "  modelBackend: vllm\n";
  yaml += "  fixedPrefix: '" + knobs.prefix_before + "exec " + kStandinBinary + "'\n";
  yaml += "  defaultEnvs:\n";
  yaml += "    - {name: VLLM_USE_V1, value: \"1\"}\n";
  yaml += "  defaultMasterArgs:\n";
  yaml += "    - {name: host, value: 127.0.0.1}\n";
  yaml += "    - {name: port, value: \"" + std::to_string(master_port_) + "\"}\n";
  yaml += "    - {name: load-delay, value: \"" + knobs.master_load_delay + "\"}\n";
  yaml += "  defaultWorkerArgs:\n";
  yaml += "    - {name: host, value: 127.0.0.1}\n";
  yaml += knobs.template_extra;
  return yaml;
}

std::string DeployE2eTest::QuickstartYaml(const DeployKnobs& knobs) const {
  const std::string host =
      "apiVersion: svcd.io/v1alpha1\nkind: Host\nmetadata:\n  name: local\nspec:\n" +
      knobs.host_spec;

  std::vector<std::string> worker0 = {"{name: port, value: \"" + std::to_string(worker_ports_[0]) +
                                      "\"}"};
  worker0.insert(worker0.end(), knobs.worker0_args.begin(), knobs.worker0_args.end());
  std::vector<std::string> worker1 = {"{name: port, value: \"" + std::to_string(worker_ports_[1]) +
                                      "\"}"};
  worker1.insert(worker1.end(), knobs.worker1_args.begin(), knobs.worker1_args.end());
  std::vector<std::string> master = {"{name: served-model-name, value: qwen2-7b}"};
  master.insert(master.end(), knobs.master_args.begin(), knobs.master_args.end());

  std::string deploy = "apiVersion: svcd.io/v1alpha1\nkind: ServiceDeploy\nmetadata:\n";
  deploy += "  name: " + knobs.name + "\n  namespace: default\n";
  deploy += "spec:\n  templateRef: standin-vllm\n  modelName: qwen2-7b\n";
  deploy += "  envs: " + ArgList(knobs.envs) + "\n";
  deploy += "  master:\n    host: local\n    args: " + ArgList(master) + "\n";
  deploy += "  workers:\n";
  deploy += "    - host: local\n      args: " + ArgList(worker0) + "\n";
  deploy += "    - host: local\n      args: " + ArgList(worker1) + "\n";
  deploy += "  probe:\n    http:\n      method: POST\n";
  deploy += "      port: " + std::to_string(master_port_) + "\n";
  deploy += "      path: /v1/completions\n";
  deploy += "      headers: [{name: Content-Type, value: application/json}]\n";
  deploy += "      body: '{\"model\":\"qwen2-7b\",\"prompt\":\"Paris is\",\"max_tokens\":4}'\n";
  deploy += "      keyword: France\n";
  deploy += "    periodSeconds: 1\n    timeoutSeconds: 2\n    failureThreshold: 3\n";
  deploy += "  startupPolicy: " + knobs.startup_policy + "\n";
  deploy += "  workerStaggerSeconds: " + std::to_string(knobs.worker_stagger_seconds) + "\n";
  deploy += "  startupTimeoutSeconds: " + std::to_string(knobs.startup_timeout_seconds) + "\n";
  deploy += "  dispatchTimeoutSeconds: " + std::to_string(knobs.dispatch_timeout_seconds) + "\n";
  deploy += std::string("  suspend: ") + (knobs.suspend ? "true" : "false") + "\n";
  deploy += "  restartPolicy:\n";
  deploy += "    scope: " + knobs.scope + "\n";
  deploy += "    maxRetries: " + std::to_string(knobs.max_retries) + "\n";
  deploy += "    backoffSeconds: " + std::to_string(knobs.backoff_seconds) + "\n";
  deploy += "    maxBackoffSeconds: " + std::to_string(knobs.backoff_seconds * 2) + "\n";
  deploy += "    resetAfterSeconds: " + std::to_string(knobs.reset_after_seconds) + "\n";
  return YamlStream({host, TemplateDocument(knobs), deploy});
}

std::string DeployE2eTest::ApplyWithSvcctl(const std::string& yaml,
                                           const std::string& deploy_name) {
  if (std::find(deploy_names_.begin(), deploy_names_.end(), deploy_name) == deploy_names_.end()) {
    deploy_names_.push_back(deploy_name);
  }
  const std::string path = WriteTempFile("manifest.yaml", yaml);
  const CommandResult result = Ctl({"apply", "-f", path});
  EXPECT_EQ(result.exit_code, 0) << result.err << "\nmanifest:\n" << yaml;
  return result.out;
}

nlohmann::json DeployE2eTest::GetDeploy(const std::string& name) const {
  const HttpReply reply =
      SendRequest("GET", Url() + kApiPrefix + "/namespaces/default/servicedeploys/" + name, "",
                  RequestOptions().WithToken(token_));
  if (reply.status != 200) return nlohmann::json(nlohmann::json::value_t::discarded);
  nlohmann::json deploy = reply.Json();
  // Callers read deploy["status"] of a const value, which must exist.
  if (deploy.is_object() && !deploy["status"].is_object())
    deploy["status"] = nlohmann::json::object();
  return deploy;
}

nlohmann::json DeployE2eTest::WaitPhase(const std::string& name, const std::string& phase,
                                        std::chrono::milliseconds timeout) {
  nlohmann::json deploy;
  const bool reached = WaitForDeploy(
      name, [&](const nlohmann::json& d) { return d["status"].value("phase", "") == phase; },
      timeout, &deploy);
  EXPECT_TRUE(reached) << "phase " << phase << " not reached:\n" << deploy.dump(2);
  return deploy;
}

std::string DeployE2eTest::Url() const { return own_url_.empty() ? fixture_url_ : own_url_; }

CommandResult DeployE2eTest::Ctl(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {kSvcctlBinary, "--server", Url()};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<std::string> env = {"PATH=/usr/local/bin:/usr/bin:/bin",
                                  "HOME=" + temp_dir().string()};
  if (!token_.empty()) env.push_back("SVCD_TOKEN=" + token_);
  return RunCommand(argv, env);
}

std::string DeployE2eTest::StartOwnSvcd(uint16_t port) {
  if (server().Running()) server().Stop();
  std::vector<std::string> argv = SvcdArgv(options(), port);
  for (size_t i = 0; i + 1 < argv.size(); ++i) {
    if (argv[i] == "--lease-ttl-seconds") argv[i + 1] = "3";
  }
  // A killed svcd left unreaped stays a zombie until the new one is up.
  std::unique_ptr<BackgroundProcess> previous = std::move(own_svcd_);
  own_svcd_ = std::make_unique<BackgroundProcess>();
  own_url_ = "http://127.0.0.1:" + std::to_string(port);
  if (!own_svcd_->Start(argv, SvcdEnvironment(options()), options().data_dir + "/own-svcd.log")) {
    return "cannot start svcd";
  }
  const bool up = WaitUntil(
      [&] {
        return !own_svcd_->Running() ||
               RawGetStatus(port, "/healthz", std::chrono::seconds(2)) == 200;
      },
      std::chrono::seconds(30));
  if (up && own_svcd_->Running()) return "";
  std::ifstream in(options().data_dir + "/own-svcd.log");
  std::ostringstream log;
  log << in.rdbuf();
  return "svcd did not come up on port " + std::to_string(port) + "; log:\n" + log.str();
}

void DeployE2eTest::KillOwnSvcd(bool reap) {
  if (own_svcd_ == nullptr || !own_svcd_->Running()) return;
  const pid_t pid = own_svcd_->pid();
  kill(pid, SIGKILL);
  if (reap) {
    WaitUntil([&] { return !own_svcd_->Running(); }, std::chrono::seconds(10));
    return;
  }
  const bool zombie = WaitUntil(
      [&] {
        std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
        std::string line;
        std::getline(stat, line);
        const size_t close = line.rfind(')');
        return close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'Z';
      },
      std::chrono::seconds(10));
  EXPECT_TRUE(zombie) << "svcd " << pid << " did not turn into a zombie";
}

TargetMap DeployE2eTest::Targets(const nlohmann::json& deploy) {
  TargetMap targets;
  if (!deploy.is_object() || !deploy.contains("status")) return targets;
  for (const auto& target : deploy["status"].value("targets", nlohmann::json::array())) {
    targets[target.value("name", "")] = target;
  }
  return targets;
}

namespace {

std::string ConditionField(const nlohmann::json& deploy, const std::string& type,
                           const char* field) {
  if (!deploy.is_object() || !deploy.contains("status")) return "";
  for (const auto& condition : deploy["status"].value("conditions", nlohmann::json::array())) {
    if (condition.value("type", "") == type) return condition.value(field, "");
  }
  return "";
}

}  // namespace

std::string DeployE2eTest::Condition(const nlohmann::json& deploy, const std::string& type) {
  return ConditionField(deploy, type, "status");
}

std::string DeployE2eTest::ConditionReason(const nlohmann::json& deploy, const std::string& type) {
  return ConditionField(deploy, type, "reason");
}

bool DeployE2eTest::WaitForDeploy(const std::string& name,
                                  const std::function<bool(const nlohmann::json&)>& done,
                                  std::chrono::milliseconds timeout, nlohmann::json* last) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    const nlohmann::json deploy = GetDeploy(name);
    if (last != nullptr) *last = deploy;
    if (!deploy.is_discarded() && done(deploy)) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

nlohmann::json DeployE2eTest::WaitReady(const std::string& name,
                                        std::chrono::milliseconds timeout) {
  nlohmann::json deploy;
  const bool ready = WaitForDeploy(
      name,
      [](const nlohmann::json& d) {
        if (d["status"].value("phase", "") != "Ready" || Condition(d, "Ready") != "True") {
          return false;
        }
        for (const auto& [target_name, target] : Targets(d)) {
          if (!target.contains("pid") || target.value("state", "") != "READY") return false;
        }
        return !Targets(d).empty();
      },
      timeout, &deploy);
  EXPECT_TRUE(ready) << name << " not Ready within " << timeout.count() << " ms; last:\n"
                     << deploy.dump(2);
  TrackTargets(deploy);
  return deploy;
}

std::vector<std::pair<std::string, std::string>> DeployE2eTest::Events(
    const std::string& name) const {
  std::vector<std::pair<std::string, std::string>> events;
  const HttpReply reply =
      SendRequest("GET", Url() + kApiPrefix + "/namespaces/default/events?name=" + UrlEncode(name),
                  "", RequestOptions().WithToken(token_));
  const nlohmann::json body = reply.Json();
  if (reply.status != 200 || !body.is_object()) return events;
  // A repeated event is one item with a count; it is listed once per time.
  for (const auto& item : body.value("items", nlohmann::json::array())) {
    for (int64_t i = 0; i < item.value("count", int64_t{1}); ++i) {
      events.emplace_back(item.value("reason", ""), item.value("message", ""));
    }
  }
  return events;
}

std::vector<std::string> DeployE2eTest::DispatchMessages(const std::string& name) const {
  std::vector<std::string> messages;
  for (const auto& [reason, message] : Events(name)) {
    if (reason == "Dispatched") messages.push_back(message);
  }
  return messages;
}

void DeployE2eTest::TrackPid(int64_t pid) {
  if (pid > 1) tracked_pids_.push_back(pid);
}

void DeployE2eTest::TrackTargets(const nlohmann::json& deploy) {
  for (const auto& [name, target] : Targets(deploy)) {
    if (target.contains("pid") && target["pid"].is_number_integer()) TrackPid(target["pid"]);
  }
}

std::vector<int64_t> ProcessesUnder(const std::filesystem::path& dir) {
  std::vector<int64_t> pids;
  for (const std::filesystem::directory_entry& entry :
       std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::error_code error;
    const std::string cwd = std::filesystem::read_symlink(entry.path() / "cwd", error);
    if (!error && (cwd + "/").rfind(dir.string() + "/", 0) == 0) pids.push_back(std::stoll(name));
  }
  std::sort(pids.begin(), pids.end());
  return pids;
}

std::vector<int64_t> StandinsUnder(const std::filesystem::path& dir) {
  std::vector<int64_t> pids;
  for (int64_t pid : ProcessesUnder(dir)) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (text.find(kStandinBinary) != std::string::npos && ProcessAlive(pid)) pids.push_back(pid);
  }
  return pids;
}

}  // namespace svcd::e2e
