#include "server/listen_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

namespace svcd::server {
namespace {

constexpr char kExpectedForm[] = "expected HOST:PORT such as 127.0.0.1:7070 or [::1]:7070";

bool IsDnsName(std::string_view host) {
  if (host.empty() || host.size() > 253 || host.front() == '-' || host.front() == '.') return false;
  return std::all_of(host.begin(), host.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-';
  });
}

StatusOr<uint16_t> ParsePort(std::string_view text, std::string_view input) {
  if (text.empty() || text.size() > 5 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return Status::InvalidArgument("invalid listen address \"" + std::string(input) +
                                   "\": the port must be a decimal number from 0 to 65535");
  }
  int port = std::stoi(std::string(text));
  if (port > 65535) {
    return Status::InvalidArgument("invalid listen address \"" + std::string(input) + "\": port " +
                                   std::to_string(port) + " is above 65535");
  }
  return static_cast<uint16_t>(port);
}

}  // namespace

std::string ListenAddress::ToString() const {
  std::string host_text = ipv6 ? "[" + host + "]" : host;
  return host_text + ":" + std::to_string(port);
}

StatusOr<ListenAddress> ParseListenAddress(std::string_view text) {
  std::string input(text);
  ListenAddress address;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return Status::InvalidArgument("invalid listen address \"" + input + "\": " + kExpectedForm);
    }
    address.host = std::string(text.substr(1, close - 1));
    address.ipv6 = true;
    in6_addr parsed;
    if (inet_pton(AF_INET6, address.host.c_str(), &parsed) != 1) {
      return Status::InvalidArgument("invalid listen address \"" + input + "\": \"" + address.host +
                                     "\" is not an IPv6 address");
    }
    port_text = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0 ||
        text.substr(0, colon).find(':') != std::string_view::npos) {
      return Status::InvalidArgument("invalid listen address \"" + input + "\": " + kExpectedForm +
                                     " (IPv6 addresses go in brackets)");
    }
    address.host = std::string(text.substr(0, colon));
    if (!IsDnsName(address.host)) {
      return Status::InvalidArgument("invalid listen address \"" + input + "\": \"" + address.host +
                                     "\" is not an IP address or host name");
    }
    port_text = text.substr(colon + 1);
  }

  StatusOr<uint16_t> port = ParsePort(port_text, text);
  if (!port.ok()) return port.status();
  address.port = *port;
  return address;
}

bool IsLoopback(const ListenAddress& address) {
  if (address.ipv6) {
    in6_addr parsed;
    return inet_pton(AF_INET6, address.host.c_str(), &parsed) == 1 && IN6_IS_ADDR_LOOPBACK(&parsed);
  }
  in_addr parsed;
  if (inet_pton(AF_INET, address.host.c_str(), &parsed) == 1) {
    return (ntohl(parsed.s_addr) >> 24) == 127;
  }
  std::string lower = address.host;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower == "localhost";
}

StatusOr<uint16_t> PickFreePort(const ListenAddress& address) {
  sockaddr_storage storage{};
  socklen_t length = 0;
  if (address.ipv6) {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
    v6->sin6_family = AF_INET6;
    if (inet_pton(AF_INET6, address.host.c_str(), &v6->sin6_addr) != 1) {
      return Status::InvalidArgument("cannot pick a port on " + address.host +
                                     ": not an IPv6 address");
    }
    length = sizeof(sockaddr_in6);
  } else {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
    v4->sin_family = AF_INET;
    if (inet_pton(AF_INET, address.host.c_str(), &v4->sin_addr) != 1) {
      return Status::InvalidArgument("cannot pick a port on " + address.host +
                                     ": not an IPv4 address");
    }
    length = sizeof(sockaddr_in);
  }

  int fd = socket(storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::Unavailable(std::string("socket() failed: ") + std::strerror(errno));
  Status result;
  if (bind(fd, reinterpret_cast<sockaddr*>(&storage), length) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length) != 0) {
    result = Status::Unavailable("cannot bind a free port on " + address.host + ": " +
                                 std::strerror(errno));
  }
  close(fd);
  if (!result.ok()) return result;
  return address.ipv6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port)
                      : ntohs(reinterpret_cast<sockaddr_in*>(&storage)->sin_port);
}

}  // namespace svcd::server
