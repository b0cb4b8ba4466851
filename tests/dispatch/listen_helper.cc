// Test program: listens on a free TCP port of 127.0.0.1, writes the port
// number to the file named by argv[1], then sleeps until it is killed. The
// launcher tests check that heartbeats report that port.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <string>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: listen_helper PORT_FILE\n");
    return 2;
  }
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      listen(fd, 4) != 0 || getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    std::perror("listen_helper");
    return 1;
  }

  // Write through a rename so the reader never sees a partial number.
  const std::string temporary = std::string(argv[1]) + ".tmp";
  FILE* out = std::fopen(temporary.c_str(), "w");
  if (out == nullptr) {
    std::perror("listen_helper");
    return 1;
  }
  std::fprintf(out, "%d\n", ntohs(address.sin_port));
  std::fclose(out);
  std::rename(temporary.c_str(), argv[1]);
  while (true) {
    pause();
  }
}
