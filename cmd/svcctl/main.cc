// svcctl: the kubectl-like client of svcd.

#include <iostream>

#include <CLI/CLI.hpp>

#include "api/version.h"
#include "cmd/svcctl/commands.h"

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
    std::cerr << "error: " << e.what() << " (see svcctl --help)\n";
    return 1;
  }

  if (version->parsed()) {
    std::cout << "svcctl " << svcd::kVersion << "\n";
    return 0;
  }
  return registry.Run();
}
