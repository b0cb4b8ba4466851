#include "reconciler/reconciler.h"

#include <algorithm>
#include <utility>

namespace svcd::reconciler {
namespace {

Status RequireError(Status status, std::string_view kind) {
  if (status.ok()) {
    return Status::Internal("reconciler returned " + std::string(kind) +
                            " with an OK status. Return Result::Done() for success");
  }
  return status;
}

}  // namespace

Result::Result(Status status) : status_(std::move(status)) {}

Result Result::Requeue() {
  Result result;
  result.requeue_ = true;
  return result;
}

Result Result::RequeueAfter(Duration delay) {
  Result result;
  result.requeue_ = true;
  if (delay > Duration::zero()) {
    result.requeue_after_ = delay;
  }
  return result;
}

Result Result::Error(Status status) { return Result(RequireError(std::move(status), "an error")); }

Result TerminalError(Status status) {
  Result result(RequireError(std::move(status), "a terminal error"));
  result.terminal_ = true;
  return result;
}

Outcome OutcomeOf(const Result& result) {
  if (!result.ok()) {
    return result.terminal() ? Outcome::kTerminal : Outcome::kError;
  }
  if (result.requeue_after() > Duration::zero()) {
    return Outcome::kRequeueAfter;
  }
  if (result.requeue()) {
    return Outcome::kRequeue;
  }
  return Outcome::kSuccess;
}

std::string_view OutcomeLabel(Outcome outcome) {
  switch (outcome) {
    case Outcome::kSuccess:
      return "success";
    case Outcome::kError:
      return "error";
    case Outcome::kRequeue:
      return "requeue";
    case Outcome::kRequeueAfter:
      return "requeue_after";
    case Outcome::kTerminal:
      return "terminal";
  }
  return "error";
}

Context::Context(std::string key, std::uint64_t reconcile_id, TimePoint deadline, Clock& clock)
    : key_(std::move(key)), reconcile_id_(reconcile_id), deadline_(deadline), clock_(clock) {}

bool Context::Done() const { return Cancelled() || clock_.Now() >= deadline_; }

bool Context::Wait(Duration d) const {
  const TimePoint until = DeadlineAfter(clock_.Now(), d);
  const TimePoint wake_at = std::min(until, deadline_);
  std::unique_lock<std::mutex> lock(mu_);
  clock_.WaitUntil(lock, cancel_cv_, wake_at, [&] { return Cancelled(); });
  return !Cancelled() && clock_.Now() >= until;
}

void Context::Cancel() {
  std::lock_guard<std::mutex> guard(mu_);
  cancelled_.store(true);
  cancel_cv_.notify_all();
}

}  // namespace svcd::reconciler
