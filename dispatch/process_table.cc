#include "dispatch/process_table.h"

#include <charconv>
#include <filesystem>
#include <fstream>
#include <map>

namespace svcd::dispatch {
namespace {

// Environments larger than this are not searched.
constexpr size_t kMaxEnvironBytes = 1024 * 1024;

std::optional<std::string> ReadProcFile(const std::string& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return std::nullopt;
  }
  std::string text(max_bytes, '\0');
  in.read(text.data(), static_cast<std::streamsize>(max_bytes));
  text.resize(static_cast<size_t>(in.gcount()));
  return text;
}

template <typename T>
bool ParseNumber(std::string_view text, T* value) {
  auto [ptr, error] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return error == std::errc() && ptr == text.data() + text.size();
}

}  // namespace

std::optional<ProcessInfo> ParseProcStat(std::string_view text) {
  const size_t open = text.find('(');
  const size_t close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) {
    return std::nullopt;
  }
  ProcessInfo info;
  if (!ParseNumber(text.substr(0, open > 0 ? open - 1 : 0), &info.pid)) {
    return std::nullopt;
  }
  info.command = std::string(text.substr(open + 1, close - open - 1));

  // Fields 3 onwards, so fields[0] is field 3 (state).
  std::vector<std::string_view> fields;
  std::string_view rest = text.substr(close + 1);
  while (!rest.empty()) {
    const size_t start = rest.find_first_not_of(" \n");
    if (start == std::string_view::npos) break;
    rest.remove_prefix(start);
    const size_t end = rest.find_first_of(" \n");
    fields.push_back(rest.substr(0, end));
    rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);
  }
  if (fields.size() < 20 || fields[0].size() != 1) {
    return std::nullopt;
  }
  info.state = fields[0][0];
  if (!ParseNumber(fields[1], &info.ppid) || !ParseNumber(fields[2], &info.pgrp) ||
      !ParseNumber(fields[3], &info.session) || !ParseNumber(fields[19], &info.start_ticks)) {
    return std::nullopt;
  }
  return info;
}

std::optional<ProcessInfo> ReadProcess(pid_t pid) {
  std::optional<std::string> text = ReadProcFile("/proc/" + std::to_string(pid) + "/stat", 4096);
  if (!text.has_value()) {
    return std::nullopt;
  }
  return ParseProcStat(*text);
}

std::vector<ProcessInfo> ListProcesses() {
  std::vector<ProcessInfo> table;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", error)) {
    const std::string name = entry.path().filename().string();
    pid_t pid = 0;
    if (!ParseNumber(name, &pid)) {
      continue;
    }
    if (std::optional<ProcessInfo> info = ReadProcess(pid); info.has_value()) {
      table.push_back(std::move(*info));
    }
  }
  return table;
}

bool IsSameLiveProcess(pid_t pid, std::optional<uint64_t> start_ticks) {
  if (pid <= 0) {
    return false;
  }
  std::optional<ProcessInfo> info = ReadProcess(pid);
  if (!info.has_value() || !info->live()) {
    return false;
  }
  return !start_ticks.has_value() || info->start_ticks == *start_ticks;
}

std::vector<ProcessInfo> Descendants(const std::vector<ProcessInfo>& table,
                                     const std::set<pid_t>& roots) {
  std::multimap<pid_t, const ProcessInfo*> children;
  for (const ProcessInfo& info : table) {
    children.emplace(info.ppid, &info);
  }
  std::vector<ProcessInfo> found;
  std::set<pid_t> seen(roots.begin(), roots.end());
  std::vector<pid_t> pending(roots.begin(), roots.end());
  while (!pending.empty()) {
    const pid_t parent = pending.back();
    pending.pop_back();
    auto [begin, end] = children.equal_range(parent);
    for (auto it = begin; it != end; ++it) {
      if (seen.insert(it->second->pid).second) {
        found.push_back(*it->second);
        pending.push_back(it->second->pid);
      }
    }
  }
  return found;
}

bool EnvironContains(pid_t pid, std::string_view entry) {
  std::optional<std::string> environ =
      ReadProcFile("/proc/" + std::to_string(pid) + "/environ", kMaxEnvironBytes);
  if (!environ.has_value()) {
    return false;
  }
  std::string_view rest = *environ;
  while (!rest.empty()) {
    const size_t end = rest.find('\0');
    if (rest.substr(0, end) == entry) {
      return true;
    }
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end + 1);
  }
  return false;
}

}  // namespace svcd::dispatch
