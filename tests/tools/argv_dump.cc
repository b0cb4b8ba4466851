// argv_dump: writes its arguments and its environment to stdout, so tests can
// see exactly which bytes a shell script delivered to a program.
//
// Output: the number of arguments after argv[0] in decimal, then each of
// those arguments, then each environment entry ("NAME=value"). Every item is
// followed by one NUL byte. Exits 0, or 1 when stdout cannot be written.

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

extern char** environ;

namespace {

bool WriteAll(const std::string& bytes) {
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = write(STDOUT_FILENO, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    written += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string out = std::to_string(argc - 1);
  out += '\0';
  for (int i = 1; i < argc; ++i) {
    out.append(argv[i], std::strlen(argv[i]));
    out += '\0';
  }
  for (char** entry = environ; *entry != nullptr; ++entry) {
    out.append(*entry, std::strlen(*entry));
    out += '\0';
  }
  return WriteAll(out) ? 0 : 1;
}
