// Text handling of the runtime store's log lines: UTF-8 repair and the
// splitting of a launcher's output.log bytes into bounded lines. Internal to
// the store; pure functions without I/O.

#ifndef SVCD_STORE_LOG_TEXT_H_
#define SVCD_STORE_LOG_TEXT_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace svcd::store {

// Returns `bytes` as valid UTF-8: every byte that does not start a complete,
// shortest-form sequence of a Unicode scalar value, and every NUL byte,
// becomes U+FFFD. Both databases then store the text unchanged.
std::string ValidUtf8(std::string_view bytes);

// Returns the longest prefix of the valid UTF-8 `text` that has at most
// `max_bytes` bytes and does not end inside a character.
std::string_view TruncateUtf8(std::string_view text, size_t max_bytes);

struct LogSplit {
  // Complete lines in order: valid UTF-8, without the newline and without a
  // carriage return before it, each at most `max_line_bytes` long.
  std::vector<std::string> lines;
  // Raw bytes after the last newline, at most `max_line_bytes` long; empty
  // when `flush` was set.
  std::string partial;
};

// Splits `buffer` (a stored partial line followed by new output bytes) at
// '\n'. A line longer than `max_line_bytes` becomes several lines, cut
// where no UTF-8 sequence is split when possible. The bytes after the last
// newline stay in `partial` unless `flush` is set, in which case they form
// a last line. `max_line_bytes` must be at least 4.
LogSplit SplitLogLines(std::string_view buffer, bool flush, size_t max_line_bytes);

}  // namespace svcd::store

#endif  // SVCD_STORE_LOG_TEXT_H_
