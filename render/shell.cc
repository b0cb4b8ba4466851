#include "render/shell.h"

namespace svcd::render {

std::string ShellQuote(std::string_view value) {
  std::string out;
  out.reserve(value.size() + 2);
  out += '\'';
  for (char c : value) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  out += '\'';
  return out;
}

std::string ExpandVariables(std::string_view text, const VariableLookup& lookup) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] != '$' || i + 1 == text.size()) {
      out += text[i++];
      continue;
    }

    const char next = text[i + 1];
    if (next == '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (next != '(') {
      // A `$` that starts no reference is copied; the next byte is handled
      // on its own, so `$a$(X)` still expands the reference.
      out += '$';
      ++i;
      continue;
    }

    const size_t close = text.find(')', i + 2);
    if (close == std::string_view::npos) {
      // No reference can follow, but a later `$$` still collapses to `$`.
      out += "$(";
      i += 2;
      continue;
    }
    const std::string_view name = text.substr(i + 2, close - i - 2);
    std::optional<std::string> value = name.empty() ? std::nullopt : lookup(name);
    if (value.has_value()) {
      out += *value;
    } else {
      out.append(text.substr(i, close + 1 - i));
    }
    i = close + 1;
  }
  return out;
}

}  // namespace svcd::render
