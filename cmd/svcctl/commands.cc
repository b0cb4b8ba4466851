#include "cmd/svcctl/commands.h"

#include "cmd/svcctl/resources.h"

namespace svcd::ctl {

// Defined in archive_command.cc.
void AddArchiveCommand(CLI::App& app, const GlobalOptions& global, CommandRegistry& registry);

void AddCommands(CLI::App& app, CommandRegistry& registry) {
  static GlobalOptions global;
  app.add_option("-s,--server", global.server,
                 "svcd URL (default: $SVCD_SERVER, else http://127.0.0.1:7070)");
  app.add_option("--token", global.token,
                 "Bearer token (default: $SVCD_TOKEN; other users can see argv, prefer the "
                 "variable)");
  app.add_option("-n,--namespace", global.namespace_,
                 "Namespace of servicedeploys (default: default)");
  // Checked at parse time because MakeClient cannot report an error: it
  // would replace an unreadable value with the 30 s default.
  app.add_option("--request-timeout", global.timeout, "Timeout of each request, such as 30s")
      ->check([](const std::string& text) {
        StatusOr<int64_t> ms = ParseDurationMs(text);
        return ms.ok() ? std::string() : ms.status().message();
      });

  AddRenderCommand(app, registry);
  AddApplyCommands(app, global, registry);
  AddGetCommand(app, global, registry);
  AddDeleteCommands(app, global, registry);
  AddWatchCommands(app, global, registry);
  AddArchiveCommand(app, global, registry);
}

}  // namespace svcd::ctl
