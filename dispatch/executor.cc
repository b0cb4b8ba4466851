#include "dispatch/executor.h"

namespace svcd::dispatch {

const char* AttemptStateName(AttemptState state) {
  switch (state) {
    case AttemptState::kNotClaimed:
      return "NotClaimed";
    case AttemptState::kStarting:
      return "Starting";
    case AttemptState::kRunning:
      return "Running";
    case AttemptState::kExited:
      return "Exited";
    case AttemptState::kCancelled:
      return "Cancelled";
    case AttemptState::kLost:
      return "Lost";
  }
  return "Unknown";
}

}  // namespace svcd::dispatch
