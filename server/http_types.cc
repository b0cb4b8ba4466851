#include "server/http_types.h"

namespace svcd::server {

const char* RoleName(Role role) {
  switch (role) {
    case Role::kViewer:
      return "viewer";
    case Role::kEditor:
      return "editor";
    case Role::kAdmin:
      return "admin";
  }
  return "unknown";
}

bool RoleSatisfies(Role role, AccessRule rule) {
  switch (rule) {
    case AccessRule::kPublic:
      return true;
    case AccessRule::kViewer:
      return role >= Role::kViewer;
    case AccessRule::kEditor:
      return role >= Role::kEditor;
    case AccessRule::kAdmin:
      return role >= Role::kAdmin;
  }
  return false;
}

}  // namespace svcd::server
