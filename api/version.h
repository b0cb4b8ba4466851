#ifndef SVCD_API_VERSION_H_
#define SVCD_API_VERSION_H_

namespace svcd {

// The release of svcd and svcctl, printed by `version` and served on /version.
inline constexpr char kVersion[] = "0.1.0";

}  // namespace svcd

#endif  // SVCD_API_VERSION_H_
