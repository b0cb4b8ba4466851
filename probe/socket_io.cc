#include "probe/socket_io.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace svcd::probe {
namespace {

std::string ErrnoText(int error) { return std::strerror(error); }

// Waits until `fd` reports `events` or the deadline passes. Returns 1 when
// ready, 0 on timeout and -1 with errno set on a poll error.
int WaitFor(int fd, short events, const Deadline& deadline) {
  while (true) {
    pollfd entry{fd, events, 0};
    int ready = poll(&entry, 1, deadline.RemainingMillis());
    if (ready >= 0) return ready > 0 ? 1 : 0;
    if (errno != EINTR) return -1;
  }
}

// Waits for a non-blocking connect on `fd` to finish. Returns 0 when it
// connected, else the errno value of the failure, or ETIMEDOUT when the
// deadline passed first.
int FinishConnect(int fd, const Deadline& deadline) {
  int ready = WaitFor(fd, POLLOUT, deadline);
  if (ready == 0) return ETIMEDOUT;
  if (ready < 0) return errno;
  int error = 0;
  socklen_t length = sizeof(error);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) return errno;
  return error;
}

// Starts one connect. Returns the errno value of the failure, 0 on success.
int ConnectOne(const SocketAddress& address, const Deadline& deadline, UniqueFd* out) {
  UniqueFd fd(socket(address.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP));
  if (fd.get() < 0) return errno;
  int enable = 1;
  setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &enable, sizeof(enable));
  if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&address.storage), address.length) != 0) {
    if (errno != EINPROGRESS && errno != EINTR) return errno;
    int error = FinishConnect(fd.get(), deadline);
    if (error != 0) return error;
  }
  *out = std::move(fd);
  return 0;
}

}  // namespace

int Deadline::RemainingMillis() const {
  reconciler::TimePoint now = clock_.Now();
  if (now >= end_) return 0;
  auto left = std::chrono::ceil<std::chrono::milliseconds>(end_ - now).count();
  return left > 1'000'000'000 ? 1'000'000'000 : static_cast<int>(left);
}

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) Reset(other.Release());
  return *this;
}

int UniqueFd::Release() {
  int fd = fd_;
  fd_ = -1;
  return fd;
}

void UniqueFd::Reset(int fd) {
  if (fd_ >= 0) close(fd_);
  fd_ = fd;
}

StepError ResolveAddresses(const std::string& host, int port, std::vector<SocketAddress>* out) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* list = nullptr;
  std::string service = std::to_string(port);
  int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &list);
  if (rc != 0) {
    std::string reason = rc == EAI_SYSTEM ? ErrnoText(errno) : gai_strerror(rc);
    return {FailureKind::kNetworkError, "cannot resolve " + host + ": " + reason};
  }
  for (addrinfo* entry = list; entry != nullptr; entry = entry->ai_next) {
    if (entry->ai_addrlen > sizeof(sockaddr_storage)) continue;
    SocketAddress address;
    std::memcpy(&address.storage, entry->ai_addr, entry->ai_addrlen);
    address.length = entry->ai_addrlen;
    address.family = entry->ai_family;
    out->push_back(address);
  }
  freeaddrinfo(list);
  if (out->empty()) {
    return {FailureKind::kNetworkError, "cannot resolve " + host + ": no TCP address"};
  }
  return {};
}

StepError ConnectAny(const std::vector<SocketAddress>& addresses, const Deadline& deadline,
                     std::string_view what, UniqueFd* out) {
  bool all_refused = true;
  int last_error = 0;
  for (const SocketAddress& address : addresses) {
    int error = ConnectOne(address, deadline, out);
    if (error == 0) return {};
    if (error == ETIMEDOUT && deadline.Expired()) {
      return {FailureKind::kTimeout, "timed out connecting to " + std::string(what)};
    }
    all_refused = all_refused && error == ECONNREFUSED;
    last_error = error;
  }
  if (all_refused) {
    return {FailureKind::kConnectionRefused, "connection to " + std::string(what) + " refused"};
  }
  return {FailureKind::kNetworkError,
          "cannot connect to " + std::string(what) + ": " + ErrnoText(last_error)};
}

StepError SendAll(int fd, std::string_view data, const Deadline& deadline) {
  while (!data.empty()) {
    ssize_t sent = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (sent > 0) {
      data.remove_prefix(static_cast<std::size_t>(sent));
      continue;
    }
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      return {FailureKind::kNetworkError, "sending the request failed: " + ErrnoText(errno)};
    }
    int ready = WaitFor(fd, POLLOUT, deadline);
    if (ready == 0) return {FailureKind::kTimeout, "timed out sending the request"};
    if (ready < 0) return {FailureKind::kNetworkError, "poll failed: " + ErrnoText(errno)};
  }
  return {};
}

StepError ReceiveSome(int fd, char* buffer, std::size_t capacity, const Deadline& deadline,
                      std::size_t* received) {
  while (true) {
    ssize_t count = recv(fd, buffer, capacity, 0);
    if (count >= 0) {
      *received = static_cast<std::size_t>(count);
      return {};
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      return {FailureKind::kNetworkError, "reading the response failed: " + ErrnoText(errno)};
    }
    int ready = WaitFor(fd, POLLIN, deadline);
    if (ready == 0) return {FailureKind::kTimeout, "timed out reading the response"};
    if (ready < 0) return {FailureKind::kNetworkError, "poll failed: " + ErrnoText(errno)};
  }
}

}  // namespace svcd::probe
