// The PowerJob stand-in (tools/powerjob-standin) as a real process on
// loopback, for the client and executor tests, and a few raw TCP servers
// that misbehave in ways the stand-in does not.

#ifndef SVCD_TESTS_POWERJOB_STANDIN_H_
#define SVCD_TESTS_POWERJOB_STANDIN_H_

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "tests/dispatch/test_support.h"

namespace svcd::powerjob::testing {

inline constexpr char kApp[] = "svcd-test";
inline constexpr char kPassword[] = "Pw-only-in-tests-7f3a";
inline constexpr char kWorker[] = "127.0.0.1:27777";

struct StandinOptions {
  std::string profile = "5.1";  // "4.3" or "5.1"
  std::string password = kPassword;
  std::vector<std::string> workers = {kWorker};
  std::vector<std::string> faults;  // NAME or NAME=VALUE
  uint16_t port = 0;                // 0 picks a free one
};

// One stand-in process with its own state directory. The destructor sends
// TERM and waits; processes that its instances started are left alone, as
// the stand-in leaves them, so tests stop them themselves.
class Standin {
 public:
  explicit Standin(StandinOptions options);
  ~Standin();
  Standin(const Standin&) = delete;
  Standin& operator=(const Standin&) = delete;

  // Starts the process and waits up to 15 s for its port file. False when
  // it did not come up, and log() then shows why.
  bool Start();
  // Sends TERM and waits for the process to exit.
  void Stop();

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  uint16_t port() const { return port_; }
  std::string log() const;

  // GET /_standin/calls: {"counts": {op: n}, "calls": [...]}.
  nlohmann::json Calls() const;
  // Returns how many calls of `op` the stand-in recorded.
  int Count(const std::string& op) const;
  // GET /_standin/instances: the "instances" list.
  nlohmann::json Instances() const;
  // POST /_standin/faults with {"set": set, "clear": clear}.
  void SetFaults(const nlohmann::json& set, const std::vector<std::string>& clear = {});

 private:
  nlohmann::json Get(const std::string& path) const;

  StandinOptions options_;
  dispatch::testing::TempDir dir_;
  std::unique_ptr<dispatch::testing::ChildProcess> process_;
  uint16_t port_ = 0;
};

// A TCP server on 127.0.0.1 that accepts connections, reads the request
// headers and closes with a reset, before any byte of a response, counting
// the connections it took.
class ResetServer {
 public:
  ResetServer();
  ~ResetServer();
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int connections() const { return connections_; }

 private:
  int listener_ = -1;
  uint16_t port_ = 0;
  std::atomic<int> connections_{0};
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

// Returns a loopback URL on which nothing listens right now.
std::string DeadUrl();

}  // namespace svcd::powerjob::testing

#endif  // SVCD_TESTS_POWERJOB_STANDIN_H_
