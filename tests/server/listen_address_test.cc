#include "server/listen_address.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace svcd::server {
namespace {

TEST(ListenAddressTest, ParsesValidForms) {
  struct Case {
    std::string text;
    std::string host;
    uint16_t port;
    bool ipv6;
  };
  const std::vector<Case> cases = {
      {"127.0.0.1:7070", "127.0.0.1", 7070, false},
      {"[::1]:7070", "::1", 7070, true},
      {"[::1]:0", "::1", 0, true},
      {"localhost:0", "localhost", 0, false},
      {"0.0.0.0:65535", "0.0.0.0", 65535, false},
      {"svcd.example.org:80", "svcd.example.org", 80, false},
  };
  for (const Case& c : cases) {
    StatusOr<ListenAddress> address = ParseListenAddress(c.text);
    ASSERT_TRUE(address.ok()) << c.text << ": " << address.status().ToString();
    EXPECT_EQ(address->host, c.host) << c.text;
    EXPECT_EQ(address->port, c.port) << c.text;
    EXPECT_EQ(address->ipv6, c.ipv6) << c.text;
    EXPECT_EQ(address->ToString(), c.text);
  }
}

TEST(ListenAddressTest, RejectsMalformedForms) {
  struct Case {
    std::string text;
    std::string message_part;
  };
  const std::vector<Case> cases = {
      {"", "expected HOST:PORT"},
      {"7070", "expected HOST:PORT"},
      {":7070", "expected HOST:PORT"},
      {"127.0.0.1", "expected HOST:PORT"},
      {"::1:7070", "IPv6 addresses go in brackets"},
      {"[::1]", "expected HOST:PORT"},
      {"[::1]7070", "expected HOST:PORT"},
      {"[::g]:7070", "is not an IPv6 address"},
      {"127.0.0.1:", "decimal number from 0 to 65535"},
      {"127.0.0.1:70000", "above 65535"},
      {"127.0.0.1:-1", "decimal number"},
      {"127.0.0.1:0x10", "decimal number"},
      {"127.0.0.1:123456", "decimal number"},
      {"bad_host:80", "is not an IP address or host name"},
      {"-host:80", "is not an IP address or host name"},
  };
  for (const Case& c : cases) {
    StatusOr<ListenAddress> address = ParseListenAddress(c.text);
    ASSERT_FALSE(address.ok()) << c.text;
    EXPECT_EQ(address.status().code(), Code::kInvalidArgument) << c.text;
    EXPECT_NE(address.status().message().find(c.message_part), std::string::npos)
        << c.text << ": " << address.status().message();
  }
}

TEST(ListenAddressTest, RecognizesLoopback) {
  for (std::string text : {"127.0.0.1:1", "127.1.2.3:1", "[::1]:1", "localhost:1", "LocalHost:1"}) {
    EXPECT_TRUE(IsLoopback(ParseListenAddress(text).value())) << text;
  }
  for (std::string text : {"0.0.0.0:1", "10.0.0.12:1", "[::]:1", "[::ffff:10.0.0.1]:1",
                           "svcd.example.org:1", "128.0.0.1:1"}) {
    EXPECT_FALSE(IsLoopback(ParseListenAddress(text).value())) << text;
  }
}

TEST(PickFreePortTest, ReturnsABindablePort) {
  StatusOr<uint16_t> port = PickFreePort(ListenAddress{"127.0.0.1", 0, false});
  ASSERT_TRUE(port.ok()) << port.status().ToString();
  EXPECT_GT(*port, 0);

  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(*port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  close(fd);
}

TEST(PickFreePortTest, RejectsHostName) {
  EXPECT_EQ(PickFreePort(ListenAddress{"localhost", 0, false}).status().code(),
            Code::kInvalidArgument);
}

}  // namespace
}  // namespace svcd::server
