#include "tests/probe/test_servers.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>

extern char** environ;

namespace svcd::probe::testing {
namespace {

using Clock = std::chrono::steady_clock;

// Fills `storage` with `host` and port 0. Returns the address length, or 0
// when `host` is not an IP literal.
socklen_t LoopbackAddress(const std::string& host, sockaddr_storage* storage) {
  std::memset(storage, 0, sizeof(*storage));
  auto* v4 = reinterpret_cast<sockaddr_in*>(storage);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    return sizeof(sockaddr_in);
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(storage);
  if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    return sizeof(sockaddr_in6);
  }
  return 0;
}

// Binds a new TCP socket to a free port of `host`. Returns the socket, or -1.
int BindFreePort(const std::string& host, int* port) {
  sockaddr_storage storage;
  socklen_t length = LoopbackAddress(host, &storage);
  if (length == 0) return -1;
  int fd = socket(storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&storage), length) != 0) {
    close(fd);
    return -1;
  }
  socklen_t size = sizeof(storage);
  getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &size);
  *port =
      ntohs(storage.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&storage)->sin_port
                                         : reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port);
  return fd;
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

// Reads a request's header section and Content-Length body from `fd`.
std::string ReadRequest(int fd) {
  std::string request;
  char buffer[4096];
  std::size_t header_end = std::string::npos;
  std::size_t expected_size = std::string::npos;
  while (expected_size == std::string::npos || request.size() < expected_size) {
    pollfd entry{fd, POLLIN, 0};
    if (poll(&entry, 1, 5000) <= 0) break;
    ssize_t count = recv(fd, buffer, sizeof(buffer), 0);
    if (count <= 0) break;
    request.append(buffer, static_cast<std::size_t>(count));
    if (header_end == std::string::npos) {
      header_end = request.find("\r\n\r\n");
      if (header_end == std::string::npos) continue;
      std::smatch match;
      std::string head = request.substr(0, header_end);
      static const std::regex kLength("\r\ncontent-length: *([0-9]+)", std::regex::icase);
      std::size_t body = std::regex_search(head, match, kLength) ? std::stoul(match[1]) : 0;
      expected_size = header_end + 4 + body;
    }
  }
  return request;
}

}  // namespace

bool HaveIpv6Loopback() {
  int port = 0;
  int fd = BindFreePort("::1", &port);
  if (fd < 0) return false;
  close(fd);
  return true;
}

// ---------------------------------------------------------------------------
// StandinServer

StandinServer::~StandinServer() {
  if (pid_ > 0 && exit_code_ < 0) {
    kill(-pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  if (!output_path_.empty()) std::filesystem::remove(output_path_);
}

bool StandinServer::Start(const std::vector<std::string>& args) {
  char path_template[] = "/tmp/standin-output-XXXXXX";
  int out_fd = mkstemp(path_template);
  if (out_fd < 0) return false;
  output_path_ = path_template;

  std::vector<std::string> argv = {"python3", SVCD_STANDIN_SERVER};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("--port");
  argv.push_back("0");
  std::vector<char*> pointers;
  for (std::string& arg : argv) pointers.push_back(arg.data());
  pointers.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_fd, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out_fd, STDERR_FILENO);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attributes, 0);
  int error = posix_spawnp(&pid_, "python3", &actions, &attributes, pointers.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  close(out_fd);
  if (error != 0) {
    pid_ = -1;
    return false;
  }
  // Stop waiting early when the server exits, such as on an invalid option.
  auto end = Clock::now() + kRealLimit;
  while (output().find("bound to ") == std::string::npos) {
    if (Clock::now() >= end || WaitForExit(std::chrono::milliseconds(0)) >= 0) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::smatch match;
  std::string text = output();
  static const std::regex kBound("bound to \\[?[0-9a-f.:]+\\]?:([0-9]+)");
  if (!std::regex_search(text, match, kBound)) return false;
  port_ = std::stoi(match[1]);
  return true;
}

bool StandinServer::WaitForOutput(std::string_view text, std::chrono::milliseconds limit) {
  auto end = Clock::now() + limit;
  while (Clock::now() < end) {
    if (output().find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return output().find(text) != std::string::npos;
}

int StandinServer::WaitForExit(std::chrono::milliseconds limit) {
  if (exit_code_ >= 0) return exit_code_;
  auto end = Clock::now() + limit;
  while (true) {
    int status = 0;
    pid_t done = waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return exit_code_;
    }
    if (Clock::now() >= end) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void StandinServer::Terminate() {
  if (pid_ > 0 && exit_code_ < 0) kill(pid_, SIGTERM);
}

std::string StandinServer::output() const { return ReadFile(output_path_); }

// ---------------------------------------------------------------------------
// ScriptedHttpServer

bool ScriptedConnection::Write(std::string_view bytes) const {
  while (!bytes.empty()) {
    ssize_t sent = send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) continue;
    if (sent <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(sent));
  }
  return true;
}

bool ScriptedConnection::WritePieces(const std::vector<std::string>& pieces) const {
  for (const std::string& piece : pieces) {
    if (!Write(piece)) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

void ScriptedConnection::HoldUntilStopped() const {
  while (!stopping->load()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

ScriptedHttpServer::ScriptedHttpServer(std::string host, Responder respond)
    : respond_(std::move(respond)) {
  listen_fd_ = BindFreePort(host, &port_);
  if (listen_fd_ < 0) return;
  if (listen(listen_fd_, 16) != 0) {
    close(listen_fd_);
    listen_fd_ = -1;
    return;
  }
  thread_ = std::thread([this] { Serve(); });
}

ScriptedHttpServer::~ScriptedHttpServer() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
  if (listen_fd_ >= 0) close(listen_fd_);
}

std::vector<std::string> ScriptedHttpServer::requests() const {
  std::lock_guard<std::mutex> guard(mu_);
  return requests_;
}

void ScriptedHttpServer::Serve() {
  while (!stopping_) {
    pollfd entry{listen_fd_, POLLIN, 0};
    if (poll(&entry, 1, 20) <= 0) continue;
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    int enable = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &enable, sizeof(enable));
    ScriptedConnection connection{fd, ReadRequest(fd), &stopping_};
    {
      std::lock_guard<std::mutex> guard(mu_);
      requests_.push_back(connection.request);
    }
    respond_(connection);
    close(fd);
  }
}

// ---------------------------------------------------------------------------
// Sockets that refuse or never accept

RefusingPort::RefusingPort() { fd_ = BindFreePort("127.0.0.1", &port_); }

RefusingPort::~RefusingPort() {
  if (fd_ >= 0) close(fd_);
}

FullBacklogListener::FullBacklogListener() {
  listen_fd_ = BindFreePort("127.0.0.1", &port_);
  if (listen_fd_ < 0 || listen(listen_fd_, 0) != 0) return;
  sockaddr_storage storage;
  socklen_t length = LoopbackAddress("127.0.0.1", &storage);
  reinterpret_cast<sockaddr_in*>(&storage)->sin_port = htons(static_cast<uint16_t>(port_));
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (connect(fd, reinterpret_cast<sockaddr*>(&storage), length) == 0) {
    filler_fd_ = fd;
  } else {
    close(fd);
  }
}

FullBacklogListener::~FullBacklogListener() {
  if (filler_fd_ >= 0) close(filler_fd_);
  if (listen_fd_ >= 0) close(listen_fd_);
}

// ---------------------------------------------------------------------------
// Response builders

std::string OkResponse(std::string_view body) {
  return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
}

std::vector<std::string> ChunkedPieces(const std::vector<std::string>& chunks) {
  std::vector<std::string> pieces;
  for (const std::string& chunk : chunks) {
    char size[32];
    std::snprintf(size, sizeof(size), "%zx\r\n", chunk.size());
    pieces.push_back(size + chunk + "\r\n");
  }
  pieces.push_back("0\r\n\r\n");
  return pieces;
}

}  // namespace svcd::probe::testing
