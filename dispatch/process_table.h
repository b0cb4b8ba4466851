// Reading the Linux process table under /proc: who is alive, who descends
// from whom, and which processes belong to one attempt.

#ifndef SVCD_DISPATCH_PROCESS_TABLE_H_
#define SVCD_DISPATCH_PROCESS_TABLE_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace svcd::dispatch {

// The fields of /proc/PID/stat that svcd uses.
struct ProcessInfo {
  pid_t pid = 0;
  std::string command;  // field 2 without its parentheses; at most 15 bytes
  char state = '?';     // R, S, D, Z, T, ...
  pid_t ppid = 0;
  pid_t pgrp = 0;
  pid_t session = 0;
  uint64_t start_ticks = 0;  // start time in clock ticks after boot

  // A zombie has exited already and only waits to be reaped.
  bool live() const { return state != 'Z' && state != 'X'; }
};

// Parses the text of /proc/PID/stat. The command may hold spaces and
// parentheses, so the fields are counted after its last ')'. Returns
// std::nullopt for malformed text.
std::optional<ProcessInfo> ParseProcStat(std::string_view text);

// Reads /proc/PID/stat, or returns std::nullopt when the process is gone.
std::optional<ProcessInfo> ReadProcess(pid_t pid);

// Returns every process that /proc lists now. Processes that exit while the
// table is read are left out.
std::vector<ProcessInfo> ListProcesses();

// Returns true when `pid` is a live process (not a zombie) and, when
// `start_ticks` is given, started at that time, so a reused pid never passes.
bool IsSameLiveProcess(pid_t pid, std::optional<uint64_t> start_ticks);

// Returns the processes of `table` that descend from any of `roots` through
// parent links, roots left out. A process that called setsid keeps its
// parent link, so it is found as long as its parent lives.
std::vector<ProcessInfo> Descendants(const std::vector<ProcessInfo>& table,
                                     const std::set<pid_t>& roots);

// Returns true when the environment of `pid`, as it was at exec, contains the
// entry `NAME=VALUE` exactly. False when it does not or cannot be read.
bool EnvironContains(pid_t pid, std::string_view entry);

}  // namespace svcd::dispatch

#endif  // SVCD_DISPATCH_PROCESS_TABLE_H_
