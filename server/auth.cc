#include "server/auth.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>
#include <fstream>

namespace svcd::server {
namespace {

constexpr size_t kMaxTokenFileBytes = 1 << 20;

std::string_view Trim(std::string_view text) {
  size_t begin = text.find_first_not_of(" \t\r");
  if (begin == std::string_view::npos) return {};
  size_t end = text.find_last_not_of(" \t\r");
  return text.substr(begin, end - begin + 1);
}

bool IsTokenChar(char c) { return c > 0x20 && c < 0x7f && c != ','; }

// Splits one line into its three fields, or returns an error naming the line.
Status SplitLine(std::string_view line, const std::string& where,
                 std::array<std::string_view, 3>* fields) {
  size_t count = static_cast<size_t>(std::count(line.begin(), line.end(), ',')) + 1;
  if (count != 3) {
    return Status::InvalidArgument(where +
                                   ": expected 3 comma-separated fields token,user,role, found " +
                                   std::to_string(count));
  }
  size_t first = line.find(',');
  size_t second = line.find(',', first + 1);
  (*fields)[0] = Trim(line.substr(0, first));
  (*fields)[1] = Trim(line.substr(first + 1, second - first - 1));
  (*fields)[2] = Trim(line.substr(second + 1));
  return Status::Ok();
}

}  // namespace

StatusOr<Role> ParseRole(std::string_view name) {
  if (name == "viewer") return Role::kViewer;
  if (name == "editor") return Role::kEditor;
  if (name == "admin") return Role::kAdmin;
  return Status::InvalidArgument("unknown role \"" + std::string(name) +
                                 "\": use viewer, editor or admin");
}

TokenAuthenticator::Digest TokenAuthenticator::Sha256(std::string_view data) {
  Digest digest;
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest.data());
  return digest;
}

StatusOr<TokenAuthenticator> TokenAuthenticator::LoadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::NotFound("cannot open token file " + path +
                            ": check --token-file and the file's permissions");
  }
  std::string contents;
  char buffer[8192];
  while (in.read(buffer, sizeof(buffer)) || in.gcount() > 0) {
    contents.append(buffer, static_cast<size_t>(in.gcount()));
    if (contents.size() > kMaxTokenFileBytes) {
      return Status::InvalidArgument("token file " + path + " is larger than 1 MiB");
    }
  }
  return Parse(contents, path);
}

StatusOr<TokenAuthenticator> TokenAuthenticator::Parse(std::string_view contents,
                                                       const std::string& source) {
  if (contents.size() > kMaxTokenFileBytes) {
    return Status::InvalidArgument("token file " + source + " is larger than 1 MiB");
  }
  TokenAuthenticator authenticator;
  std::vector<int> lines_of_entries;
  int line_number = 0;
  while (!contents.empty()) {
    size_t newline = contents.find('\n');
    std::string_view line = Trim(contents.substr(0, newline));
    contents =
        newline == std::string_view::npos ? std::string_view() : contents.substr(newline + 1);
    ++line_number;
    if (line.empty() || line[0] == '#') continue;

    std::string where = "token file " + source + " line " + std::to_string(line_number);
    std::array<std::string_view, 3> fields;
    Status split = SplitLine(line, where, &fields);
    if (!split.ok()) return split;

    const auto& [token, user, role_name] = fields;
    if (token.empty() || !std::all_of(token.begin(), token.end(), IsTokenChar)) {
      return Status::InvalidArgument(
          where + ": the token must be non-empty printable ASCII without spaces or commas");
    }
    if (user.empty()) return Status::InvalidArgument(where + ": the user name is empty");
    StatusOr<Role> role = ParseRole(role_name);
    if (!role.ok()) return Status::InvalidArgument(where + ": " + role.status().message());

    Entry entry{Sha256(token), Principal{std::string(user), *role}};
    for (size_t i = 0; i < authenticator.entries_.size(); ++i) {
      if (authenticator.entries_[i].digest == entry.digest) {
        return Status::InvalidArgument(where + ": repeats the token of line " +
                                       std::to_string(lines_of_entries[i]) +
                                       "; every token must be unique");
      }
    }
    authenticator.entries_.push_back(std::move(entry));
    lines_of_entries.push_back(line_number);
  }
  if (authenticator.entries_.empty()) {
    return Status::InvalidArgument("token file " + source +
                                   " contains no tokens: add lines of the form token,user,role");
  }
  return authenticator;
}

StatusOr<Principal> TokenAuthenticator::Authenticate(std::string_view authorization) const {
  authorization = Trim(authorization);
  if (authorization.empty()) {
    return Status::Unauthenticated(
        "missing bearer token: send the header 'Authorization: Bearer TOKEN' (svcctl sends "
        "$SVCD_TOKEN)");
  }
  constexpr std::string_view kScheme = "bearer";
  bool is_bearer =
      authorization.size() > kScheme.size() &&
      std::equal(kScheme.begin(), kScheme.end(), authorization.begin(),
                 [](char a, char b) { return a == std::tolower(static_cast<unsigned char>(b)); }) &&
      (authorization[kScheme.size()] == ' ' || authorization[kScheme.size()] == '\t');
  if (!is_bearer) {
    return Status::Unauthenticated("unsupported Authorization scheme: use 'Bearer TOKEN'");
  }
  std::string_view token = Trim(authorization.substr(kScheme.size()));

  // Compare with every digest and never stop early, so the time taken does
  // not reveal which entry, or how much of it, matched.
  Digest presented = Sha256(token);
  const Entry* found = nullptr;
  for (const Entry& entry : entries_) {
    bool equal = CRYPTO_memcmp(entry.digest.data(), presented.data(), presented.size()) == 0;
    found = equal ? &entry : found;
  }
  if (found == nullptr) return Status::Unauthenticated("invalid bearer token");
  return found->principal;
}

}  // namespace svcd::server
