// Parsing and checking of the server's listen address (`svcd --listen`).

#ifndef SVCD_SERVER_LISTEN_ADDRESS_H_
#define SVCD_SERVER_LISTEN_ADDRESS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "api/status.h"

namespace svcd::server {

// A parsed "HOST:PORT" or "[IPV6]:PORT".
struct ListenAddress {
  std::string host;   // IPv4 literal, IPv6 literal without brackets, or DNS name
  uint16_t port = 0;  // 0 means "pick a free port when starting"
  bool ipv6 = false;  // host is an IPv6 literal

  // Formats the address as "HOST:PORT", with brackets around an IPv6 host.
  std::string ToString() const;
};

// Parses "127.0.0.1:7070", "[::1]:7070", "localhost:0" and the like. The
// port is required, in decimal from 0 to 65535. The host is an IPv4 literal,
// a bracketed IPv6 literal, or a DNS name of letters, digits, '.' and '-'.
// Returns InvalidArgument naming the input and the expected form.
StatusOr<ListenAddress> ParseListenAddress(std::string_view text);

// Returns true for 127.0.0.0/8, ::1 and the name "localhost". Other names
// are not resolved and count as not loopback.
bool IsLoopback(const ListenAddress& address);

// Asks the kernel for a free TCP port on `address.host` by binding port 0,
// and closes the socket again. Another process may take the port before the
// caller binds it, so callers retry on "address in use". Only IPv4 and IPv6
// literals are supported. Returns Unavailable with the system error.
StatusOr<uint16_t> PickFreePort(const ListenAddress& address);

}  // namespace svcd::server

#endif  // SVCD_SERVER_LISTEN_ADDRESS_H_
