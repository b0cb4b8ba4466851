// svcd: the API server, store and reconcile loop.

#include <iostream>

#include <CLI/CLI.hpp>

#include "api/version.h"

int main(int argc, char** argv) {
  CLI::App app{"svcd: declarative reconciler for model-serving deployments"};
  app.require_subcommand(0, 1);
  CLI::App* version = app.add_subcommand("version", "Print the svcd version and exit");
  CLI11_PARSE(app, argc, argv);

  if (version->parsed()) {
    std::cout << "svcd " << svcd::kVersion << "\n";
    return 0;
  }
  // NOTE: the API server and reconcile loop are not built yet.
  std::cerr << "svcd: the server is not available in this build; try `svcd --help`\n";
  return 1;
}
