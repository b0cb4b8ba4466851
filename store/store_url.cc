#include "store/store_url.h"

#include <charconv>
#include <regex>

namespace svcd::store {
namespace {

constexpr char kForms[] = "use sqlite:PATH or mysql://USER@HOST[:PORT]/DB";

Status Invalid(std::string message) {
  return Status::InvalidArgument("invalid store URL: " + message + "; " + kForms);
}

StatusOr<StoreUrl> ParseSqlite(std::string_view rest) {
  if (rest.empty()) return Invalid("sqlite: needs a file path");
  if (rest.find('\0') != std::string_view::npos) return Invalid("the path contains a NUL byte");
  StoreUrl url;
  url.dialect = sql::Dialect::kSqlite;
  url.path = std::string(rest);
  return url;
}

// Splits "HOST[:PORT]" where HOST may be a bracketed IPv6 literal.
Status ParseHostPort(std::string_view text, StoreUrl& url) {
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) return Invalid("unterminated '[' in the host");
    url.host = std::string(text.substr(1, close - 1));
    std::string_view after = text.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return Invalid("expected ':PORT' after ']'");
      port_text = after.substr(1);
    }
  } else {
    size_t colon = text.find(':');
    url.host = std::string(text.substr(0, colon));
    if (colon != std::string_view::npos) port_text = text.substr(colon + 1);
  }
  static const std::regex kHost(R"([A-Za-z0-9._:-]+)");
  if (url.host.empty() || !std::regex_match(url.host, kHost)) {
    return Invalid("the host must be a name or an IP address");
  }
  if (port_text.empty()) return Status::Ok();
  int port = 0;
  auto [end, error] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (error != std::errc() || end != port_text.data() + port_text.size() || port < 1 ||
      port > 65535) {
    return Invalid("the port must be a number from 1 to 65535");
  }
  url.port = port;
  return Status::Ok();
}

StatusOr<StoreUrl> ParseMysql(std::string_view rest) {
  size_t at = rest.find('@');
  if (at == std::string_view::npos) return Invalid("mysql:// needs USER@ before the host");
  std::string_view user = rest.substr(0, at);
  if (user.find(':') != std::string_view::npos) {
    // Never echo the text here: it contains the password.
    return Status::InvalidArgument(
        "the store URL must not contain a password; pass it through SVCD_STORE_PASSWORD or "
        "--store-password-file");
  }
  std::string_view after_user = rest.substr(at + 1);
  size_t slash = after_user.find('/');
  if (slash == std::string_view::npos) return Invalid("mysql:// needs /DB after the host");

  StoreUrl url;
  url.dialect = sql::Dialect::kMysql;
  url.user = std::string(user);
  url.database = std::string(after_user.substr(slash + 1));
  static const std::regex kName(R"([A-Za-z0-9_$-]{1,64})");
  if (!std::regex_match(url.user, kName)) {
    return Invalid("the user must be 1 to 64 letters, digits, '_', '$' or '-'");
  }
  if (!std::regex_match(url.database, kName)) {
    return Invalid("the database name must be 1 to 64 letters, digits, '_', '$' or '-'");
  }
  Status status = ParseHostPort(after_user.substr(0, slash), url);
  if (!status.ok()) return status;
  return url;
}

}  // namespace

std::string StoreUrl::ToString() const {
  if (dialect == sql::Dialect::kSqlite) return "sqlite:" + path;
  std::string shown_host = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return "mysql://" + user + "@" + shown_host + ":" + std::to_string(port) + "/" + database;
}

StatusOr<StoreUrl> ParseStoreUrl(std::string_view text) {
  constexpr std::string_view kSqlite = "sqlite:";
  constexpr std::string_view kMysql = "mysql://";
  if (text.substr(0, kMysql.size()) == kMysql) return ParseMysql(text.substr(kMysql.size()));
  if (text.substr(0, kSqlite.size()) == kSqlite) return ParseSqlite(text.substr(kSqlite.size()));
  return Invalid("unknown scheme");
}

}  // namespace svcd::store
