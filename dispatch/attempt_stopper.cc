#include "dispatch/attempt_stopper.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <utility>
#include <vector>

#include "dispatch/run_dir.h"

namespace svcd::dispatch {
namespace {

constexpr char kRoleService[] = "service";
constexpr char kRoleDescendant[] = "descendant";
constexpr char kRoleLauncher[] = "launcher";

// Reads a pid file and its start time file, and returns the process when it
// still lives and started at the recorded time. A recorded service must also
// lead its own session, which guards against a reused pid when the start
// time was never written.
std::optional<ProcessInfo> ReadRecordedProcess(const std::filesystem::path& dir,
                                               const char* pid_file, const char* start_file,
                                               bool session_leader) {
  std::optional<int64_t> pid = ReadIntFile(dir / pid_file);
  if (!pid.has_value() || *pid <= 0) {
    return std::nullopt;
  }
  std::optional<ProcessInfo> info = ReadProcess(static_cast<pid_t>(*pid));
  if (!info.has_value() || !info->live()) {
    return std::nullopt;
  }
  std::optional<int64_t> start = ReadIntFile(dir / start_file);
  if (start.has_value() && static_cast<uint64_t>(*start) != info->start_ticks) {
    return std::nullopt;
  }
  if (session_leader && info->session != info->pid) {
    return std::nullopt;
  }
  return info;
}

}  // namespace

AttemptStopper::AttemptStopper(std::filesystem::path attempt_dir, std::string dispatch_id,
                               pid_t spawned_launcher, reconciler::Clock& clock)
    : attempt_dir_(std::move(attempt_dir)),
      marker_(std::string(kDispatchIdEnv) + "=" + dispatch_id),
      clock_(clock) {
  if (spawned_launcher > 0) {
    std::optional<ProcessInfo> info = ReadProcess(spawned_launcher);
    if (info.has_value() && info->live()) {
      launcher_ = info;
      Track(*info, kRoleLauncher);
    }
  }
}

void AttemptStopper::Track(const ProcessInfo& info, const char* role) {
  if (!info.live() || info.pid == getpid() || tracked_.count(info.pid) > 0) {
    return;
  }
  tracked_[info.pid] = Tracked{info.start_ticks, info.command, role};
}

void AttemptStopper::Refresh(bool scan_environ) {
  if (!service_.has_value()) {
    service_ = ReadRecordedProcess(attempt_dir_, kServicePidFile, kServiceStartFile, true);
    if (service_.has_value()) Track(*service_, kRoleService);
  }
  if (!launcher_.has_value()) {
    launcher_ = ReadRecordedProcess(attempt_dir_, kLauncherPidFile, kLauncherStartFile, false);
    if (launcher_.has_value()) Track(*launcher_, kRoleLauncher);
  }

  const std::vector<ProcessInfo> table = ListProcesses();
  std::set<pid_t> roots;
  for (const ProcessInfo& info : table) {
    if (service_.has_value() && info.pgrp == service_->pid) {
      Track(info, info.pid == service_->pid ? kRoleService : kRoleDescendant);
    }
  }
  for (const auto& [pid, tracked] : tracked_) {
    if (tracked.role != kRoleLauncher) roots.insert(pid);
  }
  for (const ProcessInfo& info : Descendants(table, roots)) {
    Track(info, kRoleDescendant);
  }
  if (launcher_.has_value()) {
    // Children of the launcher are its report helpers, unless they carry the
    // attempt's marker: then they are the service, before service.pid exists.
    for (const ProcessInfo& info : Descendants(table, {launcher_->pid})) {
      Track(info, EnvironContains(info.pid, marker_) ? kRoleDescendant : kRoleLauncher);
    }
  }
  // NOTE: a daemon whose parent has exited and that cleared its environment
  // has no link left to the attempt, so it is neither found nor reported.
  if (scan_environ) {
    for (const ProcessInfo& info : table) {
      if (tracked_.count(info.pid) == 0 && EnvironContains(info.pid, marker_)) {
        Track(info, kRoleDescendant);
      }
    }
  }
}

void AttemptStopper::Signal(int signal, bool launcher) {
  const std::optional<ProcessInfo>& leader = launcher ? launcher_ : service_;
  const pid_t group = leader.has_value() && leader->pgrp == leader->pid ? leader->pid : 0;

  // The live tracked processes of this kind, as they are now.
  std::vector<ProcessInfo> targets;
  bool group_has_member = false;
  for (const auto& [pid, tracked] : tracked_) {
    if ((tracked.role == kRoleLauncher) != launcher) continue;
    std::optional<ProcessInfo> now = ReadProcess(pid);
    if (!now.has_value() || !now->live() || now->start_ticks != tracked.start_ticks) continue;
    group_has_member = group_has_member || (group != 0 && now->pgrp == group);
    targets.push_back(*now);
  }

  // The group is signalled only while a tracked process is in it, because
  // once it is empty its id may be reused by an unrelated process.
  const bool group_sent = group_has_member && kill(-group, signal) == 0;
  if (group_sent) {
    ++signalled_;
  }
  for (const ProcessInfo& info : targets) {
    if (group_sent && info.pgrp == group) continue;
    if (kill(info.pid, signal) == 0) {
      ++signalled_;
    }
  }
}

bool AttemptStopper::AnyLive(bool launcher) const {
  for (const auto& [pid, tracked] : tracked_) {
    if ((tracked.role == kRoleLauncher) == launcher &&
        IsSameLiveProcess(pid, tracked.start_ticks)) {
      return true;
    }
  }
  return false;
}

bool AttemptStopper::WaitGone(std::chrono::milliseconds timeout, bool launcher, bool scan_environ) {
  const reconciler::TimePoint deadline = reconciler::DeadlineAfter(clock_.Now(), timeout);
  while (true) {
    Refresh(scan_environ);
    if (!AnyLive(launcher)) {
      return true;
    }
    const reconciler::TimePoint now = clock_.Now();
    if (now >= deadline) {
      return false;
    }
    clock_.SleepUntil(std::min(deadline, reconciler::DeadlineAfter(now, poll_)));
  }
}

StopResult AttemptStopper::Run(const StopTimeouts& timeouts) {
  poll_ = timeouts.poll;
  Refresh(/*scan_environ=*/true);

  // Step 1: a launcher that has no service yet is sent TERM, which keeps
  // it from starting one.
  if (launcher_.has_value() && !service_.has_value() &&
      IsSameLiveProcess(launcher_->pid, launcher_->start_ticks) &&
      kill(launcher_->pid, SIGTERM) == 0) {
    ++signalled_;
  }

  // Step 2: TERM, the grace period, then KILL for the service and its tree.
  Signal(SIGTERM, /*launcher=*/false);
  if (!WaitGone(timeouts.grace, /*launcher=*/false, /*scan_environ=*/false)) {
    Refresh(/*scan_environ=*/true);
    Signal(SIGKILL, /*launcher=*/false);
    WaitGone(timeouts.kill, /*launcher=*/false, /*scan_environ=*/false);
  }

  // Step 3: the launcher records the exit status and reports it, then exits.
  // One that takes too long is stopped as well.
  if (!WaitGone(timeouts.launcher_exit, /*launcher=*/true, /*scan_environ=*/false)) {
    Signal(SIGTERM, /*launcher=*/true);
    if (!WaitGone(timeouts.kill, /*launcher=*/true, /*scan_environ=*/false)) {
      Signal(SIGKILL, /*launcher=*/true);
      WaitGone(timeouts.kill, /*launcher=*/true, /*scan_environ=*/false);
    }
  }

  // Step 4: a last search, so a process that escaped the earlier looks is
  // killed too; whatever still lives after that is a survivor.
  Refresh(/*scan_environ=*/true);
  if (AnyLive(/*launcher=*/false)) {
    Signal(SIGKILL, /*launcher=*/false);
    WaitGone(timeouts.kill, /*launcher=*/false, /*scan_environ=*/false);
  }
  StopResult result;
  for (const auto& [pid, tracked] : tracked_) {
    if (IsSameLiveProcess(pid, tracked.start_ticks)) {
      result.survivors.push_back(Survivor{pid, tracked.command, tracked.role});
    }
  }
  result.stopped = result.survivors.empty();
  result.signalled = signalled_;
  if (std::optional<int64_t> status = ReadIntFile(attempt_dir_ / kExitFile); status.has_value()) {
    result.exit_status = static_cast<int>(*status);
  }
  return result;
}

}  // namespace svcd::dispatch
