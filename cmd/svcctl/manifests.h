// Reading manifests from files, directories and standard input.

#ifndef SVCD_CMD_SVCCTL_MANIFESTS_H_
#define SVCD_CMD_SVCCTL_MANIFESTS_H_

#include <string>
#include <vector>

#include "api/status.h"
#include "api/types.h"

namespace svcd::ctl {

struct LoadedObject {
  api::Object object;
  std::string source;  // the file it came from, "-" for standard input
};

// Reads every object from `paths`. A path is a file, "-" for standard input,
// or a directory, whose *.yaml, *.yml and *.json files are read in name order
// (and those of its subdirectories when `recursive`). Decoding is strict.
// On failure the status carries one cause per problem, each prefixed with
// its file (see FormatProblems), and no object is returned.
StatusOr<std::vector<LoadedObject>> LoadManifests(const std::vector<std::string>& paths,
                                                  bool recursive);

// Formats a failed status as one line per problem, "FILE:LINE:COL: PATH: message"
// where the position is known, for printing on stderr.
std::vector<std::string> FormatProblems(const Status& status);

}  // namespace svcd::ctl

#endif  // SVCD_CMD_SVCCTL_MANIFESTS_H_
