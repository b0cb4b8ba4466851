// Subcommands of svcctl. Each command file defines one Add*Command function
// that registers its CLI11 subcommand and the action to run when it parses.

#ifndef SVCD_CMD_SVCCTL_COMMANDS_H_
#define SVCD_CMD_SVCCTL_COMMANDS_H_

#include <functional>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

namespace svcd::ctl {

// Collects one action per subcommand and runs the one that parsed.
class CommandRegistry {
 public:
  // Registers `action` to run when `command` is the parsed subcommand. The
  // action returns the process exit status.
  void Add(CLI::App* command, std::function<int()> action) {
    entries_.emplace_back(command, std::move(action));
  }

  // Runs the action of the parsed subcommand; returns 0 when none parsed.
  int Run() const {
    for (const auto& [command, action] : entries_) {
      if (command->parsed()) return action();
    }
    return 0;
  }

 private:
  std::vector<std::pair<CLI::App*, std::function<int()>>> entries_;
};

struct GlobalOptions;

// Registers the global options and every subcommand. Defined in commands.cc.
void AddCommands(CLI::App& app, CommandRegistry& registry);

// One function per command file. `global` outlives the parse and the run.
void AddRenderCommand(CLI::App& app, CommandRegistry& registry);
void AddApplyCommands(CLI::App& app, const GlobalOptions& global, CommandRegistry& registry);
void AddGetCommand(CLI::App& app, const GlobalOptions& global, CommandRegistry& registry);
void AddDeleteCommands(CLI::App& app, const GlobalOptions& global, CommandRegistry& registry);
void AddWatchCommands(CLI::App& app, const GlobalOptions& global, CommandRegistry& registry);

}  // namespace svcd::ctl

#endif  // SVCD_CMD_SVCCTL_COMMANDS_H_
