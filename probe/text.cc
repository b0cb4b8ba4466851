#include "probe/text.h"

#include <algorithm>

namespace svcd::probe {

std::string UnbracketAddress(std::string_view address) {
  if (address.size() >= 2 && address.front() == '[' && address.back() == ']') {
    return std::string(address.substr(1, address.size() - 2));
  }
  return std::string(address);
}

std::string HostPort(std::string_view address, int port) {
  std::string host = UnbracketAddress(address);
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return host + ":" + std::to_string(port);
}

namespace {

// Returns the length of the valid UTF-8 sequence at the front of `text`, or 0
// when it is not one (overlong forms, surrogates and values past U+10FFFF
// included).
std::size_t Utf8SequenceLength(std::string_view text) {
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  unsigned char lead = byte(0);
  std::size_t length = 0;
  if (lead >= 0xf0) {
    length = 4;
  } else if (lead >= 0xe0) {
    length = 3;
  } else if (lead >= 0xc0) {
    length = 2;
  }
  if (lead >= 0xf5 || lead == 0xc0 || lead == 0xc1 || length == 0 || text.size() < length) {
    return 0;
  }
  for (std::size_t i = 1; i < length; ++i) {
    if ((byte(i) & 0xc0) != 0x80) return 0;
  }
  if (lead == 0xe0 && byte(1) < 0xa0) return 0;   // overlong
  if (lead == 0xed && byte(1) >= 0xa0) return 0;  // UTF-16 surrogate
  if (lead == 0xf0 && byte(1) < 0x90) return 0;   // overlong
  if (lead == 0xf4 && byte(1) >= 0x90) return 0;  // past U+10FFFF
  return length;
}

}  // namespace

std::string OneLine(std::string_view text, std::size_t max_bytes) {
  // Command output mostly ends with a newline, which would show as a space.
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ' ||
                           text.back() == '\t')) {
    text.remove_suffix(1);
  }
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    unsigned char u = static_cast<unsigned char>(text[i]);
    std::size_t length = u < 0x80 ? 1 : Utf8SequenceLength(text.substr(i));
    if (out.size() + std::max<std::size_t>(length, 1) > max_bytes) break;
    if (length == 0) {
      out += '?';  // not UTF-8, which messages must be
      ++i;
    } else if (u < 0x20 || u == 0x7f) {
      out += ' ';
      ++i;
    } else {
      out.append(text.substr(i, length));
      i += length;
    }
  }
  if (i < text.size()) out += "...";
  return out;
}

std::string Quote(std::string_view text, std::size_t max_bytes) {
  return "\"" + OneLine(text, max_bytes) + "\"";
}

std::string ToLower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace svcd::probe
