#include "tests/server/http_test_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

extern char** environ;

namespace svcd::server::testing {
namespace {

using Clock = std::chrono::steady_clock;

// Parses "HTTP/1.1 200 OK\r\nName: value\r\n\r\nbody", skipping 1xx blocks.
void ParseResponse(const std::string& raw, HttpResult* result) {
  size_t offset = 0;
  while (raw.compare(offset, 5, "HTTP/") == 0) {
    size_t end = raw.find("\r\n\r\n", offset);
    if (end == std::string::npos) return;
    std::string head = raw.substr(offset, end - offset);
    offset = end + 4;
    int status = std::atoi(head.c_str() + head.find(' ') + 1);
    if (status >= 100 && status < 200) continue;

    result->status = status;
    size_t line_start = head.find("\r\n");
    while (line_start != std::string::npos) {
      line_start += 2;
      size_t line_end = head.find("\r\n", line_start);
      std::string line = head.substr(line_start, line_end - line_start);
      size_t colon = line.find(':');
      if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        size_t value_start = line.find_first_not_of(' ', colon + 1);
        result->headers[name] = value_start == std::string::npos ? "" : line.substr(value_start);
      }
      line_start = line_end;
    }
    result->body = raw.substr(offset);
    return;
  }
}

std::string ReadAll(int fd) {
  std::string out;
  char buffer[65536];
  while (true) {
    ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n > 0) {
      out.append(buffer, static_cast<size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      return out;
    }
  }
}

const std::string& TempDirectory() {
  static const std::string directory = [] {
    std::string pattern = "/tmp/svcd-http-test-XXXXXX";
    char* created = mkdtemp(pattern.data());
    if (created == nullptr) std::abort();
    std::atexit([] { std::filesystem::remove_all(TempDirectory()); });
    return std::string(created);
  }();
  return directory;
}

}  // namespace

std::string RunCurl(const std::vector<std::string>& args, std::string* error) {
  std::vector<std::string> argv = {"curl"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> pointers;
  for (std::string& arg : argv) pointers.push_back(arg.data());
  pointers.push_back(nullptr);

  int out_pipe[2];
  int err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
    *error = std::string("pipe failed: ") + std::strerror(errno);
    return "";
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  pid_t pid = 0;
  int spawned = posix_spawnp(&pid, "curl", &actions, nullptr, pointers.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (spawned != 0) {
    close(out_pipe[0]);
    close(err_pipe[0]);
    *error = std::string("cannot start curl: ") + std::strerror(spawned);
    return "";
  }

  std::thread error_reader([&] { *error = ReadAll(err_pipe[0]); });
  std::string output = ReadAll(out_pipe[0]);
  error_reader.join();
  close(out_pipe[0]);
  close(err_pipe[0]);
  int wait_status = 0;
  waitpid(pid, &wait_status, 0);
  return output;
}

HttpResult Curl(const std::vector<std::string>& args) {
  std::vector<std::string> full = {"-sS", "-i", "--max-time", "30"};
  full.insert(full.end(), args.begin(), args.end());
  HttpResult result;
  Clock::time_point start = Clock::now();
  std::string output = RunCurl(full, &result.error);
  result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  ParseResponse(output, &result);
  return result;
}

HttpResult RawRequest(uint16_t port, const std::string& request,
                      std::chrono::milliseconds timeout) {
  HttpResult result;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  Clock::time_point start = Clock::now();
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    result.error = std::string("connect failed: ") + std::strerror(errno);
    close(fd);
    return result;
  }
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    result.error = std::string("send failed: ") + std::strerror(errno);
  }

  std::string raw;
  Clock::time_point deadline = start + timeout;
  while (Clock::now() < deadline) {
    pollfd waiting{fd, POLLIN, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (poll(&waiting, 1, static_cast<int>(std::max<int64_t>(left.count(), 1))) <= 0) break;
    char buffer[65536];
    ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) break;
    raw.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  ParseResponse(raw, &result);
  return result;
}

std::string WriteRandomFile(const std::string& name, size_t size) {
  // Written in blocks so that a large file does not raise the test's memory high-water mark.
  std::string path = TempDirectory() + "/" + name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  std::mt19937_64 generator(size);
  std::string block(1 << 20, '\0');
  for (size_t written = 0; written < size; written += block.size()) {
    for (char& c : block) c = static_cast<char>(generator());
    out.write(block.data(), static_cast<std::streamsize>(std::min(block.size(), size - written)));
  }
  return path;
}

std::string WriteFile(const std::string& name, const std::string& contents) {
  std::string path = TempDirectory() + "/" + name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  return path;
}

}  // namespace svcd::server::testing
