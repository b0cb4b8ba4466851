#include "api/document.h"

#include <cstdio>

namespace svcd::api {

const char* NodeTypeName(const Node& node) {
  switch (node.type) {
    case Node::Type::kNull:
      return "null";
    case Node::Type::kScalar:
      return "string";
    case Node::Type::kMap:
      return "object";
    case Node::Type::kSequence:
      return "list";
  }
  return "value";
}

std::string QuoteForMessage(std::string_view value) {
  constexpr size_t kMaxShown = 80;
  std::string out = "\"";
  for (size_t i = 0; i < value.size() && i < kMaxShown; ++i) {
    unsigned char c = static_cast<unsigned char>(value[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof(escaped), "\\x%02x", c);
      out += escaped;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
  if (value.size() > kMaxShown) out += "...";
  return out;
}

}  // namespace svcd::api
