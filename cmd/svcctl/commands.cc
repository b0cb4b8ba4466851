#include "cmd/svcctl/commands.h"

namespace svcd::ctl {

void AddCommands(CLI::App& app, CommandRegistry& registry) {
  // Subcommands register here as they are built.
}

}  // namespace svcd::ctl
