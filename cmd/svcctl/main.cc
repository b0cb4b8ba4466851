// svcctl: the kubectl-like client of svcd.

#include <CLI/CLI.hpp>
#include <iostream>

#include "api/version.h"
#include "cmd/svcctl/commands.h"

namespace {

// Returns an error line for "svcctl GROUP WORD ..." when GROUP is a command
// with subcommands (such as rollout) and WORD names none of them, or "".
// CLI11 would only report that WORD was not expected.
std::string UnknownSubcommand(const CLI::App& app, int argc, char** argv) {
  for (int i = 1; i + 1 < argc; ++i) {
    const std::string word = argv[i];
    if (word.empty() || word[0] == '-') continue;
    const CLI::App* group = nullptr;
    for (const CLI::App* command : app.get_subcommands({})) {
      if (command->get_name() == word) group = command;
    }
    if (group == nullptr) continue;  // the value of a global option such as -n
    if (group->get_subcommands({}).empty()) return "";
    const std::string next = argv[i + 1];
    if (next.empty() || next[0] == '-') return "";
    std::string names;
    for (const CLI::App* sub : group->get_subcommands({})) {
      if (sub->get_name() == next) return "";
      names += (names.empty() ? "" : " or ") + sub->get_name();
    }
    return "unknown " + word + " subcommand \"" + next + "\": use " + names + " (see svcctl " +
           word + " --help)";
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"svcctl: apply, inspect and render svcd resources"};
  // Global options such as -n may follow the subcommand, as in kubectl:
  // subcommands inherit this setting when they are added below.
  app.fallthrough();
  app.require_subcommand(1);
  CLI::App* version = app.add_subcommand("version", "Print the svcctl version and exit");
  svcd::ctl::CommandRegistry registry;
  svcd::ctl::AddCommands(app, registry);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0 with CLI11's own output; a usage error is
    // one "error:" line and exit status 1, like every other svcctl error.
    if (e.get_exit_code() == 0) return app.exit(e);
    if (const std::string unknown = UnknownSubcommand(app, argc, argv); !unknown.empty()) {
      std::cerr << "error: " << unknown << "\n";
      return 1;
    }
    std::cerr << "error: " << e.what() << " (see svcctl --help)\n";
    return 1;
  }

  if (version->parsed()) {
    std::cout << "svcctl " << svcd::kVersion << "\n";
    return 0;
  }
  return registry.Run();
}
