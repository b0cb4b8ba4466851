#include "tests/powerjob/standin.h"

#include <arpa/inet.h>
#include <cpprest/http_client.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>

namespace svcd::powerjob::testing {
namespace {

namespace http = web::http;
using dispatch::testing::ReadFile;
using dispatch::testing::WaitUntil;

std::string Send(const std::string& base, const http::method& method, const std::string& path,
                 const std::string& body) {
  http::client::http_client_config config;
  config.set_timeout(std::chrono::seconds(10));
  http::client::http_client client(base, config);
  http::http_request request(method);
  request.set_request_uri(path);
  if (!body.empty()) request.set_body(body, "application/json");
  http::http_response response = client.request(request).get();
  std::string text = response.extract_utf8string(true).get();
  if (response.status_code() != 200) {
    throw std::runtime_error(path + " answered " + std::to_string(response.status_code()) + ": " +
                             text);
  }
  return text;
}

}  // namespace

Standin::Standin(StandinOptions options) : options_(std::move(options)) {}

Standin::~Standin() { Stop(); }

bool Standin::Start() {
  const std::filesystem::path port_file = dir_.path() / "port";
  std::filesystem::remove(port_file);
  std::vector<std::string> argv = {"/usr/bin/python3",
                                   SVCD_POWERJOB_STANDIN,
                                   "--listen",
                                   "127.0.0.1:" + std::to_string(options_.port),
                                   "--port-file",
                                   port_file.string(),
                                   "--profile",
                                   options_.profile,
                                   "--app",
                                   kApp,
                                   "--state-dir",
                                   (dir_.path() / "state").string()};
  if (!options_.password.empty()) {
    argv.push_back("--password");
    argv.push_back(options_.password);
  }
  for (const std::string& worker : options_.workers) {
    argv.push_back("--worker");
    argv.push_back(worker);
  }
  for (const std::string& fault : options_.faults) {
    argv.push_back("--fault");
    argv.push_back(fault);
  }
  const char* path = std::getenv("PATH");
  std::vector<std::string> env = {std::string("PATH=") + (path ? path : "/usr/bin:/bin"),
                                  "PYTHONDONTWRITEBYTECODE=1", "LANG=C.UTF-8"};
  process_ = std::make_unique<dispatch::testing::ChildProcess>(argv, env, dir_.path() / "log");
  const bool up =
      WaitUntil([&] { return std::filesystem::exists(port_file) && !ReadFile(port_file).empty(); },
                std::chrono::seconds(15));
  if (!up) return false;
  port_ = static_cast<uint16_t>(std::stoi(ReadFile(port_file)));
  options_.port = port_;
  return true;
}

void Standin::Stop() {
  if (!process_) return;
  process_->Kill(SIGTERM);
  process_->Wait(std::chrono::seconds(10));
  process_.reset();
}

std::string Standin::log() const { return ReadFile(dir_.path() / "log"); }

nlohmann::json Standin::Get(const std::string& path) const {
  return nlohmann::json::parse(Send(url(), http::methods::GET, path, ""));
}

nlohmann::json Standin::Calls() const { return Get("/_standin/calls"); }

int Standin::Count(const std::string& op) const {
  const nlohmann::json counts = Calls()["counts"];
  return counts.contains(op) ? counts[op].get<int>() : 0;
}

nlohmann::json Standin::Instances() const { return Get("/_standin/instances")["instances"]; }

void Standin::SetFaults(const nlohmann::json& set, const std::vector<std::string>& clear) {
  nlohmann::json body = {{"set", set}, {"clear", clear}};
  Send(url(), http::methods::POST, "/_standin/faults", body.dump());
}

ResetServer::ResetServer() {
  listener_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (listener_ < 0 || bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) ||
      listen(listener_, 16) ||
      getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length)) {
    throw std::runtime_error("cannot listen on 127.0.0.1");
  }
  port_ = ntohs(address.sin_port);
  thread_ = std::thread([this] {
    while (!stopping_) {
      pollfd ready{listener_, POLLIN, 0};
      if (poll(&ready, 1, 100) <= 0) continue;
      const int connection = accept(listener_, nullptr, nullptr);
      if (connection < 0) continue;
      ++connections_;
      // Read up to the end of the request headers, then reset.
      std::string request;
      char buffer[4096];
      while (request.find("\r\n\r\n") == std::string::npos) {
        const ssize_t n = read(connection, buffer, sizeof(buffer));
        if (n <= 0) break;
        request.append(buffer, static_cast<size_t>(n));
      }
      linger reset{1, 0};
      setsockopt(connection, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
      close(connection);
    }
  });
}

ResetServer::~ResetServer() {
  stopping_ = true;
  thread_.join();
  close(listener_);
}

std::string DeadUrl() {
  return "http://127.0.0.1:" + std::to_string(dispatch::testing::FreePort());
}

}  // namespace svcd::powerjob::testing
