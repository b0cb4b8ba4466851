// svcctl: the kubectl-like client of svcd.

#include <iostream>

#include <CLI/CLI.hpp>

#include "api/version.h"
#include "cmd/svcctl/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"svcctl: apply, inspect and render svcd resources"};
  app.require_subcommand(1);
  CLI::App* version = app.add_subcommand("version", "Print the svcctl version and exit");
  svcd::ctl::CommandRegistry registry;
  svcd::ctl::AddCommands(app, registry);
  CLI11_PARSE(app, argc, argv);

  if (version->parsed()) {
    std::cout << "svcctl " << svcd::kVersion << "\n";
    return 0;
  }
  return registry.Run();
}
