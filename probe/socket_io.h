// Socket steps with a hard deadline: resolve, connect, send and receive on
// non-blocking POSIX sockets, each waiting in poll() for at most the time
// left until the check's deadline.

#ifndef SVCD_PROBE_SOCKET_IO_H_
#define SVCD_PROBE_SOCKET_IO_H_

#include <sys/socket.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "probe/prober.h"
#include "reconciler/clock.h"

namespace svcd::probe {

// The end of the time a check may take. It reads a real clock, because it
// bounds real socket waits.
class Deadline {
 public:
  Deadline(const reconciler::Clock& clock, reconciler::Duration timeout)
      : clock_(clock), end_(reconciler::DeadlineAfter(clock.Now(), timeout)) {}

  // Returns the milliseconds left, rounded up, and 0 once the deadline passed.
  int RemainingMillis() const;
  bool Expired() const { return clock_.Now() >= end_; }

 private:
  const reconciler::Clock& clock_;
  reconciler::TimePoint end_;
};

// Owns a file descriptor and closes it on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.Release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { Reset(); }

  int get() const { return fd_; }
  int Release();
  void Reset(int fd = -1);

 private:
  int fd_ = -1;
};

// The failure of one step: kind kNone means the step succeeded.
struct StepError {
  FailureKind kind = FailureKind::kNone;
  std::string message;

  bool ok() const { return kind == FailureKind::kNone; }
};

// One address that a host name or literal resolved to.
struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family = 0;
};

// Resolves `host` (an IP literal without brackets, or a DNS name) and `port`
// to TCP addresses in the order getaddrinfo returns them. Fails with
// kNetworkError when the name does not resolve.
//
// NOTE: getaddrinfo has no timeout parameter, so a DNS name can take the
// resolver's own timeout (resolv.conf) beyond the deadline. IP literals never
// block.
StepError ResolveAddresses(const std::string& host, int port, std::vector<SocketAddress>* out);

// Connects a non-blocking TCP socket to each address in turn until one
// accepts, waiting at most until `deadline` in total. On success `*out` is
// the connected socket. Fails with kConnectionRefused when every address
// refused, kTimeout when the deadline passed, else kNetworkError.
// `what` names the peer in messages, such as "127.0.0.1:8000".
StepError ConnectAny(const std::vector<SocketAddress>& addresses, const Deadline& deadline,
                     std::string_view what, UniqueFd* out);

// Sends all of `data` before `deadline`. Fails with kTimeout or
// kNetworkError. Never raises SIGPIPE.
StepError SendAll(int fd, std::string_view data, const Deadline& deadline);

// Receives up to `capacity` bytes into `buffer` before `deadline`. Sets
// `*received` to the byte count, 0 meaning the peer closed the connection.
// Fails with kTimeout or kNetworkError.
StepError ReceiveSome(int fd, char* buffer, std::size_t capacity, const Deadline& deadline,
                      std::size_t* received);

}  // namespace svcd::probe

#endif  // SVCD_PROBE_SOCKET_IO_H_
