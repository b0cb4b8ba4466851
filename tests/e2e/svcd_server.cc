#include "tests/e2e/svcd_server.h"

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace svcd::e2e {
namespace {

// Parses curl -i output ("HTTP/1.1 200 OK\r\nName: value\r\n\r\nbody"),
// skipping interim 1xx responses.
void ParseCurlOutput(const std::string& raw, HttpReply& reply) {
  size_t offset = 0;
  while (raw.compare(offset, 5, "HTTP/") == 0) {
    const size_t end = raw.find("\r\n\r\n", offset);
    if (end == std::string::npos) return;
    const std::string head = raw.substr(offset, end - offset);
    offset = end + 4;
    const int status = std::atoi(head.c_str() + head.find(' ') + 1);
    if (status >= 100 && status < 200) continue;

    reply.status = status;
    std::istringstream lines(head);
    std::string line;
    std::getline(lines, line);  // the status line
    while (std::getline(lines, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      const size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      const size_t value_start = line.find_first_not_of(' ', colon + 1);
      reply.headers[name] = value_start == std::string::npos ? "" : line.substr(value_start);
    }
    reply.body = raw.substr(offset);
    return;
  }
}

}  // namespace

std::vector<std::string> SvcdEnvironment(const SvcdOptions& options) {
  std::vector<std::string> env = {"PATH=/usr/local/bin:/usr/bin:/bin"};
  if (!options.store_password.empty())
    env.push_back("SVCD_STORE_PASSWORD=" + options.store_password);
  env.insert(env.end(), options.extra_env.begin(), options.extra_env.end());
  return env;
}

std::vector<std::string> SvcdArgv(const SvcdOptions& options, uint16_t port) {
  std::vector<std::string> argv = {kSvcdBinary, "--listen", "127.0.0.1:" + std::to_string(port),
                                   "--data-dir", options.data_dir, "--store", options.store_url,
                                   // Short enough that a test could wait it out, long
                                   // enough that a loaded machine still renews in time.
                                   "--lease-ttl-seconds", "30"};
  if (!options.token_file.empty()) argv.insert(argv.end(), {"--token-file", options.token_file});
  if (options.max_body_bytes > 0) {
    argv.insert(argv.end(), {"--max-body-bytes", std::to_string(options.max_body_bytes)});
  }
  argv.insert(argv.end(), options.extra_args.begin(), options.extra_args.end());
  return argv;
}

std::string SvcdServer::Start(const SvcdOptions& options, std::chrono::milliseconds timeout) {
  options_ = options;
  std::filesystem::create_directories(options.data_dir);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (int attempt = 0; attempt < 3; ++attempt) {
    port_ = PickFreePort();
    base_url_ = "http://127.0.0.1:" + std::to_string(port_);
    if (!process_.Start(SvcdArgv(options, port_), SvcdEnvironment(options),
                        options.data_dir + "/svcd.log")) {
      return "cannot start " + std::string(kSvcdBinary);
    }
    while (std::chrono::steady_clock::now() < deadline) {
      if (!process_.Running()) break;
      if (RawGetStatus(port_, "/healthz", std::chrono::seconds(2)) == 200) return "";
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (process_.Running()) {
      process_.Stop();
      return "svcd did not answer /healthz within " + std::to_string(timeout.count()) +
             " ms; log:\n" + Log();
    }
    // Another process may have bound the picked port first; only then retry.
    if (Log().find("cannot listen on") == std::string::npos) break;
  }
  return "svcd exited with status " + std::to_string(process_.exit_code()) + "; log:\n" + Log();
}

int SvcdServer::Stop() { return process_.Stop(); }

std::string SvcdServer::Log() const {
  std::ifstream in(options_.data_dir + "/svcd.log", std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

nlohmann::json HttpReply::Json() const { return nlohmann::json::parse(body, nullptr, false); }

std::string HttpReply::Describe() const {
  std::string text = "HTTP " + std::to_string(status) + " body: " + body.substr(0, 4000);
  if (!curl_error.empty()) text += "\ncurl: " + curl_error;
  return text;
}

HttpReply SendRequest(const std::string& method, const std::string& url, std::string_view body,
                      const RequestOptions& options) {
  std::vector<std::string> argv = {
      "curl", "-sS", "-i", "--max-time", std::to_string(options.timeout.count()), "-X", method};
  if (!body.empty()) {
    argv.insert(argv.end(), {"--data-binary", "@-", "-H", "Content-Type: " + options.content_type});
  }
  if (!options.token.empty())
    argv.insert(argv.end(), {"-H", "Authorization: Bearer " + options.token});
  argv.insert(argv.end(), options.curl_args.begin(), options.curl_args.end());
  argv.push_back(url);

  const CommandResult result = RunCommand(argv, {"PATH=/usr/local/bin:/usr/bin:/bin"}, body,
                                          options.timeout + std::chrono::seconds(10));
  HttpReply reply;
  reply.curl_error = result.err;
  ParseCurlOutput(result.out, reply);
  return reply;
}

}  // namespace svcd::e2e
