// Bearer-token authentication from a static token file.
//
// The file (`svcd --token-file FILE`) has one `token,user,role` line per
// token, where role is viewer, editor or admin. Blank lines and lines whose
// first non-blank character is '#' are ignored, and spaces around each field
// are trimmed. A token is printable ASCII without spaces or commas, so that
// it fits an HTTP header. Several tokens may name the same user.
//
// Only SHA-256 digests of the tokens are kept in memory, and a presented
// token is compared with every digest in constant time. Tokens never appear
// in error messages or logs.

#ifndef SVCD_SERVER_AUTH_H_
#define SVCD_SERVER_AUTH_H_

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "api/status.h"
#include "server/http_types.h"

namespace svcd::server {

// The caller a token belongs to.
struct Principal {
  std::string user;
  Role role = Role::kViewer;
};

// Parses a role name: "viewer", "editor" or "admin". Returns InvalidArgument
// for anything else.
StatusOr<Role> ParseRole(std::string_view name);

class TokenAuthenticator {
 public:
  // Reads and parses the token file at `path`.
  // NOTE: the file's permissions are not checked. Keep it readable by the
  // svcd user only (chmod 600), because anyone who can read it can act as
  // any user listed in it.
  // Returns NotFound when the file cannot be opened, InvalidArgument naming
  // the file and the 1-based line for a malformed line, a repeated token, a
  // file over 1 MiB or a file without any token.
  static StatusOr<TokenAuthenticator> LoadFile(const std::string& path);

  // Parses token file contents; `source` names the file in error messages.
  // Same errors as LoadFile apart from NotFound.
  static StatusOr<TokenAuthenticator> Parse(std::string_view contents, const std::string& source);

  // Checks the value of an Authorization header ("Bearer TOKEN"; the scheme
  // is case-insensitive). An empty value means the header was missing.
  // Returns the token's principal, or Unauthenticated saying what is wrong
  // (missing header, another scheme, unknown token) without echoing the
  // token. Thread-safe.
  StatusOr<Principal> Authenticate(std::string_view authorization) const;

  // Returns the number of tokens loaded.
  size_t size() const { return entries_.size(); }

 private:
  using Digest = std::array<unsigned char, 32>;
  struct Entry {
    Digest digest;
    Principal principal;
  };

  static Digest Sha256(std::string_view data);

  std::vector<Entry> entries_;
};

}  // namespace svcd::server

#endif  // SVCD_SERVER_AUTH_H_
