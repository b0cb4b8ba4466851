// Test program that plays svcd: it dispatches one attempt with a
// LocalExecutor, writes READY_FILE, then waits to be killed. The executor
// tests kill it with SIGKILL to check that launchers and services outlive
// svcd and can be adopted by a new executor.
//
// Usage: dispatch_fake_svcd DATA_DIR DEPLOY_UID TARGET DISPATCH_ID SECRET LEASE
//                           REPORT_URL SCRIPT_FILE READY_FILE

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "dispatch/local_executor.h"

int main(int argc, char** argv) {
  if (argc != 10) {
    std::fprintf(stderr,
                 "usage: dispatch_fake_svcd DATA_DIR DEPLOY_UID TARGET DISPATCH_ID "
                 "SECRET LEASE REPORT_URL SCRIPT_FILE READY_FILE\n");
    return 2;
  }
  std::ifstream script_file(argv[8], std::ios::binary);
  std::ostringstream script;
  script << script_file.rdbuf();

  svcd::reconciler::RealClock clock;
  svcd::dispatch::LocalExecutorOptions options;
  options.data_dir = argv[1];
  svcd::dispatch::LocalExecutor executor(options, clock);
  svcd::dispatch::DispatchRequest request;
  request.attempt = {argv[2], argv[3], argv[4]};
  request.secret = argv[5];
  request.lease = std::stoll(argv[6]);
  request.report_url = argv[7];
  request.script = script.str();
  request.heartbeat_seconds = 1;
  svcd::Status status = executor.Dispatch(request);
  if (!status.ok()) {
    std::fprintf(stderr, "%s\n", status.ToString().c_str());
    return 1;
  }
  std::ofstream(argv[9]) << "ready\n";
  while (true) {
    pause();
  }
}
