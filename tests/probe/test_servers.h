// Real peers for the probe tests, all on loopback with ports picked at run
// time: the stand-in model server as a process, an in-test HTTP server whose
// replies each test writes byte by byte, and sockets that refuse or never
// accept connections.

#ifndef SVCD_TESTS_PROBE_TEST_SERVERS_H_
#define SVCD_TESTS_PROBE_TEST_SERVERS_H_

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace svcd::probe::testing {

// Real time a test waits for a peer before it fails. It bounds a broken test
// and measures nothing.
inline constexpr std::chrono::seconds kRealLimit(20);

// Returns true when this machine can bind a TCP socket to ::1.
bool HaveIpv6Loopback();

// tools/standin-model-server run as a child process with --port 0. Its
// stdout and stderr go to a temporary file that the test reads.
class StandinServer {
 public:
  StandinServer() = default;
  ~StandinServer();
  StandinServer(const StandinServer&) = delete;
  StandinServer& operator=(const StandinServer&) = delete;

  // Starts the server with `args` plus "--port 0" and waits for its
  // "bound to" line. Returns false (with the output so far in output())
  // when the server exits first or the line does not appear within
  // kRealLimit.
  bool Start(const std::vector<std::string>& args);

  // Waits until the output contains `text`. Returns false after `limit`.
  bool WaitForOutput(std::string_view text, std::chrono::milliseconds limit = kRealLimit);

  // Waits for the process to exit and returns its exit code (128 + signal
  // when killed), or -1 when it still runs after `limit`.
  int WaitForExit(std::chrono::milliseconds limit = kRealLimit);

  // Sends SIGTERM to the process.
  void Terminate();

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  std::string output() const;

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  int exit_code_ = -1;
  std::filesystem::path output_path_;
};

// One connection of a ScriptedHttpServer: the socket and the request bytes
// read from it (headers and a Content-Length body).
struct ScriptedConnection {
  int fd;
  std::string request;
  const std::atomic<bool>* stopping;

  // Writes `bytes` in full. Returns false when the peer is gone.
  bool Write(std::string_view bytes) const;
  // Writes each piece as its own segment, pausing between them so that the
  // client's reads see them apart.
  bool WritePieces(const std::vector<std::string>& pieces) const;
  // Blocks until the server stops, like a peer that never responds.
  void HoldUntilStopped() const;
};

// An HTTP server on 127.0.0.1 or ::1 that passes every connection to
// `respond`, then closes it. Connections are served one at a time.
class ScriptedHttpServer {
 public:
  using Responder = std::function<void(const ScriptedConnection&)>;

  // Listens on a free port of `host` ("127.0.0.1" or "::1"). Check ok().
  ScriptedHttpServer(std::string host, Responder respond);
  ~ScriptedHttpServer();
  ScriptedHttpServer(const ScriptedHttpServer&) = delete;
  ScriptedHttpServer& operator=(const ScriptedHttpServer&) = delete;

  bool ok() const { return listen_fd_ >= 0; }
  int port() const { return port_; }
  // The requests received so far, in order.
  std::vector<std::string> requests() const;

 private:
  void Serve();

  Responder respond_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mu_;
  std::vector<std::string> requests_;  // guarded by mu_
  std::thread thread_;
};

// A TCP socket bound to a free port of 127.0.0.1 that never listens, so
// connections to the port are refused while it lives and no other process
// can take the port.
class RefusingPort {
 public:
  RefusingPort();
  ~RefusingPort();
  RefusingPort(const RefusingPort&) = delete;
  RefusingPort& operator=(const RefusingPort&) = delete;

  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// A listener on 127.0.0.1 with a backlog of 0 that never accepts, with its
// accept queue filled by one connection. Linux drops further SYNs to a full
// queue, so a new connect neither succeeds nor fails until it times out.
class FullBacklogListener {
 public:
  FullBacklogListener();
  ~FullBacklogListener();
  FullBacklogListener(const FullBacklogListener&) = delete;
  FullBacklogListener& operator=(const FullBacklogListener&) = delete;

  bool ok() const { return filler_fd_ >= 0; }
  int port() const { return port_; }

 private:
  int listen_fd_ = -1;
  int filler_fd_ = -1;
  int port_ = 0;
};

// Returns a 200 response with `body` and a Content-Length header.
std::string OkResponse(std::string_view body);

// Returns the bytes of a chunked encoding of `chunks` with its last chunk.
std::vector<std::string> ChunkedPieces(const std::vector<std::string>& chunks);

}  // namespace svcd::probe::testing

#endif  // SVCD_TESTS_PROBE_TEST_SERVERS_H_
