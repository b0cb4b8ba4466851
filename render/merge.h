// Layered merging of envs and args, the first step of rendering a node.
//
// Layers are applied in order (template defaults, then deploy values, then
// node values), and each later layer wins. Both functions also validate what
// they merge, because the merged names end up unquoted in a shell script:
// every problem becomes one Cause naming the field path, and all of them are
// returned together in one InvalidArgument status.

#ifndef SVCD_RENDER_MERGE_H_
#define SVCD_RENDER_MERGE_H_

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "api/status.h"
#include "api/types.h"

namespace svcd::render {

// One list of envs and where it came from.
struct EnvLayer {
  std::string field;   // field path of the list, such as "spec.envs"
  std::string object;  // owner named in messages, such as `ServiceTemplate "vllm"`; empty for
                       // the deploy being rendered
  std::span<const api::EnvVar> envs;
};

// One list of args and where it came from.
struct ArgLayer {
  std::string field;   // field path of the list, such as "spec.master.args"
  std::string object;  // as in EnvLayer
  std::span<const api::Arg> args;
};

// A named arg after merging.
struct NamedArg {
  std::string option;                // the word rendered for the name: "--port", "-v"
  std::optional<std::string> value;  // unset for a flag

  friend bool operator==(const NamedArg&, const NamedArg&) = default;
};

struct MergedArgs {
  std::vector<std::string> positional;  // values of unnamed args, in layer order
  std::vector<NamedArg> named;          // in order of first occurrence

  friend bool operator==(const MergedArgs&, const MergedArgs&) = default;
};

// Returns the option word for an arg name: "port" gives "--port", and a name
// that starts with '-' ("-v", "--port") is used as written.
std::string OptionForName(std::string_view name);

// Returns true when `name` matches ^[A-Za-z_][A-Za-z0-9_]*$.
bool IsValidEnvName(std::string_view name);

// Returns true when `name` matches ^-{0,2}[A-Za-z0-9][A-Za-z0-9._-]*$.
bool IsValidArgName(std::string_view name);

// Merges env lists keyed by name. A name seen in an earlier layer keeps its
// position and takes the later value; a new name is appended. Values are not
// expanded here.
//
// Returns InvalidArgument, naming each field, when a name is invalid, starts
// with the reserved prefix SVCD_, or appears twice in one list, or when a
// value contains a NUL byte.
StatusOr<std::vector<api::EnvVar>> MergeEnvs(std::span<const EnvLayer> layers);

// Merges arg lists. Named args are keyed by their option word, so `port` and
// `--port` are the same arg: a later layer replaces the value (or turns a
// value into a flag, or the reverse) in the position of the first
// occurrence, new names are appended, and {name: x, flag: false} removes an
// inherited x and renders nothing. Unnamed args are never merged: they are
// kept in layer order, each layer's in the order written.
//
// Returns InvalidArgument, naming each field, when an arg has no valid shape
// ({name, value}, {name, flag} or {value}), a name is invalid, one list
// contains the same option twice, or a value contains a NUL byte.
StatusOr<MergedArgs> MergeArgs(std::span<const ArgLayer> layers);

}  // namespace svcd::render

#endif  // SVCD_RENDER_MERGE_H_
