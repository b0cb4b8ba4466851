// Shell quoting and `$(NAME)` variable expansion for rendered node scripts.

#ifndef SVCD_RENDER_SHELL_H_
#define SVCD_RENDER_SHELL_H_

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace svcd::render {

// Returns `value` as one POSIX sh word in single quotes. Every byte stays as
// written except `'`, which becomes `'\''` (close the quote, an escaped quote,
// reopen). The empty string becomes `''`. The result is safe to paste into a
// script for dash and for bash (also when bash runs as `sh`): no expansion,
// word splitting or globbing happens inside single quotes. A NUL byte cannot
// be passed through argv or the environment, so callers reject it first.
std::string ShellQuote(std::string_view value);

// Returns the value of a variable, or std::nullopt when `name` is not defined.
using VariableLookup = std::function<std::optional<std::string>(std::string_view name)>;

// Expands `$(NAME)` references in `text` with Kubernetes' rules:
//   - `$(NAME)` becomes lookup(NAME) when that has a value, else stays as written;
//   - `$$` becomes one literal `$`, so `$$(NAME)` gives the text `$(NAME)`;
//   - the `$(` of an unclosed reference stays as written, and so does any other `$`.
// The name is everything between `(` and the first `)`. Expanded values are
// not scanned again, so a value that contains `$(X)` is inserted as written.
std::string ExpandVariables(std::string_view text, const VariableLookup& lookup);

}  // namespace svcd::render

#endif  // SVCD_RENDER_SHELL_H_
