#include "store/log_text.h"

namespace svcd::store {
namespace {

constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD

bool IsContinuation(unsigned char byte) { return (byte & 0xC0) == 0x80; }

// Returns the length of the valid UTF-8 sequence at the start of `bytes`,
// or 0 when it is invalid, truncated or a NUL byte.
size_t SequenceLength(std::string_view bytes) {
  auto at = [&](size_t i) { return static_cast<unsigned char>(bytes[i]); };
  unsigned char lead = at(0);
  if (lead == 0) return 0;
  if (lead < 0x80) return 1;
  size_t length = 0;
  unsigned char low = 0x80, high = 0xBF;  // allowed range of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;   // no overlong forms
    if (lead == 0xED) high = 0x9F;  // no UTF-16 surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;   // no overlong forms
    if (lead == 0xF4) high = 0x8F;  // nothing above U+10FFFF
  } else {
    return 0;
  }
  if (bytes.size() < length) return 0;
  if (at(1) < low || at(1) > high) return 0;
  for (size_t i = 2; i < length; ++i) {
    if (!IsContinuation(at(i))) return 0;
  }
  return length;
}

// Returns where to cut `bytes` to keep at most `max_bytes`. The cut moves
// back past up to three continuation bytes so that no sequence is split,
// and stays at `max_bytes` when no lead byte is that close.
size_t CutPoint(std::string_view bytes, size_t max_bytes) {
  if (bytes.size() <= max_bytes) return bytes.size();
  for (size_t cut = max_bytes; cut > 0 && cut + 3 >= max_bytes; --cut) {
    if (!IsContinuation(static_cast<unsigned char>(bytes[cut]))) return cut;
  }
  return max_bytes;
}

// Repairs `raw` and appends it to `lines` as pieces of at most `max_bytes`.
void AppendLine(std::string_view raw, size_t max_bytes, std::vector<std::string>& lines) {
  std::string text = ValidUtf8(raw);
  std::string_view rest = text;
  while (rest.size() > max_bytes) {
    std::string_view piece = TruncateUtf8(rest, max_bytes);
    lines.emplace_back(piece);
    rest.remove_prefix(piece.size());
  }
  lines.emplace_back(rest);
}

}  // namespace

std::string ValidUtf8(std::string_view bytes) {
  std::string text;
  text.reserve(bytes.size());
  while (!bytes.empty()) {
    size_t length = SequenceLength(bytes);
    if (length == 0) {
      text += kReplacement;
      length = 1;
    } else {
      text.append(bytes.substr(0, length));
    }
    bytes.remove_prefix(length);
  }
  return text;
}

std::string_view TruncateUtf8(std::string_view text, size_t max_bytes) {
  return text.substr(0, CutPoint(text, max_bytes));
}

LogSplit SplitLogLines(std::string_view buffer, bool flush, size_t max_line_bytes) {
  LogSplit split;
  for (size_t newline = buffer.find('\n'); newline != std::string_view::npos;
       newline = buffer.find('\n')) {
    std::string_view line = buffer.substr(0, newline);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    AppendLine(line, max_line_bytes, split.lines);
    buffer.remove_prefix(newline + 1);
  }

  if (flush) {
    if (!buffer.empty()) AppendLine(buffer, max_line_bytes, split.lines);
    return split;
  }
  // An unterminated line longer than the bound is stored in pieces now, so
  // the buffered partial line stays bounded.
  while (buffer.size() > max_line_bytes) {
    size_t cut = CutPoint(buffer, max_line_bytes);
    AppendLine(buffer.substr(0, cut), max_line_bytes, split.lines);
    buffer.remove_prefix(cut);
  }
  split.partial = std::string(buffer);
  return split;
}

}  // namespace svcd::store
