// Text helpers shared by the checks: address forms and message building.

#ifndef SVCD_PROBE_TEXT_H_
#define SVCD_PROBE_TEXT_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace svcd::probe {

// Returns `address` without surrounding brackets when it is written as
// "[IPv6 literal]", else `address` unchanged.
std::string UnbracketAddress(std::string_view address);

// Returns "host:port" as a URL authority and an HTTP Host header write it:
// an IPv6 literal in brackets, any other host as given.
std::string HostPort(std::string_view address, int port);

// Returns OneLine(text, max_bytes) in double quotes.
std::string Quote(std::string_view text, std::size_t max_bytes = 200);

// Returns `text` as valid UTF-8 on one line, for peer output placed in
// messages. Trailing spaces, tabs and line breaks are dropped. Every other
// byte below 0x20 (tab, CR and LF included) and 0x7f becomes a space, and
// every byte that is not part of a valid UTF-8 sequence becomes '?'. A
// longer text is cut at a character boundary within `max_bytes` bytes and
// followed by "...".
std::string OneLine(std::string_view text, std::size_t max_bytes);

// Returns `text` with ASCII letters lowercased.
std::string ToLower(std::string_view text);

}  // namespace svcd::probe

#endif  // SVCD_PROBE_TEXT_H_
