#include "cmd/svcctl/commands.h"

namespace svcd::ctl {

void AddRenderCommand(CLI::App& app, CommandRegistry& registry);  // render_command.cc

void AddCommands(CLI::App& app, CommandRegistry& registry) {
  // Subcommands register here as they are built.
  AddRenderCommand(app, registry);
}

}  // namespace svcd::ctl
